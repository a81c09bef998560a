// 24-serve-responses.mjs — POST /v1/responses (OpenAI's Responses API,
// non-stateful as Ollama's) through the real npm `openai` client: a string
// input and a list of messages with instructions give the same greedy text
// as /v1/chat/completions; streamed events arrive in order with increasing
// sequence numbers and their deltas join to the final text; the token
// budget ends it as "incomplete"; text.format json_schema is enforced; what
// is not supported is a 400 in OpenAI's error shape.
import assert from 'node:assert/strict';
import { done, importModel, postJSON, steps, storiesServer } from './20-serve-lib.js';

const { gguf, srv, openai } = await storiesServer();
const M = 'stories';
const P = 'Once upon a time';

await steps([
  ['import the model', async () => { await importModel(srv, gguf, M); }],
  ['a string input: one completed message, the chat endpoint\'s text, usage', async () => {
    const chat = await openai.chat.completions.create({ model: M, temperature: 0, max_tokens: 24,
      messages: [{ role: 'user', content: P }] });
    const r = await openai.responses.create({ model: M, input: P, temperature: 0, max_output_tokens: 24 });
    assert.match(r.id, /^resp_[0-9a-f]{16}$/);
    assert.equal(r.object, 'response');
    assert.equal(r.model, M);
    assert.equal(r.output.length, 1);
    assert.equal(r.output[0].type, 'message');
    assert.equal(r.output[0].role, 'assistant');
    assert.match(r.output[0].id, /^msg_/);
    assert.equal(r.output_text, chat.choices[0].message.content); // the SDK joins output_text parts
    assert.equal(r.usage.output_tokens, chat.usage.completion_tokens);
    assert.equal(r.usage.input_tokens, chat.usage.prompt_tokens);
    assert.equal(r.usage.total_tokens, r.usage.input_tokens + r.usage.output_tokens);
    assert.equal(r.status, r.usage.output_tokens === 24 ? 'incomplete' : 'completed');
    const again = await openai.responses.create({ model: M, input: P, temperature: 0, max_output_tokens: 24 });
    assert.notEqual(again.id, r.id, 'ids are unique per response');
  }],
  ['instructions and message items (string and input_text parts)', async () => {
    const msgs = [{ role: 'system', content: 'Be kind.' }, { role: 'user', content: 'Tom had a dog.' },
      { role: 'assistant', content: 'The dog was big.' }, { role: 'user', content: 'Then?' }];
    const chat = await openai.chat.completions.create({ model: M, temperature: 0, max_tokens: 16, messages: msgs });
    const r = await openai.responses.create({ model: M, temperature: 0, max_output_tokens: 16,
      instructions: 'Be kind.',
      input: [{ role: 'user', content: [{ type: 'input_text', text: 'Tom had a dog.' }] },
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'The dog was big.' }] },
        { role: 'user', content: 'Then?' }] });
    assert.equal(r.output_text, chat.choices[0].message.content);
  }],
  ['streamed: typed events in order, deltas join to the final text', async () => {
    const whole = await openai.responses.create({ model: M, input: P, temperature: 0, max_output_tokens: 40 });
    const stream = await openai.responses.create({ model: M, input: P, temperature: 0, max_output_tokens: 40, stream: true });
    const types = [];
    let text = '', last = -1, final;
    for await (const ev of stream) {
      types.push(ev.type);
      assert.ok(ev.sequence_number > last, 'sequence numbers increase');
      last = ev.sequence_number;
      if (ev.type === 'response.output_text.delta') text += ev.delta;
      if (ev.type === 'response.output_text.done') assert.equal(ev.text, text);
      if (ev.type === 'response.completed' || ev.type === 'response.incomplete') final = ev.response;
    }
    assert.deepEqual(types.slice(0, 4), ['response.created', 'response.in_progress',
      'response.output_item.added', 'response.content_part.added']);
    assert.deepEqual(types.slice(-4, -1), ['response.output_text.done', 'response.content_part.done',
      'response.output_item.done']);
    assert.ok(types.filter((t) => t === 'response.output_text.delta').length > 3);
    assert.equal(text, whole.output_text);
    assert.equal(final.output[0].content[0].text, text);
    assert.equal(final.status, whole.status);
    assert.equal(final.usage.output_tokens, whole.usage.output_tokens);
  }],
  ['the budget ends it: incomplete, max_output_tokens', async () => {
    const r = await openai.responses.create({ model: M, input: P, temperature: 0, max_output_tokens: 3 });
    assert.equal(r.status, 'incomplete');
    assert.deepEqual(r.incomplete_details, { reason: 'max_output_tokens' });
    assert.equal(r.usage.output_tokens, 3);
  }],
  ['text.format json_schema is enforced', async () => {
    const schema = { type: 'object', properties: { name: { type: 'string', maxLength: 20 } }, required: ['name'] };
    const r = await openai.responses.create({ model: M, input: P, temperature: 0, max_output_tokens: 40,
      text: { format: { type: 'json_schema', name: 'who', schema, strict: true } } });
    const v = JSON.parse(r.output_text);
    assert.deepEqual(Object.keys(v), ['name']);
    assert.ok([...v.name].length <= 20);
  }],
  ['unsupported and bad requests: 400 in OpenAI\'s error shape', async () => {
    const cases = [
      [{ model: M }, /^input is required/],
      [{ model: M, input: P, previous_response_id: 'resp_1' }, /previous_response_id is not supported/],
      [{ model: M, input: P, tools: [{ type: 'function', name: 'f', parameters: {} }] }, /tools are not supported/],
      [{ model: M, input: [{ type: 'function_call_output', call_id: 'x', output: '1' }] }, /input item type 'function_call_output'/],
      [{ model: M, input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'x' }] }] }, /'input_image' is not supported/],
      [{ model: M, input: P, text: { format: { type: 'json_schema' } } }, /text.format json_schema needs a schema object/],
    ];
    for (const [body, re] of cases) {
      const r = await postJSON(srv, '/v1/responses', body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match(r.body.error.message, re);
      assert.equal(r.body.error.type, 'invalid_request_error');
    }
    const nf = await postJSON(srv, '/v1/responses', { model: 'nope', input: P });
    assert.equal(nf.status, 404);
  }],
  ['shutdown (exit 0: no leak under make check)', async () => { assert.equal(await srv.stop(), 0); }],
], [srv]);
done();
