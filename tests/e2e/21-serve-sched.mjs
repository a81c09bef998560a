// 21-serve-sched.mjs — the scheduler of `gpurun serve`: two sequences of one
// model batched (same greedy text as alone), a client that disconnects
// cancels its generation at once, the queue's 503, num_ctx changes without a
// reload, max_loaded_models eviction, keep-alive expiry, KV prefix reuse
// between chat turns; then the API key (401/200) and the PORT variable.
// A random-weight model made with `gpurun synth` is slow enough to abort.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import {
  clients, done, freePort, getJSON, importModel, metrics, modelsDir, need, postJSON, sleep, startServer, steps,
  tempDir, until,
} from './20-serve-lib.js';

const { Ollama, OpenAI } = await clients();

const stories = need(join(modelsDir(), 'stories260K-F32.gguf'), 'stories260K-F32.gguf');
need(process.env.GPURUN_BIN ?? '', 'GPURUN_BIN');
const synth = join(tempDir('synth'), 'synth.gguf');
const made = spawnSync(process.env.GPURUN_BIN, ['synth', '--dim', '512', '--layers', '8', '--heads', '8',
  '--kv-heads', '4', '--ffn', '1408', '--ctx', '4096', '--type', 'Q4_0', '--vocab', stories, synth],
{ encoding: 'utf8' });
assert.equal(made.status, 0, made.stderr);

const srv = await startServer({
  GPURUN_NUM_PARALLEL: '2', GPURUN_MAX_QUEUE: '1', GPURUN_MAX_LOADED_MODELS: '1',
});
const ollama = new Ollama({ host: srv.url });
const S = 'synth';
const P = 'Once upon a time';

// A streamed generate read with fetch: resolves once `n` lines arrived.
function openStream(body, n = 3) {
  const ac = new AbortController();
  const lines = [];
  let gotN;
  const ready = new Promise((r) => { gotN = r; });
  const done = (async () => {
    const r = await fetch(`${srv.url}/api/generate`, { method: 'POST', body: JSON.stringify(body), signal: ac.signal });
    if (r.status !== 200) {
      gotN({ status: r.status, body: await r.json() });
      return;
    }
    const dec = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of r.body) {
        buf += dec.decode(chunk, { stream: true });
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          lines.push(JSON.parse(buf.slice(0, i)));
          buf = buf.slice(i + 1);
          if (lines.length === n) gotN({ status: 200 });
        }
      }
    } catch (e) {
      if (e.name !== 'AbortError') throw e;
    }
    gotN({ status: 200 });
  })().catch((e) => { if (e.name !== 'AbortError') throw e; });
  return { ac, lines, ready, done };
}

const long = { model: S, prompt: P, options: { temperature: 0, num_predict: 3000 } };

await steps([
  ['import stories260K and a synth model', async () => {
    await importModel(srv, stories, 'stories');
    await importModel(srv, synth, S);
  }],
  ['two sequences at once: batched, same greedy text as alone', async () => {
    const req = { model: S, prompt: P, options: { temperature: 0, num_predict: 40 } };
    const solo = await ollama.generate(req);
    const [a, b] = await Promise.all([ollama.generate(req), ollama.generate({ ...req })]);
    assert.equal(a.response, solo.response);
    assert.equal(b.response, solo.response);
    assert.equal(a.eval_count, 40);
    const m = await metrics(srv);
    assert.equal(m.gpurun_model_loads_total, 1);
  }],
  ['a client that disconnects cancels its generation at once', async () => {
    const s = openStream(long, 5);
    await s.ready;
    const t0 = Date.now();
    s.ac.abort();
    await until(async () => (await metrics(srv)).gpurun_running_sequences === 0, 2000, 'the slot to be free');
    const freed = Date.now() - t0;
    assert.ok(freed < 1500, `freed after ${freed} ms`);
    await until(async () => (await metrics(srv))['gpurun_http_requests_total{route="/api/generate",code="499"}'] === 1,
      2000, 'the 499 to be counted');
    const after = await ollama.generate({ model: S, prompt: P, options: { temperature: 0, num_predict: 4 } });
    assert.equal(after.eval_count, 4);
  }],
  ['queue full: 503 with Ollama\'s message; a queued request runs when a slot frees', async () => {
    const a = openStream(long);
    const b = openStream(long);
    await Promise.all([a.ready, b.ready]);
    const c = openStream(long, 1);
    await until(async () => (await metrics(srv)).gpurun_queue_depth === 1, 3000, 'one queued');
    const d = await postJSON(srv, '/api/generate', { ...long, stream: false });
    assert.equal(d.status, 503);
    assert.equal(d.body.error, 'server busy, please try again.  maximum pending requests exceeded');
    assert.equal(c.lines.length, 0);
    a.ac.abort();
    await c.ready;
    assert.ok(c.lines.length >= 1, 'the queued request streams once a slot is free'); // more may be in by now
    b.ac.abort();
    c.ac.abort();
    await until(async () => (await metrics(srv)).gpurun_running_sequences === 0, 3000, 'all slots free');
  }],
  ['num_ctx changes reallocate a slot, never reload the model', async () => {
    const before = (await metrics(srv)).gpurun_model_loads_total;
    for (const num_ctx of [256, 64, 1024]) {
      const r = await ollama.generate({ model: S, prompt: P, options: { temperature: 0, num_predict: 4, num_ctx } });
      assert.equal(r.eval_count, 4);
    }
    const tiny = await ollama.generate({ model: S, prompt: P, shift: false, options: { temperature: 0, num_predict: 100, num_ctx: 16 } });
    assert.equal(tiny.done_reason, 'length');
    assert.ok(tiny.prompt_eval_count + tiny.eval_count <= 17); // the last token needs no KV
    // Ollama's default: a full context drops old tokens and the answer goes on
    const shifted = await ollama.generate({ model: S, prompt: P, options: { temperature: 0, num_predict: 100, num_ctx: 16 } });
    assert.equal(shifted.eval_count, 100);
    assert.equal(shifted.done_reason, 'length');
    assert.ok(shifted.response.startsWith(tiny.response.slice(0, 8)), 'the same text until the first shift');
    assert.equal((await metrics(srv)).gpurun_model_loads_total, before);
  }],
  ['chat turns reuse the slot\'s KV cache prefix', async () => {
    const m0 = (await metrics(srv))[`gpurun_prompt_cached_tokens_total{model="${S}:latest"}`] ?? 0;
    const turn1 = [{ role: 'user', content: 'Tom and his mom went to the park. They saw a big dog.' }];
    const r1 = await ollama.chat({ model: S, messages: turn1, options: { temperature: 0, num_predict: 8 } });
    const turn2 = [...turn1, r1.message, { role: 'user', content: ' Then it rained.' }];
    const r2 = await ollama.chat({ model: S, messages: turn2, options: { temperature: 0, num_predict: 8 } });
    const cached = (await metrics(srv))[`gpurun_prompt_cached_tokens_total{model="${S}:latest"}`] - m0;
    assert.ok(cached >= r1.prompt_eval_count - 2, `cached ${cached} of turn 1's ${r1.prompt_eval_count}`);
    assert.ok(r2.prompt_eval_count > r1.prompt_eval_count);
  }],
  ['max_loaded_models 1: the idle model is evicted for another', async () => {
    const m0 = await metrics(srv);
    await ollama.generate({ model: 'stories', prompt: P, options: { num_predict: 2 } });
    const names = (await ollama.ps()).models.map((m) => m.name);
    assert.deepEqual(names, ['stories:latest']);
    const m1 = await metrics(srv);
    assert.equal(m1.gpurun_model_loads_total, m0.gpurun_model_loads_total + 1);
    assert.equal(m1.gpurun_model_unloads_total, m0.gpurun_model_unloads_total + 1);
  }],
  ['keep_alive expiry unloads an idle model', async () => {
    await ollama.generate({ model: 'stories', prompt: P, options: { num_predict: 2 }, keep_alive: '1s' });
    assert.equal((await ollama.ps()).models.length, 1);
    await until(async () => (await ollama.ps()).models.length === 0, 4000, 'the expiry');
    await ollama.generate({ model: 'stories', prompt: '', keep_alive: 0.5 });
    await until(async () => (await ollama.ps()).models.length === 0, 4000, 'the expiry (number)');
  }],
  ['GET /readyz: ready, and per model only while it is loaded', async () => {
    const get = async (q) => {
      const r = await fetch(`${srv.url}/readyz${q}`);
      return { status: r.status, body: await r.json() };
    };
    const all = await get('');
    assert.equal(all.status, 200);
    assert.equal(all.body.status, 'ready');
    assert.equal(all.body.loaded, 0);
    const cold = await get('?model=stories');
    assert.equal(cold.status, 503);
    assert.equal(cold.body.error, 'model "stories:latest" is not loaded');
    assert.equal((await ollama.ps()).models.length, 0, '/readyz must not load the model');
    await ollama.generate({ model: 'stories', prompt: '', keep_alive: '1m' });
    const warm = await get('?model=STORIES:latest');
    assert.equal(warm.status, 200);
    assert.equal(warm.body.model, 'stories:latest');
    assert.equal(warm.body.loaded, 1);
    assert.equal((await get('?model=')).status, 400);
    assert.equal((await get('?model=a%20b')).status, 400);
  }],
  ['shutdown', async () => { assert.equal(await srv.stop(), 0); }],
], [srv]);

// ---- API key and PORT ----
const port = await freePort();
const keyed = await startServer({ GPURUN_API_KEY: 'sekret', GPURUN_HOST: '127.0.0.1:1', PORT: String(port) });
await steps([
  ['PORT overrides the host\'s port', async () => {
    // GPURUN_HOST says port 1; the server answers on PORT.
    const r = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(r.status, 200);
    assert.match(keyed.log(), new RegExp(`listening on http://127\\.0\\.0\\.1:${port} `));
  }],
  ['API key: GET / open, the rest 401 without it', async () => {
    const base = `http://127.0.0.1:${port}`;
    assert.equal((await fetch(`${base}/`)).status, 200);
    const no = await fetch(`${base}/api/tags`);
    assert.equal(no.status, 401);
    assert.match((await no.json()).error, /^unauthorized/);
    assert.equal((await fetch(`${base}/api/tags`, { headers: { Authorization: 'Bearer nope' } })).status, 401);
    assert.equal((await fetch(`${base}/metrics`)).status, 401);
    assert.equal((await fetch(`${base}/readyz`)).status, 200, 'probes need no key');
    assert.equal((await fetch(`${base}/api/tags`, { headers: { 'x-api-key': 'sekret' } })).status, 200, 'x-api-key as Anthropic clients send it');
    assert.equal((await fetch(`${base}/api/tags`, { headers: { 'x-api-key': 'nope' } })).status, 401);
    const ok = await fetch(`${base}/api/tags`, { headers: { Authorization: 'Bearer sekret' } });
    assert.equal(ok.status, 200);
    const ol = new Ollama({ host: base, headers: { Authorization: 'Bearer sekret' } });
    assert.deepEqual((await ol.list()).models, []);
    const good = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'sekret', maxRetries: 0 });
    assert.deepEqual((await good.models.list()).data, []);
    const bad = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'wrong', maxRetries: 0 });
    await assert.rejects(bad.models.list(), (e) => e instanceof OpenAI.AuthenticationError);
  }],
  ['shutdown', async () => { assert.equal(await keyed.stop(), 0); }],
], [keyed]);
done();
