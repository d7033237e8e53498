// nibble-server driven by the official OpenAI Node client (openai 6.49.0), as an application
// would drive it: models, completions and chat (whole and streamed, which agree token for
// token), usage and finish_reason, stop strings, seeds, embeddings (base64 and float) and
// the API key. The contract is docs/server.md.
//
// Run: NIBBLE_SERVER=build/bin/nibble-server node tests/server/client.test.mjs
// Exits 77 (skipped) where the client is not installed in NIBBLE_NODE, unless CI=true.
import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, requireOpenAI, guardServers } from './common.mjs';

const OpenAI = requireOpenAI();

const servers = guardServers('client.test.mjs', 100);
async function start(args) {
  const s = await startServer(args);
  servers.push(s);
  return s;
}

const server = await start(['--parallel', '2']);
after(async () => {
  for (const s of servers) assert.equal(await s.stop(), 0, `nibble-server exits 0 on SIGTERM:\n${s.stderr()}`);
});

const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'k', maxRetries: 0, timeout: 20000 });
const T = { timeout: 30000 };
const prompt = 'Once upon a time';
let modelId;

function checkUsage(usage, maxTokens) {
  assert.ok(usage, 'usage present');
  for (const k of ['prompt_tokens', 'completion_tokens', 'total_tokens']) {
    assert.ok(Number.isInteger(usage[k]) && usage[k] >= 0, `usage.${k} is a count: ${JSON.stringify(usage)}`);
  }
  assert.ok(usage.prompt_tokens > 0, 'the prompt has tokens');
  assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens, 'total = prompt + completion');
  if (maxTokens !== undefined) assert.ok(usage.completion_tokens <= maxTokens, `completion_tokens <= max_tokens ${maxTokens}`);
}

async function collectCompletion(params) {
  const stream = await client.completions.create({ model: modelId, ...params, stream: true });
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

async function collectChat(params) {
  const stream = await client.chat.completions.create({ model: modelId, ...params, stream: true });
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

test('models.list lists the one model', T, async () => {
  const page = await client.models.list();
  assert.equal(page.data.length, 1, JSON.stringify(page.data));
  const m = page.data[0];
  assert.equal(typeof m.id, 'string');
  assert.ok(m.id.length > 0);
  assert.equal(m.object, 'model');
  assert.ok(Number.isInteger(m.created), 'created is an integer');
  assert.equal(m.owned_by, 'nibble');
  modelId = m.id;
});

test('completions: whole reply, usage, finish_reason length at max_tokens', T, async () => {
  const r = await client.completions.create({ model: modelId, prompt, max_tokens: 16, temperature: 0 });
  assert.match(r.id, /^cmpl-/);
  assert.equal(r.object, 'text_completion');
  assert.ok(Number.isInteger(r.created));
  assert.equal(r.model, modelId);
  assert.equal(r.choices.length, 1);
  const c = r.choices[0];
  assert.equal(c.index, 0);
  assert.equal(typeof c.text, 'string');
  assert.ok(c.text.length > 0, 'some text');
  assert.equal(c.logprobs, null);
  checkUsage(r.usage, 16);
  // A story does not end within 16 tokens of "Once upon a time".
  assert.equal(c.finish_reason, 'length');
  assert.equal(r.usage.completion_tokens, 16);
  // The same greedy request again: the same text (the slot's cached prefix is reused).
  const again = await client.completions.create({ model: modelId, prompt, max_tokens: 16, temperature: 0 });
  assert.equal(again.choices[0].text, c.text);
  assert.deepEqual(again.usage, r.usage);
  // A prompt as an array of one string is the same request.
  const arr = await client.completions.create({ model: modelId, prompt: [prompt], max_tokens: 16, temperature: 0 });
  assert.equal(arr.choices[0].text, c.text);
});

test('completions: the stream joins to the whole reply, with usage on request', T, async () => {
  const params = { prompt: 'The little dog', max_tokens: 24, temperature: 0 };
  const whole = await client.completions.create({ model: modelId, ...params });
  const chunks = await collectCompletion({ ...params, stream_options: { include_usage: true } });
  assert.ok(chunks.length >= 2, `several chunks: ${chunks.length}`);
  const usageChunk = chunks.at(-1);
  assert.deepEqual(usageChunk.choices, [], 'the usage chunk has no choices');
  checkUsage(usageChunk.usage, 24);
  assert.deepEqual(usageChunk.usage, whole.usage);
  const textChunks = chunks.slice(0, -1);
  for (const ch of textChunks) {
    assert.equal(ch.object, 'text_completion');
    assert.match(ch.id, /^cmpl-/);
    assert.equal(ch.id, textChunks[0].id, 'one id for the whole stream');
    assert.equal(ch.model, modelId);
    assert.equal(ch.choices.length, 1);
    assert.equal(ch.choices[0].index, 0);
    assert.equal(typeof ch.choices[0].text, 'string');
  }
  for (const ch of textChunks.slice(0, -1)) assert.equal(ch.choices[0].finish_reason ?? null, null, 'finish_reason only on the last');
  assert.equal(textChunks.at(-1).choices[0].finish_reason, whole.choices[0].finish_reason);
  assert.equal(textChunks.map((ch) => ch.choices[0].text).join(''), whole.choices[0].text);

  // Without stream_options: no usage chunk, the same text.
  const plain = await collectCompletion(params);
  assert.ok(plain.every((ch) => ch.choices.length === 1), 'no usage chunk unless asked');
  assert.equal(plain.map((ch) => ch.choices[0].text).join(''), whole.choices[0].text);
});

test('chat: whole reply and the stream (role first, content deltas, finish_reason last, usage)', T, async () => {
  const messages = [
    { role: 'system', content: 'You tell short stories.' },
    { role: 'user', content: 'Tell me about a cat.' },
  ];
  const params = { messages, max_tokens: 24, temperature: 0 };
  const whole = await client.chat.completions.create({ model: modelId, ...params });
  assert.equal(typeof whole.id, 'string');
  assert.equal(whole.object, 'chat.completion');
  assert.ok(Number.isInteger(whole.created));
  assert.equal(whole.model, modelId);
  assert.equal(whole.choices.length, 1);
  const c = whole.choices[0];
  assert.equal(c.index, 0);
  assert.equal(c.message.role, 'assistant');
  assert.equal(typeof c.message.content, 'string');
  assert.ok(['stop', 'length'].includes(c.finish_reason), c.finish_reason);
  checkUsage(whole.usage, 24);
  if (c.finish_reason === 'length') assert.equal(whole.usage.completion_tokens, 24);

  const chunks = await collectChat({ ...params, stream_options: { include_usage: true } });
  const usageChunk = chunks.at(-1);
  assert.deepEqual(usageChunk.choices, [], 'the usage chunk has no choices');
  assert.deepEqual(usageChunk.usage, whole.usage);
  const deltas = chunks.slice(0, -1);
  assert.ok(deltas.length >= 2, `a role chunk and content: ${deltas.length}`);
  for (const ch of deltas) {
    assert.equal(ch.object, 'chat.completion.chunk');
    assert.equal(ch.id, deltas[0].id, 'one id for the whole stream');
    assert.equal(ch.model, modelId);
    assert.equal(ch.choices.length, 1);
    assert.equal(ch.choices[0].index, 0);
  }
  assert.equal(deltas[0].choices[0].delta.role, 'assistant', 'the first delta carries the role');
  for (const ch of deltas.slice(1)) assert.equal(ch.choices[0].delta.role ?? 'assistant', 'assistant');
  for (const ch of deltas.slice(0, -1)) assert.equal(ch.choices[0].finish_reason ?? null, null, 'finish_reason only on the last');
  assert.equal(deltas.at(-1).choices[0].finish_reason, c.finish_reason);
  assert.equal(deltas.map((ch) => ch.choices[0].delta.content ?? '').join(''), c.message.content);

  // content as an array of text parts renders as the string does.
  const parts = await client.chat.completions.create({
    model: modelId, max_tokens: 24, temperature: 0,
    messages: [
      { role: 'system', content: [{ type: 'text', text: 'You tell short stories.' }] },
      { role: 'user', content: [{ type: 'text', text: 'Tell me ' }, { type: 'text', text: 'about a cat.' }] },
    ],
  });
  assert.equal(parts.choices[0].message.content, c.message.content);
  // max_completion_tokens is max_tokens.
  const mct = await client.chat.completions.create({ model: modelId, messages, max_completion_tokens: 5, temperature: 0 });
  assert.ok(mct.usage.completion_tokens <= 5);
  assert.ok(c.message.content.startsWith(mct.choices[0].message.content), 'a shorter greedy reply is a prefix');
});

test('chat: the client\'s stream helper assembles the same completion', T, async () => {
  const params = { model: modelId, messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 20, temperature: 0 };
  const whole = await client.chat.completions.create(params);
  const runner = client.chat.completions.stream({ ...params, stream_options: { include_usage: true } });
  const deltas = [];
  runner.on('content', (delta) => deltas.push(delta));
  const final = await runner.finalChatCompletion();
  assert.equal(final.choices[0].message.role, 'assistant');
  assert.equal(final.choices[0].message.content, whole.choices[0].message.content);
  assert.equal(final.choices[0].finish_reason, whole.choices[0].finish_reason);
  assert.equal(deltas.join(''), whole.choices[0].message.content);
  assert.deepEqual(final.usage, whole.usage);
  // The raw response: an event stream.
  const { response } = await client.chat.completions.create({ ...params, stream: true }).withResponse();
  assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
  await response.body?.cancel();
});

test('chat: a conversation with an assistant turn and a developer message', T, async () => {
  const r = await client.chat.completions.create({
    model: modelId, max_tokens: 8, temperature: 0,
    messages: [
      { role: 'developer', content: 'Be kind.' },
      { role: 'user', content: 'Hello' },
      { role: 'assistant', content: 'Hi! Once upon a time' },
      { role: 'user', content: 'Go on.' },
    ],
  });
  assert.equal(r.choices[0].message.role, 'assistant');
  checkUsage(r.usage, 8);
});

test('stop strings end the text before them, finish_reason stop, whole and streamed', T, async () => {
  const params = { prompt, max_tokens: 48, temperature: 0 };
  const free = await client.completions.create({ model: modelId, ...params });
  const text = free.choices[0].text;
  // A word of the greedy text, well inside it: the stop string is " word".
  const words = text.split(/\s+/).filter((w) => /^[A-Za-z]{3,}$/.test(w));
  assert.ok(words.length >= 4, `a greedy text with words: ${JSON.stringify(text)}`);
  const stop = ` ${words[3]}`;
  const at = text.indexOf(stop);
  assert.ok(at > 0, `${JSON.stringify(stop)} in ${JSON.stringify(text)}`);
  const expected = text.slice(0, at);

  const r = await client.completions.create({ model: modelId, ...params, stop });
  assert.equal(r.choices[0].text, expected, `stop ${JSON.stringify(stop)} in ${JSON.stringify(text)}`);
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.ok(!r.choices[0].text.includes(stop));
  checkUsage(r.usage, 48);
  assert.ok(r.usage.completion_tokens < free.usage.completion_tokens, 'fewer tokens than without the stop');

  // An array of stop strings: the first to occur ends the text.
  const arr = await client.completions.create({ model: modelId, ...params, stop: ['zzqx', stop, 'qqqq'] });
  assert.equal(arr.choices[0].text, expected);
  assert.equal(arr.choices[0].finish_reason, 'stop');

  // Streamed: nothing of the stop string leaks out, even a part of it held back.
  const chunks = await collectCompletion({ ...params, stop });
  assert.equal(chunks.map((ch) => ch.choices[0]?.text ?? '').join(''), expected);
  assert.equal(chunks.at(-1).choices[0].finish_reason, 'stop');

  // A stop string that never occurs changes nothing.
  const none = await client.completions.create({ model: modelId, ...params, stop: ['\u00a7\u00a7never'] });
  assert.equal(none.choices[0].text, text);
  assert.equal(none.choices[0].finish_reason, free.choices[0].finish_reason);
});

test('stop strings in chat, streamed', T, async () => {
  const params = { messages: [{ role: 'user', content: 'Tell me a story.' }], max_tokens: 48, temperature: 0 };
  const free = await client.chat.completions.create({ model: modelId, ...params });
  const text = free.choices[0].message.content;
  // The second word of the reply (its first occurrence ends the text, inside a word or not).
  const words = text.match(/[A-Za-z]{3,}/g) ?? [];
  assert.ok(words.length >= 2, `a greedy reply with words: ${JSON.stringify(text)}`);
  const stop = words[1];
  const at = text.indexOf(stop);
  assert.ok(at > 0, `${JSON.stringify(stop)} in ${JSON.stringify(text)}`);
  const r = await client.chat.completions.create({ model: modelId, ...params, stop });
  assert.equal(r.choices[0].message.content, text.slice(0, at));
  assert.equal(r.choices[0].finish_reason, 'stop');
  const chunks = await collectChat({ ...params, stop });
  assert.equal(chunks.map((ch) => ch.choices[0]?.delta?.content ?? '').join(''), text.slice(0, at));
  assert.equal(chunks.at(-1).choices[0].finish_reason, 'stop');
});

test('seed: the same seed gives the same sampled text, different seeds differ', T, async () => {
  const ask = (seed) => client.completions.create({ model: modelId, prompt, max_tokens: 32, temperature: 0.8, seed })
    .then((r) => r.choices[0].text);
  const a = await ask(1234);
  const b = await ask(1234);
  assert.equal(a, b, 'seed 1234 twice');
  const texts = new Set([a]);
  for (const seed of [1, 2, 3, 4, 5]) texts.add(await ask(seed));
  assert.ok(texts.size >= 2, `six seeds, one text: ${JSON.stringify([...texts])}`);
  // And streamed, the same seed gives the same text.
  const chunks = await collectCompletion({ prompt, max_tokens: 32, temperature: 0.8, seed: 1234 });
  assert.equal(chunks.map((ch) => ch.choices[0]?.text ?? '').join(''), a);
});

function norm(v) { return Math.sqrt(v.reduce((s, x) => s + x * x, 0)); }

test('embeddings: a string and an array, base64 (the client default) and float', T, async () => {
  const one = await client.embeddings.create({ model: modelId, input: 'The cat sat on the mat.' });
  assert.equal(one.object, 'list');
  assert.equal(one.model, modelId);
  assert.equal(one.data.length, 1);
  assert.equal(one.data[0].object, 'embedding');
  assert.equal(one.data[0].index, 0);
  const v = one.data[0].embedding;
  assert.ok(Array.isArray(v) && v.length > 0, 'the client decoded the base64 vector');
  assert.ok(v.every(Number.isFinite));
  assert.ok(Math.abs(norm(v) - 1) < 1e-3, `L2 norm ${norm(v)}`);
  assert.ok(Number.isInteger(one.usage.prompt_tokens) && one.usage.prompt_tokens > 0);
  assert.equal(one.usage.total_tokens, one.usage.prompt_tokens);

  const inputs = ['The cat sat on the mat.', 'A big red ball.', 'The cat sat on the mat.', 'Lily went to the park'];
  const many = await client.embeddings.create({ model: modelId, input: inputs });
  assert.equal(many.data.length, inputs.length);
  many.data.forEach((d, i) => {
    assert.equal(d.index, i);
    assert.equal(d.embedding.length, v.length, 'one dimension');
    assert.ok(Math.abs(norm(d.embedding) - 1) < 1e-3, `L2 norm of ${i}: ${norm(d.embedding)}`);
  });
  assert.deepEqual(many.data[0].embedding, many.data[2].embedding, 'identical inputs, identical vectors');
  assert.deepEqual(many.data[0].embedding, v, 'in an array as alone');
  assert.notDeepEqual(many.data[0].embedding, many.data[1].embedding, 'different inputs differ');

  const float = await client.embeddings.create({ model: modelId, input: inputs, encoding_format: 'float' });
  assert.equal(float.data.length, inputs.length);
  float.data.forEach((d, i) => {
    assert.equal(d.index, i);
    assert.ok(Array.isArray(d.embedding), 'float: a JSON array');
    assert.equal(d.embedding.length, v.length);
    for (let j = 0; j < v.length; j++) {
      assert.ok(Math.abs(d.embedding[j] - many.data[i].embedding[j]) <= 1e-6 * Math.max(1, Math.abs(d.embedding[j])),
        `float and base64 agree at [${i}][${j}]: ${d.embedding[j]} vs ${many.data[i].embedding[j]}`);
    }
  });
  const b64 = await client.embeddings.create({ model: modelId, input: 'A big red ball.', encoding_format: 'base64' });
  assert.equal(typeof b64.data[0].embedding, 'string', 'base64 asked explicitly: the string as sent');
  const buf = Buffer.from(b64.data[0].embedding, 'base64');
  assert.equal(buf.length, 4 * v.length);
  const decoded = Array.from({ length: v.length }, (_, j) => buf.readFloatLE(4 * j));
  assert.deepEqual(decoded, many.data[1].embedding);
});

test('the API key: wrong or missing refused with 401, the right one served, /health open', T, async () => {
  const keyed = await start(['--api-key', 'secret', '--alias', 'my-model']);
  const wrong = new OpenAI({ baseURL: `${keyed.url}/v1`, apiKey: 'not-the-secret', maxRetries: 0, timeout: 10000 });
  await assert.rejects(wrong.models.list(), (e) => {
    assert.ok(e instanceof OpenAI.AuthenticationError, `AuthenticationError, got ${e?.constructor?.name}: ${e}`);
    assert.equal(e.status, 401);
    assert.equal(e.type, 'authentication_error');
    return true;
  });
  await assert.rejects(wrong.completions.create({ model: 'my-model', prompt, max_tokens: 4 }),
    (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
  await assert.rejects(wrong.chat.completions.create({ model: 'my-model', messages: [{ role: 'user', content: 'hi' }], stream: true }),
    (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
  await assert.rejects(wrong.embeddings.create({ model: 'my-model', input: 'hi' }),
    (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
  // No Authorization header at all.
  const bare = await fetch(`${keyed.url}/v1/models`, { signal: AbortSignal.timeout(10000) });
  assert.equal(bare.status, 401);
  assert.equal((await bare.json()).error.type, 'authentication_error');

  const right = new OpenAI({ baseURL: `${keyed.url}/v1`, apiKey: 'secret', maxRetries: 0, timeout: 10000 });
  const page = await right.models.list();
  assert.deepEqual(page.data.map((m) => m.id), ['my-model'], '--alias names the model');
  const r = await right.completions.create({ model: 'my-model', prompt, max_tokens: 8, temperature: 0 });
  assert.equal(r.model, 'my-model');
  assert.ok(r.choices[0].text.length > 0);
  // The same model as the first server, so the same greedy text.
  const plain = await client.completions.create({ model: modelId, prompt, max_tokens: 8, temperature: 0 });
  assert.equal(r.choices[0].text, plain.choices[0].text);

  const health = await fetch(`${keyed.url}/health`, { signal: AbortSignal.timeout(10000) });
  assert.equal(health.status, 200);
  assert.equal((await health.json()).status, 'ok');
});
