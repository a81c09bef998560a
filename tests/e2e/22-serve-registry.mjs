// 22-serve-registry.mjs — the walk-through's offline form: Debian's
// docker-registry on a free loopback port; `gpurun serve` pushes stories260K
// to it through /api/push (insecure), deletes it, pulls it back through
// /api/pull (ollama-js, and a plain curl-style fetch as in the README), with
// Ollama's progress statuses, then generates with the pulled model.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  clients, done, importModel, modelsDir, need, postJSON, sha256File, startRegistry, startServer, steps,
} from './20-serve-lib.js';

const { Ollama, OpenAI } = await clients();

const dir = modelsDir();
const gguf = need(join(dir, 'stories260K-F32.gguf'), 'stories260K-F32.gguf');
const ref = JSON.parse(readFileSync(need(join(dir, 'ref', 'stories260K-F32.gen.json'), 'reference')));
const reg = await startRegistry();
const srv = await startServer();
const ollama = new Ollama({ host: srv.url });
const remote = `127.0.0.1:${reg.port}/library/stories260k`;
const c0 = ref.cases.find((c) => c.prompt === 'Once upon a time');
const eos = c0.generated_ids.indexOf(2);
const expected = c0.generated_pieces.slice(0, eos >= 0 ? eos : 64).join('');

await steps([
  ['import and push (insecure) to docker-registry', async () => {
    await importModel(srv, gguf, 'stories260k');
    await ollama.copy({ source: 'stories260k', destination: remote });
    const statuses = [];
    const it = await ollama.push({ model: remote, insecure: true, stream: true });
    for await (const p of it) statuses.push(p);
    assert.equal(statuses[0].status, 'retrieving manifest');
    const layer = statuses.find((p) => p.digest === sha256File(gguf));
    assert.ok(layer, JSON.stringify(statuses));
    assert.match(layer.status, /^pushing [0-9a-f]{12}$/);
    assert.deepEqual(statuses.slice(-2).map((p) => p.status), ['pushing manifest', 'success']);
  }],
  ['delete every local copy', async () => {
    await ollama.delete({ model: remote });
    await ollama.delete({ model: 'stories260k' });
    assert.deepEqual((await ollama.list()).models, []);
    const head = await fetch(`${srv.url}/api/blobs/${sha256File(gguf)}`, { method: 'HEAD' });
    assert.equal(head.status, 404, 'the blob went with the last manifest');
  }],
  ['pull it back (ollama-js, streamed progress)', async () => {
    const seen = [];
    const it = await ollama.pull({ model: remote, insecure: true, stream: true });
    for await (const p of it) seen.push(p);
    assert.equal(seen[0].status, 'pulling manifest');
    const layer = seen.filter((p) => p.digest === sha256File(gguf));
    assert.ok(layer.length >= 1);
    assert.equal(layer.at(-1).completed, layer.at(-1).total);
    assert.equal(layer.at(-1).status, `pulling ${sha256File(gguf).slice(7, 19)}`);
    const tail = seen.map((p) => p.status).filter((s) => !s.startsWith('pulling '));
    assert.deepEqual(tail, ['verifying sha256 digest', 'writing manifest', 'success']);
    assert.ok((await ollama.list()).models.some((m) => m.name === `${remote}:latest`));
  }],
  ['generate with the pulled model: the reference text', async () => {
    const r = await ollama.generate({ model: remote, prompt: c0.prompt, options: { temperature: 0, num_predict: 64 } });
    assert.equal(r.response, expected);
  }],
  ['the README\'s curl calls: /api/pull then /api/generate (streams by default)', async () => {
    const pull = await fetch(`${srv.url}/api/pull`, { method: 'POST', body: JSON.stringify({ name: remote, insecure: true }) });
    assert.equal(pull.headers.get('content-type'), 'application/x-ndjson');
    const lines = (await pull.text()).trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines[0], { status: 'pulling manifest' });
    assert.deepEqual(lines.at(-1), { status: 'success' });
    const gen = await fetch(`${srv.url}/api/generate`, { method: 'POST',
      body: JSON.stringify({ model: remote, prompt: 'Hello, how are you?' }) });
    const out = (await gen.text()).trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(out.length >= 2);
    assert.equal(out.at(-1).done, true);
    assert.ok(out.slice(0, -1).every((l) => l.done === false && typeof l.response === 'string'));
  }],
  ['pull errors: unknown model (stream and not)', async () => {
    const missing = `127.0.0.1:${reg.port}/library/nothing`;
    await assert.rejects(async () => {
      const it = await ollama.pull({ model: missing, insecure: true, stream: true });
      for await (const p of it) void p;
    }, /pull model manifest: file does not exist/);
    const r = await postJSON(srv, '/api/pull', { model: missing, insecure: true, stream: false });
    assert.equal(r.status, 500);
    assert.equal(r.body.error, 'pull model manifest: file does not exist');
  }],
  ['create FROM a model that is not local pulls it first (as Ollama)', async () => {
    await ollama.delete({ model: remote });
    const res = await fetch(`${srv.url}/api/create`, { method: 'POST',
      body: JSON.stringify({ model: 'teller', from: remote, insecure: true, system: 'Tell a story.' }) });
    const lines = (await res.text()).trim().split('\n').map((l) => JSON.parse(l));
    const st = lines.map((l) => l.status);
    assert.equal(st[0], 'pulling model', JSON.stringify(lines));
    assert.equal(st[1], 'pulling manifest');
    assert.ok(st.includes('verifying sha256 digest') && st.includes('writing manifest'));
    assert.equal(st.at(-1), 'success');
    const names = (await ollama.list()).models.map((m) => m.name);
    assert.ok(names.includes('teller:latest') && names.includes(`${remote}:latest`), names.join());
    assert.equal((await ollama.show({ model: 'teller' })).system, 'Tell a story.');
    const r = await ollama.generate({ model: 'teller', prompt: c0.prompt, raw: true, options: { temperature: 0, num_predict: 64 } });
    assert.equal(r.response, expected);
    const bad = await postJSON(srv, '/api/create', { model: 'x', from: `127.0.0.1:${reg.port}/library/nothing`, insecure: true, stream: false });
    assert.equal(bad.status, 404);
    assert.match(bad.body.error, /^model '127\.0\.0\.1:\d+\/library\/nothing' not found$/);
  }],
  ['shutdown', async () => { assert.equal(await srv.stop(), 0); }],
], [srv, reg]);
done();
