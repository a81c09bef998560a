// 24-serve-anthropic.mjs — POST /v1/messages (Anthropic's Messages API, as
// Ollama serves it), driven over fetch the way the Anthropic SDKs call it
// (x-api-key and anthropic-version headers, no SDK installed here): the
// same greedy text as /v1/chat/completions for the same conversation and
// system prompt; stop_reason end_turn / max_tokens / stop_sequence with the
// sequence that matched; the streamed events in Anthropic's order whose
// text deltas join to the whole answer; errors in Anthropic's error object.
import assert from 'node:assert/strict';
import { done, importModel, steps, storiesServer } from './20-serve-lib.js';

const { gguf, srv, openai } = await storiesServer();
const M = 'stories';
const headers = { 'content-type': 'application/json', 'x-api-key': 'unused', 'anthropic-version': '2023-06-01' };
const post = async (body) => {
  const r = await fetch(`${srv.url}/v1/messages`, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: r.status, type: r.headers.get('content-type'), text: await r.text() };
};
const sse = (text) => text.split('\n\n').filter((b) => b.trim()).map((b) => {
  const ev = /^event: (.*)$/m.exec(b)[1];
  const data = JSON.parse(/^data: (.*)$/m.exec(b)[1]);
  assert.equal(data.type, ev, 'the data names its event');
  return data;
});
const conv = [{ role: 'user', content: 'Tom had a dog.' }, { role: 'assistant', content: 'The dog was big.' },
  { role: 'user', content: [{ type: 'text', text: 'Then' }, { type: 'text', text: '?' }] }];

await steps([
  ['import the model', async () => { await importModel(srv, gguf, M); }],
  ['a conversation with a system prompt: the chat endpoint\'s text, Anthropic\'s message', async () => {
    const chat = await openai.chat.completions.create({ model: M, temperature: 0, max_tokens: 20,
      messages: [{ role: 'system', content: 'Be kind.' }, ...conv.slice(0, 2), { role: 'user', content: 'Then?' }] });
    const r = await post({ model: M, max_tokens: 20, temperature: 0, system: [{ type: 'text', text: 'Be kind.' }], messages: conv });
    assert.equal(r.status, 200);
    const m = JSON.parse(r.text);
    assert.match(m.id, /^msg_[0-9a-f]{16}$/);
    assert.equal(m.type, 'message');
    assert.equal(m.role, 'assistant');
    assert.equal(m.model, M);
    assert.deepEqual(m.content, [{ type: 'text', text: chat.choices[0].message.content }]);
    assert.equal(m.usage.output_tokens, chat.usage.completion_tokens);
    assert.equal(m.usage.input_tokens, chat.usage.prompt_tokens);
    assert.equal(m.stop_reason, m.usage.output_tokens === 20 ? 'max_tokens' : 'end_turn');
    assert.equal(m.stop_sequence, null);
  }],
  ['stop_sequences: stop_reason stop_sequence names the one that matched', async () => {
    const free = JSON.parse((await post({ model: M, max_tokens: 40, temperature: 0, messages: [{ role: 'user', content: 'Once upon a time' }] })).text);
    const word = free.content[0].text.trim().split(/\s+/)[3];
    assert.ok(word, free.content[0].text);
    const r = JSON.parse((await post({ model: M, max_tokens: 40, temperature: 0, stop_sequences: ['zzqx', word],
      messages: [{ role: 'user', content: 'Once upon a time' }] })).text);
    assert.equal(r.stop_reason, 'stop_sequence');
    assert.equal(r.stop_sequence, word);
    assert.ok(!r.content[0].text.includes(word), 'the stop sequence is not in the text');
    const cut = JSON.parse((await post({ model: M, max_tokens: 2, temperature: 0, messages: [{ role: 'user', content: 'Hi' }] })).text);
    assert.equal(cut.stop_reason, 'max_tokens');
    assert.equal(cut.usage.output_tokens, 2);
  }],
  ['streamed: Anthropic\'s events in order; the deltas join to the whole text', async () => {
    const body = { model: M, max_tokens: 30, temperature: 0, messages: conv };
    const whole = JSON.parse((await post(body)).text);
    const r = await post({ ...body, stream: true });
    assert.equal(r.type, 'text/event-stream');
    const evs = sse(r.text);
    const types = evs.map((e) => e.type);
    assert.deepEqual(types.slice(0, 3), ['message_start', 'content_block_start', 'ping']);
    assert.deepEqual(types.slice(-3), ['content_block_stop', 'message_delta', 'message_stop']);
    assert.ok(types.slice(3, -3).every((t) => t === 'content_block_delta'));
    assert.equal(evs[0].message.id.slice(0, 4), 'msg_');
    assert.deepEqual(evs[0].message.content, []);
    const text = evs.filter((e) => e.type === 'content_block_delta').map((e) => e.delta.text).join('');
    assert.equal(text, whole.content[0].text);
    const md = evs.at(-2);
    assert.equal(md.delta.stop_reason, whole.stop_reason);
    assert.equal(md.usage.output_tokens, whole.usage.output_tokens);
  }],
  ['errors: Anthropic\'s error object, 400 and 404', async () => {
    const cases = [
      [{ model: M, messages: conv }, /^max_tokens/],
      [{ model: M, max_tokens: 5, messages: [] }, /at least one message/],
      [{ model: M, max_tokens: 5, messages: [{ role: 'tool', content: 'x' }] }, /role must be 'user' or 'assistant'/],
      [{ model: M, max_tokens: 5, messages: [{ role: 'user', content: [{ type: 'image', source: {} }] }] }, /'image' are not supported/],
      [{ model: M, max_tokens: 5, messages: conv, tools: [{ name: 'f', input_schema: {} }] }, /tools are not supported/],
    ];
    for (const [body, re] of cases) {
      const r = await post(body);
      assert.equal(r.status, 400, JSON.stringify(body));
      const e = JSON.parse(r.text);
      assert.equal(e.type, 'error');
      assert.equal(e.error.type, 'invalid_request_error');
      assert.match(e.error.message, re);
    }
    const nf = await post({ model: 'nope', max_tokens: 5, messages: conv });
    assert.equal(nf.status, 404);
    assert.equal(JSON.parse(nf.text).error.type, 'not_found_error');
  }],
  ['shutdown (exit 0: no leak under make check)', async () => { assert.equal(await srv.stop(), 0); }],
], [srv]);
done();
