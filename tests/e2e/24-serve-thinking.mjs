// 24-serve-thinking.mjs — thinking models: a model whose template uses
// .Think (here stories260K with a template that opens "<think>" when
// thinking is on, as deepseek-r1's does) is listed with the "thinking"
// capability; think is on by default and the answer goes to `thinking`
// (generate), `message.thinking` (chat) and `reasoning` (OpenAI), streamed
// as thinking chunks; think false renders without the tag and answers as
// content; a model without .Think refuses think; bad values are 400.
import assert from 'node:assert/strict';
import { done, importModel, postJSON, steps, storiesServer } from './20-serve-lib.js';

const { gguf, srv, ollama, openai } = await storiesServer();
const T = 'thinker';
const P = 'Once upon a time';
const opts = { temperature: 0, num_predict: 20 };
// what the model says after the prompt, raw: with and without the opened tag
const raw = async (prompt) => (await ollama.generate({ model: 'plain', prompt, raw: true, options: opts })).response;

await steps([
  ['import: plain, and a thinker whose template uses .Think', async () => {
    await importModel(srv, gguf, 'plain');
    await importModel(srv, gguf, T, { template: '{{ .Prompt }}{{ if .Think }}<think>{{ end }}' });
    assert.ok((await ollama.show({ model: T })).capabilities.includes('thinking'));
    assert.ok(!(await ollama.show({ model: 'plain' })).capabilities.includes('thinking'));
  }],
  ['generate: thinking on by default, the answer in `thinking`', async () => {
    const want = await raw(`${P}<think>`);
    const r = await ollama.generate({ model: T, prompt: P, options: opts });
    assert.equal(r.response, '');
    assert.equal(r.thinking, want);
    const off = await ollama.generate({ model: T, prompt: P, think: false, options: opts });
    assert.equal(off.response, await raw(P));
    assert.equal(off.thinking, undefined);
    const lvl = await ollama.generate({ model: T, prompt: P, think: 'high', options: opts });
    assert.equal(lvl.thinking, want);
  }],
  ['streamed: thinking chunks join to the whole thinking', async () => {
    const want = await raw(`${P}<think>`);
    let th = '', resp = '';
    for await (const c of await ollama.generate({ model: T, prompt: P, stream: true, options: opts })) {
      th += c.thinking ?? '';
      resp += c.response;
    }
    assert.equal(th, want);
    assert.equal(resp, '');
  }],
  ['chat: message.thinking; OpenAI: reasoning, and reasoning_effort none', async () => {
    const msgs = [{ role: 'user', content: P }];
    const want = await raw(`${P}<think>`);
    const c = await ollama.chat({ model: T, messages: msgs, options: opts });
    assert.equal(c.message.thinking, want);
    assert.equal(c.message.content, '');
    const o = await openai.chat.completions.create({ model: T, messages: msgs, temperature: 0, max_tokens: 20 });
    assert.equal(o.choices[0].message.reasoning, want);
    const n = await openai.chat.completions.create({ model: T, messages: msgs, temperature: 0, max_tokens: 20, reasoning_effort: 'none' });
    assert.equal(n.choices[0].message.content, await raw(P));
    assert.equal(n.choices[0].message.reasoning, undefined);
    let r = '';
    const s = await openai.chat.completions.create({ model: T, messages: msgs, temperature: 0, max_tokens: 20, stream: true });
    for await (const ch of s) r += ch.choices[0]?.delta?.reasoning ?? '';
    assert.equal(r, want);
  }],
  ['refusals: no thinking capability, bad values', async () => {
    const a = await postJSON(srv, '/api/generate', { model: 'plain', prompt: P, think: true });
    assert.equal(a.status, 400);
    assert.equal(a.body.error, '"plain" does not support thinking');
    assert.equal((await postJSON(srv, '/api/generate', { model: 'plain', prompt: P, think: false, stream: false })).status, 200);
    const b = await postJSON(srv, '/api/chat', { model: T, messages: [{ role: 'user', content: P }], think: 'extreme' });
    assert.equal(b.status, 400);
    assert.equal(b.body.error, 'invalid think value: "extreme"');
  }],
  ['shutdown (exit 0: no leak under make check)', async () => { assert.equal(await srv.stop(), 0); }],
], [srv]);
done();
