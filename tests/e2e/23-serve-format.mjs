// 23-serve-format.mjs — structured outputs through the real clients:
// `format: "json"` and a JSON-Schema `format` on /api/generate and /api/chat
// (npm `ollama`), OpenAI `response_format` json_object and json_schema (npm
// `openai`); every answer must JSON.parse and match the schema, whatever a
// stories model writes inside it. A bad schema is a 400 with the reason.
import assert from 'node:assert/strict';
import { done, importModel, postJSON, steps, storiesServer } from './20-serve-lib.js';

const { gguf, srv, ollama, openai } = await storiesServer();
const M = 'stories';
const P = 'Once upon a time';
const schema = {
  type: 'object',
  properties: { name: { type: 'string' }, age: { type: 'integer' } },
  required: ['name', 'age'],
};

function person(text) {
  const v = JSON.parse(text);
  assert.equal(typeof v, 'object', text);
  assert.deepEqual(Object.keys(v), ['name', 'age'], text);
  assert.equal(typeof v.name, 'string', text);
  assert.ok(Number.isInteger(v.age), text);
  return v;
}

await steps([
  ['import the model', async () => { await importModel(srv, gguf, M); }],
  ['generate format json: an object, at every budget', async () => {
    for (const n of [5, 30, 120]) {
      const r = await ollama.generate({ model: M, prompt: P, format: 'json', options: { temperature: 0, num_predict: n } });
      const v = JSON.parse(r.response);
      assert.equal(Object.prototype.toString.call(v), '[object Object]', r.response);
      assert.ok(r.eval_count <= n);
    }
  }],
  ['generate format schema, streamed and sampled', async () => {
    person((await ollama.generate({ model: M, prompt: P, format: schema, options: { temperature: 0, num_predict: 60 } })).response);
    let text = '';
    const it = await ollama.generate({ model: M, prompt: P, format: schema, stream: true,
      options: { temperature: 1, seed: 7, num_predict: 80 } });
    for await (const c of it) text += c.response;
    person(text);
  }],
  ['nested models with $defs/$ref, as pydantic writes them', async () => {
    const friends = {
      $defs: { Friend: { type: 'object', title: 'Friend', required: ['name', 'age'],
        properties: { name: { type: 'string', title: 'Name' }, age: { type: 'integer', title: 'Age' } } } },
      type: 'object', title: 'Friends', required: ['friends'],
      properties: { friends: { type: 'array', title: 'Friends', items: { $ref: '#/$defs/Friend' } } },
    };
    const r = await ollama.generate({ model: M, prompt: P, format: friends, options: { temperature: 0, num_predict: 80 } });
    const v = JSON.parse(r.response);
    assert.deepEqual(Object.keys(v), ['friends'], r.response);
    for (const f of v.friends) person(JSON.stringify(f));
  }],
  ['string minLength/maxLength hold whatever the model writes', async () => {
    const short = { type: 'object', required: ['code', 'line'],
      properties: { code: { type: 'string', minLength: 3, maxLength: 5 }, line: { type: 'string', maxLength: 12 } } };
    for (const seed of [1, 2, 3]) {
      const r = await ollama.generate({ model: M, prompt: P, format: short, options: { temperature: 1, seed, num_predict: 60 } });
      const v = JSON.parse(r.response);
      const len = (s) => [...s].length;
      assert.ok(len(v.code) >= 3 && len(v.code) <= 5, r.response);
      assert.ok(len(v.line) <= 12, r.response);
    }
  }],
  ['integer minimum/maximum hold whatever the model writes', async () => {
    const dice = { type: 'object', required: ['roll', 'year'],
      properties: { roll: { type: 'integer', minimum: 1, maximum: 6 },
        year: { type: 'integer', exclusiveMinimum: 1999, exclusiveMaximum: 2100 } } };
    for (const seed of [1, 2, 3]) {
      const r = await ollama.generate({ model: M, prompt: P, format: dice, options: { temperature: 1, seed, num_predict: 40 } });
      const v = JSON.parse(r.response);
      assert.ok(Number.isInteger(v.roll) && v.roll >= 1 && v.roll <= 6, r.response);
      assert.ok(Number.isInteger(v.year) && v.year >= 2000 && v.year <= 2099, r.response);
    }
  }],
  ['chat format schema', async () => {
    const r = await ollama.chat({ model: M, messages: [{ role: 'user', content: P }], format: schema,
      options: { temperature: 0, num_predict: 60 } });
    person(r.message.content);
  }],
  ['openai response_format json_object and json_schema', async () => {
    const a = await openai.chat.completions.create({ model: M, messages: [{ role: 'user', content: P }],
      temperature: 0, max_tokens: 40, response_format: { type: 'json_object' } });
    assert.equal(typeof JSON.parse(a.choices[0].message.content), 'object');
    const b = await openai.chat.completions.create({ model: M, messages: [{ role: 'user', content: P }],
      temperature: 0, max_tokens: 60,
      response_format: { type: 'json_schema', json_schema: { name: 'person', schema } } });
    person(b.choices[0].message.content);
  }],
  ['bad formats are 400 with the reason', async () => {
    const a = await postJSON(srv, '/api/generate', { model: M, prompt: P, format: 'yaml' });
    assert.equal(a.status, 400);
    assert.equal(a.body.error, 'invalid format: "yaml"; expected "json" or a valid JSON Schema object');
    const b = await postJSON(srv, '/api/generate', { model: M, prompt: P, format: { type: 'object', properties: { a: { $ref: '#/x' } } } });
    assert.equal(b.status, 400);
    assert.match(b.body.error, /^invalid JSON schema in format: \$ref "#\/x" names nothing in the schema/);
    const c = await postJSON(srv, '/api/chat', { model: M, messages: [{ role: 'user', content: P }], format: { type: 'color' } });
    assert.equal(c.status, 400);
    assert.match(c.body.error, /unsupported type "color"/);
    const d = await postJSON(srv, '/v1/chat/completions', { model: M, messages: [{ role: 'user', content: P }],
      response_format: { type: 'json_schema', json_schema: { name: 'x' } } });
    assert.equal(d.status, 400);
    assert.match(JSON.stringify(d.body), /json_schema\.schema/);
  }],
  ['shutdown (exit 0: no leak under make check)', async () => { assert.equal(await srv.stop(), 0); }],
], [srv]);
done();
