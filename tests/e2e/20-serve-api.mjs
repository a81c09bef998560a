// 20-serve-api.mjs — `gpurun serve` driven by the real clients (ollama-js,
// openai-node) with stories260K: blob upload + create (as `ollama create`),
// tags, show, generate (greedy = llama.cpp's reference text), chat, the
// OpenAI routes, embeddings, ps, copy/delete, Ollama's error statuses and
// messages, keep_alive load/unload, metrics, graceful shutdown.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  clients, done, importModel, getJSON, metrics, modelsDir, need, postJSON, sha256File, startServer, steps, until,
} from './20-serve-lib.js';

const { Ollama, OpenAI } = await clients();

const dir = modelsDir();
const gguf = need(join(dir, 'stories260K-F32.gguf'), 'stories260K-F32.gguf');
const ref = JSON.parse(readFileSync(need(join(dir, 'ref', 'stories260K-F32.gen.json'), 'reference')));
const srv = await startServer({ GPURUN_NUM_PARALLEL: '2' });
const ollama = new Ollama({ host: srv.url });
const openai = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: 'unused', maxRetries: 0 });
const M = 'stories260k';

// The reference runs 64 tokens without stopping at EOS; we stop there.
const c0 = ref.cases.find((c) => c.prompt === 'Once upon a time');
const eos = c0.generated_ids.indexOf(2);
const ids = eos >= 0 ? c0.generated_ids.slice(0, eos) : c0.generated_ids;
const expected = c0.generated_pieces.slice(0, ids.length).join('');
const greedy = { temperature: 0, num_predict: 64 };
let firstContext;

async function rejects(p, status, message) {
  try {
    await p;
  } catch (e) {
    const got = e.status_code ?? e.status;
    assert.equal(got, status, `status of ${e.message}`);
    if (message) assert.equal(e.error?.message ?? e.error ?? e.message, message);
    return e;
  }
  throw new Error(`expected a ${status} error`);
}

const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

await steps([
  ['root, version, HEAD', async () => {
    const r = await fetch(`${srv.url}/`);
    assert.equal(await r.text(), 'Ollama is running');
    assert.equal((await fetch(`${srv.url}/`, { method: 'HEAD' })).status, 200);
    assert.match((await getJSON(srv, '/api/version')).body.version, /^\d+\.\d+\.\d+/);
  }],
  ['blob upload: verify, mismatch, exists', async () => {
    const digest = sha256File(gguf);
    assert.equal((await fetch(`${srv.url}/api/blobs/${digest}`, { method: 'HEAD' })).status, 404);
    const bad = await postJSON(srv, `/api/blobs/sha256:${'0'.repeat(64)}`, 'not the bytes');
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /^digest mismatch, expected "sha256:0{64}", got "sha256:[0-9a-f]{64}"$/);
    assert.equal((await postJSON(srv, '/api/blobs/sha256:xyz', 'x')).body.error, 'invalid digest format');
    const up = await fetch(`${srv.url}/api/blobs/${digest}`, { method: 'POST', body: readFileSync(gguf) });
    assert.equal(up.status, 201);
    assert.equal((await fetch(`${srv.url}/api/blobs/${digest}`, { method: 'HEAD' })).status, 200);
  }],
  ['create (files, streamed) and create (legacy modelfile)', async () => {
    const statuses = [];
    const it = await ollama.create({ model: M, files: { 'stories.gguf': sha256File(gguf) }, stream: true });
    for await (const p of it) statuses.push(p.status);
    assert.deepEqual(statuses.slice(-2), ['writing manifest', 'success']);
    assert.ok(statuses.includes('parsing GGUF'), statuses.join(','));
    const r = await postJSON(srv, '/api/create', {
      model: 'stories-sys', stream: false,
      modelfile: `FROM ${M}\nSYSTEM """Be brief."""\nPARAMETER temperature 0\nPARAMETER stop "."\nPARAMETER stop "!"\n`,
    });
    assert.deepEqual(r.body, { status: 'success' });
    // from a GGUF path on the server, with JSON fields; from a blob digest; quantized
    const fp = await postJSON(srv, '/api/create', { model: 'from-path', from: gguf, stream: false,
      template: '{{ .System }}|{{ .Prompt }}', system: 'Lily', parameters: { num_ctx: 64, stop: ['.'] } });
    assert.deepEqual(fp.body, { status: 'success' });
    const fd = await postJSON(srv, '/api/create', { model: 'from-digest', from: sha256File(gguf), stream: false });
    assert.deepEqual(fd.body, { status: 'success' });
    const q = await postJSON(srv, '/api/create', { model: 'stories-q8', from: M, quantize: 'q8_0', stream: false });
    assert.deepEqual(q.body, { status: 'success' });
    const none = await postJSON(srv, '/api/create', { model: 'y' });
    assert.deepEqual([none.status, none.body.error], [400, "neither 'from' or 'files' was specified"]);
    const bad = await postJSON(srv, '/api/create', { model: 'x', modelfile: 'FROM m\nPARAMETER nope 1' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error, "unknown parameter 'nope'");
  }],
  ['tags', async () => {
    const { models } = await ollama.list();
    const m = models.find((x) => x.name === `${M}:latest`);
    assert.ok(m, JSON.stringify(models));
    assert.equal(m.model, `${M}:latest`);
    assert.match(m.digest, /^[0-9a-f]{64}$/);
    assert.ok(m.size > 1_000_000);
    assert.equal(m.details.format, 'gguf');
    assert.equal(m.details.family, 'llama');
    assert.equal(m.details.quantization_level, 'F32');
    assert.ok(models.some((x) => x.name === 'stories-sys:latest'));
  }],
  ['show', async () => {
    const s = await ollama.show({ model: M });
    assert.equal(s.template, '{{ .Prompt }}');
    assert.equal(s.details.family, 'llama');
    assert.equal(s.model_info['general.architecture'], 'llama');
    assert.equal(s.model_info['llama.context_length'], 128);
    assert.equal(s.model_info['llama.embedding_length'], 64);
    assert.deepEqual(s.model_info['tokenizer.ggml.tokens'], []);
    assert.ok(s.model_info['general.parameter_count'] > 200000);
    assert.ok(s.capabilities.includes('completion'));
    assert.match(s.modelfile, /^# Modelfile generated by "ollama show"/);
    const sys = await ollama.show({ model: 'stories-sys' });
    assert.equal(sys.system, 'Be brief.');
    assert.match(sys.parameters, /^stop +"\."\nstop +"!"\ntemperature +0$/);
    const v = await postJSON(srv, '/api/show', { model: M, verbose: true });
    assert.equal(v.body.model_info['tokenizer.ggml.tokens'].length, 512);
    assert.ok(v.body.tensors.some((t) => t.name === 'token_embd.weight'));
    await rejects(ollama.show({ model: 'nope' }), 404, "model 'nope:latest' not found");
    const fp = await ollama.show({ model: 'from-path' });
    assert.deepEqual([fp.template, fp.system], ['{{ .System }}|{{ .Prompt }}', 'Lily']);
    assert.match(fp.parameters, /^num_ctx +64\nstop +"\."$/);
    assert.equal((await ollama.show({ model: 'stories-q8' })).details.quantization_level, 'Q8_0');
  }],
  ['generate: greedy text = llama.cpp reference', async () => {
    const r = await ollama.generate({ model: M, prompt: c0.prompt, options: greedy });
    assert.equal(r.response, expected);
    assert.equal(r.done, true);
    assert.equal(r.done_reason, eos >= 0 ? 'stop' : 'length');
    assert.deepEqual(r.context, c0.prompt_ids.concat(ids));
    assert.equal(r.prompt_eval_count, c0.prompt_ids.length);
    assert.equal(r.eval_count, ids.length);
    assert.ok(r.total_duration > 0 && r.eval_duration > 0);
    firstContext = r.context;
  }],
  ['generate: streamed', async () => {
    const it = await ollama.generate({ model: M, prompt: c0.prompt, options: greedy, stream: true });
    let text = '';
    let last;
    for await (const p of it) {
      text += p.response;
      last = p;
    }
    assert.equal(text, expected);
    assert.equal(last.done, true);
    assert.equal(last.response, '');
    assert.equal(last.eval_count, ids.length);
    assert.deepEqual(last.context, firstContext);
  }],
  ['generate: stop, seed, raw, context, suffix, unknown options', async () => {
    const cut = expected.indexOf('Lily');
    const s = await ollama.generate({ model: M, prompt: c0.prompt, options: { ...greedy, stop: ['Lily'] } });
    assert.equal(s.response, expected.slice(0, cut));
    assert.equal(s.done_reason, 'stop');
    const opts = { temperature: 1, seed: 42, num_predict: 24 };
    const a = await ollama.generate({ model: M, prompt: 'Tom', options: opts });
    const b = await ollama.generate({ model: M, prompt: 'Tom', options: opts });
    assert.equal(a.response, b.response);
    const raw = await ollama.generate({ model: M, prompt: c0.prompt, raw: true, options: greedy });
    assert.equal(raw.response, expected);
    assert.equal(raw.context, undefined);
    await rejects(ollama.generate({ model: M, prompt: 'x', raw: true, system: 'y' }), 400,
      'raw mode does not support template, system, or context');
    const more = await ollama.generate({ model: M, prompt: ' The end.', context: firstContext,
      options: { temperature: 0, num_predict: 8 } });
    assert.deepEqual(more.context.slice(0, firstContext.length), firstContext);
    // template and system overrides reach the prompt; the model's layers apply
    const plain = await ollama.generate({ model: M, prompt: 'Tom', options: { num_predict: 1 } });
    const tmpl = await ollama.generate({ model: M, prompt: 'Tom', system: 'Lily and', template: '{{ .System }} {{ .Prompt }}',
      options: { num_predict: 1 } });
    assert.ok(tmpl.prompt_eval_count > plain.prompt_eval_count + 1, `${tmpl.prompt_eval_count} vs ${plain.prompt_eval_count}`);
    const layered = await ollama.generate({ model: 'from-path', prompt: 'Tom', options: { temperature: 0, num_predict: 30 } });
    assert.ok(layered.prompt_eval_count > plain.prompt_eval_count, 'the system layer is rendered');
    assert.ok(!layered.response.includes('.'), 'the stop parameter of the model applies');
    const q8 = await ollama.generate({ model: 'stories-q8', prompt: c0.prompt, options: { temperature: 0, num_predict: 8 } });
    assert.equal(q8.eval_count, 8);
    await rejects(ollama.generate({ model: M, prompt: 'a', suffix: 'b' }), 400,
      '"stories260k" does not support insert');
    const odd = await ollama.generate({ model: M, prompt: c0.prompt,
      options: { ...greedy, mirostat: 1, tfs_z: 1, penalize_newline: true, num_gpu: 99 } });
    assert.equal(odd.response, expected);
  }],
  ['chat: single turn = generate, multi-turn, streamed, system layer', async () => {
    const r = await ollama.chat({ model: M, messages: [{ role: 'user', content: c0.prompt }], options: greedy });
    assert.equal(r.message.role, 'assistant');
    assert.equal(r.message.content, expected);
    assert.equal(r.done_reason, eos >= 0 ? 'stop' : 'length');
    assert.equal(r.context, undefined);
    const multi = [
      { role: 'user', content: 'Once upon a time' },
      { role: 'assistant', content: ', there was a cat.' },
      { role: 'user', content: ' The cat' },
    ];
    const it = await ollama.chat({ model: M, messages: multi, options: { temperature: 0, num_predict: 16 }, stream: true });
    let text = '';
    let last;
    for await (const p of it) {
      text += p.message.content;
      last = p;
    }
    assert.ok(text.length > 0);
    assert.equal(last.done, true);
    assert.ok(last.prompt_eval_count > 10);
    // tools reach a template that uses them; a plain answer still streams as content
    const tmpl = '{{ if .Tools }}{{ end }}{{ range .Messages }}{{ .Content }}{{ if .ToolCalls }}<tool_call>{{ end }}{{ end }}';
    assert.deepEqual((await postJSON(srv, '/api/create', { model: 'stories-tools', from: M, template: tmpl, stream: false })).body,
      { status: 'success' });
    const tools = [{ type: 'function', function: { name: 'get_weather', description: 'Weather in a city',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];
    assert.ok((await ollama.show({ model: 'stories-tools' })).capabilities.includes('tools'));
    let toolText = '';
    const tit = await ollama.chat({ model: 'stories-tools', messages: [{ role: 'user', content: c0.prompt }], tools, options: greedy, stream: true });
    for await (const p of tit) toolText += p.message.content;
    assert.equal(toolText, expected);
    const oc = await openai.chat.completions.create({ model: 'stories-tools', messages: [{ role: 'user', content: c0.prompt }],
      tools, temperature: 0, max_tokens: 64 });
    assert.equal(oc.choices[0].message.content, expected);
    assert.equal(oc.choices[0].finish_reason, eos >= 0 ? 'stop' : 'length');
    await rejects(ollama.chat({ model: M, messages: [{ role: 'user', content: 'x' }], tools }), 400,
      'registry.ollama.ai/library/stories260k:latest does not support tools');
    const sys = await ollama.chat({ model: 'stories-sys', messages: [{ role: 'user', content: 'Hi' }] });
    assert.equal(sys.done, true);
    assert.ok(!sys.message.content.includes('.'), 'the stop parameter of the model applies');
  }],
  ['openai: chat completions, plain and streamed with usage', async () => {
    const msgs = [{ role: 'user', content: c0.prompt }];
    const r = await openai.chat.completions.create({ model: M, messages: msgs, temperature: 0, max_tokens: 64 });
    assert.equal(r.object, 'chat.completion');
    assert.match(r.id, /^chatcmpl-[0-9a-f]+$/);
    assert.equal(r.choices[0].message.content, expected);
    assert.equal(r.choices[0].finish_reason, eos >= 0 ? 'stop' : 'length');
    assert.deepEqual(r.usage, { prompt_tokens: 5, completion_tokens: ids.length, total_tokens: 5 + ids.length });
    const s = await openai.chat.completions.create({ model: M, messages: msgs, temperature: 0, max_tokens: 64,
      stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage;
    let finish;
    const seen = new Set();
    for await (const ch of s) {
      seen.add(ch.id);
      if (ch.usage) usage = ch.usage;
      for (const c of ch.choices) {
        text += c.delta.content ?? '';
        if (c.finish_reason) finish = c.finish_reason;
      }
    }
    assert.equal(text, expected);
    assert.equal(finish, eos >= 0 ? 'stop' : 'length');
    assert.equal(usage.completion_tokens, ids.length);
    assert.equal(seen.size, 1);
    assert.ok(!seen.has(r.id), 'ids are unique');
  }],
  ['openai: completions, plain and streamed', async () => {
    const r = await openai.completions.create({ model: M, prompt: c0.prompt, temperature: 0, max_tokens: 64 });
    assert.equal(r.object, 'text_completion');
    assert.match(r.id, /^cmpl-/);
    assert.equal(r.choices[0].text, expected);
    const s = await openai.completions.create({ model: M, prompt: c0.prompt, temperature: 0, max_tokens: 64, stream: true });
    let text = '';
    for await (const ch of s) text += ch.choices[0]?.text ?? '';
    assert.equal(text, expected);
  }],
  ['openai: models, errors', async () => {
    const list = await openai.models.list();
    assert.ok(list.data.some((m) => m.id === `${M}:latest` && m.object === 'model' && m.owned_by === 'library'));
    assert.equal((await openai.models.retrieve(`${M}:latest`)).id, `${M}:latest`);
    const nf = await rejects(openai.models.retrieve('nope'), 404);
    assert.ok(nf instanceof OpenAI.NotFoundError);
    const e = await rejects(openai.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }), 404);
    assert.equal(e.error.message, "model 'nope' not found");
    assert.equal(e.error.type, 'not_found_error');
    await rejects(openai.chat.completions.create({ model: M, messages: [] }), 400);
  }],
  ['embeddings: /api/embed, /api/embeddings, /v1/embeddings', async () => {
    const r = await ollama.embed({ model: M, input: ['Once upon a time', 'Lily'] });
    assert.equal(r.embeddings.length, 2);
    for (const v of r.embeddings) {
      assert.equal(v.length, 64);
      assert.ok(Math.abs(norm(v) - 1) < 1e-4);
    }
    assert.ok(r.prompt_eval_count > 5);
    const d = await ollama.embed({ model: M, input: 'Lily', dimensions: 16 });
    assert.equal(d.embeddings[0].length, 16);
    assert.ok(Math.abs(norm(d.embeddings[0]) - 1) < 1e-4);
    const empty = await ollama.embed({ model: M, input: [] });
    assert.deepEqual(empty.embeddings, []);
    const legacy = await ollama.embeddings({ model: M, prompt: 'Lily' });
    assert.equal(legacy.embedding.length, 64);
    assert.ok(Math.abs(legacy.embedding[0] - r.embeddings[1][0]) < 1e-6);
    const o = await openai.embeddings.create({ model: M, input: 'Lily' });
    assert.equal(o.data[0].embedding.length, 64);
    assert.equal(o.usage.prompt_tokens, o.usage.total_tokens);
    const b64 = await postJSON(srv, '/v1/embeddings', { model: M, input: 'Lily', encoding_format: 'base64' });
    const f = new Float32Array(Uint8Array.from(Buffer.from(b64.body.data[0].embedding, 'base64')).buffer);
    assert.equal(f.length, 64);
    assert.ok(Math.abs(f[3] - o.data[0].embedding[3]) < 1e-6);
    await rejects(ollama.embed({ model: 'nope', input: 'x' }), 404, 'model "nope" not found, try pulling it first');
  }],
  ['ps', async () => {
    const { models } = await ollama.ps();
    const m = models.find((x) => x.name === `${M}:latest`);
    assert.ok(m, JSON.stringify(models));
    assert.equal(m.size_vram, 0);
    assert.equal(m.context_length, 128);
    assert.ok(new Date(m.expires_at) > new Date(), m.expires_at);
    assert.equal(m.details.family, 'llama');
  }],
  ['copy and delete', async () => {
    await ollama.copy({ source: M, destination: 'copy1' });
    assert.ok((await ollama.list()).models.some((x) => x.name === 'copy1:latest'));
    await ollama.delete({ model: 'copy1' });
    assert.ok(!(await ollama.list()).models.some((x) => x.name === 'copy1:latest'));
    await rejects(ollama.delete({ model: 'nope' }), 404, "model 'nope' not found");
    await rejects(ollama.copy({ source: 'nope', destination: 'x' }), 404, 'model "nope" not found');
    const g = await ollama.generate({ model: M, prompt: c0.prompt, options: greedy });
    assert.equal(g.response, expected, 'the original survives its copy being deleted');
  }],
  ['errors: 404, bad JSON, empty body, bad fields, 405', async () => {
    await rejects(ollama.generate({ model: 'nope', prompt: 'x' }), 404, "model 'nope' not found");
    await rejects(ollama.chat({ model: 'nope', messages: [] }), 404, "model 'nope' not found");
    const bad = await postJSON(srv, '/api/generate', '{"model": "stories260k", ');
    assert.equal(bad.status, 400);
    assert.ok(typeof bad.body.error === 'string' && bad.body.error.length > 0);
    assert.deepEqual((await postJSON(srv, '/api/chat', '')).body, { error: 'missing request body' });
    const ka = await postJSON(srv, '/api/generate', { model: M, prompt: 'x', keep_alive: '300' });
    assert.equal(ka.status, 400);
    assert.equal(ka.body.error, 'time: missing unit in duration "300"');
    const name = await postJSON(srv, '/api/generate', { model: 'a b', prompt: 'x' });
    assert.deepEqual([name.status, name.body.error], [400, 'invalid model name']);
    const typ = await postJSON(srv, '/api/generate', { model: M, prompt: 'x', options: { temperature: 'hot' } });
    assert.deepEqual([typ.status, typ.body.error], [500, 'option "temperature" must be of type float32']);
    const prm = await postJSON(srv, '/api/generate', { model: M, prompt: 5 });
    assert.equal(prm.status, 400);
    assert.equal((await getJSON(srv, '/api/generate')).status, 405);
    assert.equal((await getJSON(srv, '/api/nothing')).status, 404);
  }],
  ['CORS: local origins allowed, others not', async () => {
    const pre = await fetch(`${srv.url}/api/chat`, { method: 'OPTIONS',
      headers: { Origin: 'http://localhost:3000', 'Access-Control-Request-Method': 'POST' } });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), 'http://localhost:3000');
    assert.match(pre.headers.get('access-control-allow-headers'), /Authorization/);
    const evil = await fetch(`${srv.url}/api/tags`, { headers: { Origin: 'https://evil.example' } });
    assert.equal(evil.headers.get('access-control-allow-origin'), null);
    const evilPre = await fetch(`${srv.url}/api/chat`, { method: 'OPTIONS', headers: { Origin: 'https://evil.example' } });
    assert.equal(evilPre.status, 403);
  }],
  ['keep_alive: 0 unloads, empty prompt loads, then unloads', async () => {
    const q8 = await ollama.generate({ model: 'stories-q8', prompt: '', keep_alive: 0 });
    assert.equal(q8.done_reason, 'unload');
    const r = await ollama.generate({ model: M, prompt: c0.prompt, options: { temperature: 0, num_predict: 4 }, keep_alive: 0 });
    assert.equal(r.done, true);
    await until(async () => (await ollama.ps()).models.length === 0, 3000, 'ps to be empty');
    const load = await ollama.generate({ model: M, prompt: '' });
    assert.deepEqual([load.done, load.done_reason, load.response], [true, 'load', '']);
    assert.equal((await ollama.ps()).models.length, 1);
    const chatLoad = await ollama.chat({ model: M, messages: [] });
    assert.equal(chatLoad.done_reason, 'load');
    const un = await ollama.generate({ model: M, prompt: '', keep_alive: 0 });
    assert.equal(un.done_reason, 'unload');
    await until(async () => (await ollama.ps()).models.length === 0, 3000, 'the unload');
    const fe = await ollama.generate({ model: M, prompt: '', keep_alive: '1h' });
    assert.equal(fe.done_reason, 'load');
    const ps = (await ollama.ps()).models[0];
    assert.ok(new Date(ps.expires_at) - Date.now() > 50 * 60 * 1000, ps.expires_at);
  }],
  ['metrics count what happened', async () => {
    const m = await metrics(srv);
    assert.ok(m['gpurun_http_requests_total{route="/api/generate",code="200"}'] >= 10);
    assert.ok(m['gpurun_http_requests_total{route="/api/generate",code="404"}'] >= 1);
    assert.ok(m['gpurun_http_requests_total{route="/v1/chat/completions",code="200"}'] >= 2);
    assert.ok(m[`gpurun_generated_tokens_total{model="${M}:latest"}`] >= 64 * 6);
    assert.ok(m[`gpurun_prompt_tokens_total{model="${M}:latest"}`] >= 5 * 6);
    assert.ok(m.gpurun_time_to_first_token_seconds_count >= 6);
    assert.ok(m.gpurun_tokens_per_second_count >= 6);
    assert.equal(m.gpurun_models_loaded, 1);
    assert.equal(m.gpurun_queue_depth, 0);
    assert.ok(m.gpurun_model_unloads_total >= 2);
  }],
  ['graceful shutdown', async () => {
    assert.equal(await srv.stop(), 0);
  }],
], [srv]);
done();
