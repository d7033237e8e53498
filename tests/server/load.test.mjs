// nibble-server under load, through the official OpenAI Node client with its retries off:
// 16 clients send 200 requests in all (completions and chat, whole and streamed, seeded
// sampling, embeddings) to a server of 2 slots and a queue of 8. The only refusal allowed
// is 503 with Retry-After (the queue full); every reply is well formed, and every greedy
// or seeded reply is the text the same request got alone, before the load (docs/server.md:
// a request gives the same text alone, beside others, on any slot). Prints one line
// "load: ..." with the figures.
//
// Run: NIBBLE_SERVER=build/bin/nibble-server node tests/server/load.test.mjs
// Exits 77 (skipped) where the client is not installed in NIBBLE_NODE, unless CI=true.
import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, requireOpenAI, guardServers, percentile } from './common.mjs';

const OpenAI = requireOpenAI();

const PARALLEL = 2;
const QUEUE = 8;
const CLIENTS = 16;
const REQUESTS = 200;
const MAX_TOKENS = 24;
// The concurrent phase. A refused request is tried again until then: how often one
// client loses the race for a freed place is luck, not the server's (the most tries one
// request took is printed).
const LOAD_DEADLINE_MS = 90000;

// Seconds on a release build; a sanitizer build is far slower, and the bounds leave it room.
const servers = guardServers('load.test.mjs', 230);
async function start(args) {
  const s = await startServer(args);
  servers.push(s);
  return s;
}

const server = await start(['--parallel', String(PARALLEL), '--queue', String(QUEUE), '--queue-timeout', '20']);
after(async () => {
  assert.equal(await server.stop(), 0, `nibble-server exits 0 on SIGTERM:\n${server.stderr().slice(-4000)}`);
});

const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'k', maxRetries: 0, timeout: 20000 });
const model = (await client.models.list()).data[0].id;

const prompts = [
  'Once upon a time',
  'The little dog',
  'Lily and Ben went to the park',
  'One day, a big bird',
  'Tom had a red ball.',
  'The sun was hot and',
  'There was a small fish who',
  'Mom said, "Be careful!"',
  'A girl named Sue found a box',
  'The cat and the mouse',
];
const KINDS = ['completion', 'chat', 'completion-stream', 'chat-stream', 'embedding', 'seeded', 'seeded-chat-stream'];

function params(kind, p) {
  const prompt = prompts[p];
  const messages = [{ role: 'user', content: prompt }];
  switch (kind) {
    case 'completion': case 'completion-stream':
      return { model, prompt, max_tokens: MAX_TOKENS, temperature: 0 };
    case 'chat': case 'chat-stream':
      return { model, messages, max_tokens: MAX_TOKENS, temperature: 0 };
    case 'seeded':
      return { model, prompt, max_tokens: MAX_TOKENS, temperature: 0.9, seed: 100 + p };
    case 'seeded-chat-stream':
      return { model, messages, max_tokens: MAX_TOKENS, temperature: 0.9, seed: 200 + p };
    case 'embedding':
      return { model, input: [prompt, `${prompt} again`] };
    default: throw new Error(kind);
  }
}

function checkUsage(u, what) {
  assert.ok(u && Number.isInteger(u.prompt_tokens) && Number.isInteger(u.completion_tokens), `${what}: usage ${JSON.stringify(u)}`);
  assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens, `${what}: total = prompt + completion`);
  assert.ok(u.completion_tokens <= MAX_TOKENS, `${what}: completion_tokens <= max_tokens`);
}

/// One request through the client; resolves to what must equal the serial run's answer.
async function run(kind, p) {
  const body = params(kind, p);
  const what = `${kind} #${p}`;
  if (kind === 'embedding') {
    const r = await client.embeddings.create(body);
    assert.equal(r.data.length, 2, what);
    r.data.forEach((d, i) => assert.equal(d.index, i, what));
    return r.data.map((d) => d.embedding);
  }
  const chat = kind.includes('chat');
  if (kind.endsWith('stream')) {
    const stream = chat
      ? await client.chat.completions.create({ ...body, stream: true, stream_options: { include_usage: true } })
      : await client.completions.create({ ...body, stream: true, stream_options: { include_usage: true } });
    const chunks = [];
    for await (const ch of stream) chunks.push(ch);
    const last = chunks.at(-1);
    assert.deepEqual(last.choices, [], `${what}: the usage chunk last`);
    checkUsage(last.usage, what);
    const deltas = chunks.slice(0, -1);
    assert.ok(deltas.length >= 1, `${what}: chunks`);
    const finish = deltas.at(-1).choices[0].finish_reason;
    assert.ok(['stop', 'length'].includes(finish), `${what}: finish_reason ${finish}`);
    if (chat) assert.equal(deltas[0].choices[0].delta.role, 'assistant', `${what}: role first`);
    const text = deltas.map((ch) => (chat ? ch.choices[0].delta.content : ch.choices[0].text) ?? '').join('');
    return { text, finish, completion_tokens: last.usage.completion_tokens };
  }
  const r = chat ? await client.chat.completions.create(body) : await client.completions.create(body);
  assert.equal(r.choices.length, 1, what);
  assert.equal(r.object, chat ? 'chat.completion' : 'text_completion', what);
  checkUsage(r.usage, what);
  const finish = r.choices[0].finish_reason;
  assert.ok(['stop', 'length'].includes(finish), `${what}: finish_reason ${finish}`);
  const text = chat ? r.choices[0].message.content : r.choices[0].text;
  assert.equal(typeof text, 'string', what);
  return { text, finish, completion_tokens: r.usage.completion_tokens };
}

// The answers of each (kind, prompt) alone, one request at a time; the streamed kinds
// must agree with the whole ones (and are checked to).
const serial = new Map();
const key = (kind, p) => `${kind.replace('-stream', '')}/${p}`;

test('serial pass: the answer of every request alone', { timeout: 60000 }, async () => {
  for (const kind of KINDS) {
    for (let p = 0; p < prompts.length; p++) {
      const got = await run(kind, p);
      const k = key(kind, p);
      if (serial.has(k)) assert.deepEqual(got, serial.get(k), `${kind} #${p} streamed = whole`);
      else serial.set(k, got);
    }
  }
  assert.equal(serial.size, 5 * prompts.length); // completion, chat, embedding, seeded, seeded-chat
});

test(`${CLIENTS} clients, ${REQUESTS} requests: only 503 + Retry-After refusals, every answer as alone`,
  { timeout: LOAD_DEADLINE_MS + 10000 }, async () => {
    assert.ok(serial.size > 0, 'the serial pass ran');
    let next = 0;
    let ok = 0;
    let refused = 0;
    let mostTries = 0;
    const others = [];
    const mismatches = [];
    const latencies = [];
    const deadline = Date.now() + LOAD_DEADLINE_MS;
    const t0 = performance.now();

    async function worker() {
      for (;;) {
        const i = next++;
        if (i >= REQUESTS) return;
        const kind = KINDS[i % KINDS.length];
        const p = (i * 7 + Math.floor(i / KINDS.length)) % prompts.length;
        for (let attempt = 1; ; attempt++) {
          if (Date.now() > deadline) { others.push(`request ${i} (${kind} #${p}): past the deadline`); return; }
          const start = performance.now();
          try {
            const got = await run(kind, p);
            latencies.push(performance.now() - start);
            ok++;
            mostTries = Math.max(mostTries, attempt);
            const want = serial.get(key(kind, p));
            try { assert.deepEqual(got, want); } catch {
              mismatches.push(`request ${i} (${kind} #${p}): got ${JSON.stringify(got).slice(0, 300)}, alone ${JSON.stringify(want).slice(0, 300)}`);
            }
            break;
          } catch (e) {
            if (e instanceof OpenAI.APIError && e.status === 503) {
              const retryAfter = e.headers?.get?.('retry-after');
              if (retryAfter === null || retryAfter === undefined || !(Number(retryAfter) >= 0)) {
                others.push(`request ${i} (${kind} #${p}): 503 without a Retry-After header`);
                break;
              }
              if (e.type !== 'server_error') others.push(`request ${i}: 503 of type ${e.type}, not server_error`);
              refused++;
              // A polite client: wait as told (at most a second here), then try again.
              await new Promise((r) => setTimeout(r, Math.min(1000, 1000 * Number(retryAfter)) * (0.5 + Math.random() / 2)));
              continue;
            }
            others.push(`request ${i} (${kind} #${p}): ${e?.constructor?.name} ${e?.status ?? ''} ${e?.message ?? e}`);
            break;
          }
        }
      }
    }

    await Promise.all(Array.from({ length: CLIENTS }, worker));
    const wall = (performance.now() - t0) / 1000;
    console.log(`load: ${REQUESTS} requests (${KINDS.length} kinds), ${CLIENTS} concurrent clients, --parallel ${PARALLEL} --queue ${QUEUE}: `
      + `${ok} ok, ${refused} 503s (each retried after Retry-After; at most ${mostTries} tries for one request), ${others.length} other errors, ${mismatches.length} answers unlike alone; `
      + `latency p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms; wall ${wall.toFixed(2)} s`);
    assert.deepEqual(others, [], 'no failure but 503 with Retry-After');
    assert.deepEqual(mismatches, [], 'every answer under load is the answer alone');
    assert.equal(ok, REQUESTS);

    // Afterwards the server is idle and well.
    const until = Date.now() + 5000;
    let h;
    for (;;) {
      h = await (await fetch(`${server.url}/health`, { signal: AbortSignal.timeout(5000) })).json();
      if ((h.slots_idle === PARALLEL && h.requests_waiting === 0) || Date.now() > until) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(h, { status: 'ok', slots_idle: PARALLEL, slots_processing: 0, requests_waiting: 0 });
  });

// The two 503s of docs/server.md, made to happen: the queue full, and a wait for a slot
// longer than --queue-timeout. Each with Retry-After, an OpenAI error object of type
// server_error, the client's InternalServerError; the server serves on afterwards.
function check503(e, what) {
  assert.ok(e instanceof OpenAI.InternalServerError, `${what}: InternalServerError, got ${e?.constructor?.name}: ${e}`);
  assert.equal(e.status, 503, what);
  assert.equal(e.type, 'server_error', what);
  assert.equal(typeof e.error?.message, 'string', what);
  const retryAfter = e.headers.get('retry-after');
  assert.ok(retryAfter !== null && Number(retryAfter) >= 1, `${what}: Retry-After ${retryAfter}`);
}

test('a full queue: 503 with Retry-After at once, the others served', { timeout: 60000 }, async () => {
  const s = await start(['--parallel', '1', '--queue', '1']);
  try {
    const c = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'k', maxRetries: 0, timeout: 30000 });
    // 12 at once on one slot and one place in the queue: most find both taken.
    const results = await Promise.allSettled(Array.from({ length: 12 }, (_, i) =>
      c.completions.create({ model, prompt: prompts[i % prompts.length], max_tokens: 200, temperature: 0 })));
    const refused = results.filter((r) => r.status === 'rejected');
    const served = results.filter((r) => r.status === 'fulfilled');
    assert.ok(refused.length >= 1, 'some of 12 requests at once on --parallel 1 --queue 1 are refused');
    assert.ok(served.length >= 2, `the running one and the waiting one are served: ${served.length}`);
    refused.forEach((r, i) => check503(r.reason, `refused request ${i}`));
    for (const r of served) assert.equal(r.value.choices.length, 1);
    console.log(`load: 12 requests at once on --parallel 1 --queue 1: ${served.length} served, ${refused.length} refused with 503`);
    const r = await c.completions.create({ model, prompt: prompts[0], max_tokens: MAX_TOKENS, temperature: 0 });
    assert.equal(r.choices[0].text, serial.get(key('completion', 0)).text, 'served as before');
  } finally {
    assert.equal(await s.stop(), 0);
  }
});

test('a wait for a slot past --queue-timeout: 503 with Retry-After', { timeout: 60000 }, async () => {
  const s = await start(['--parallel', '1', '--queue', '4', '--queue-timeout', '1', '-c', '4096', '--max-tokens', '4000']);
  const c = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'k', maxRetries: 0, timeout: 30000 });
  const ac = new AbortController();
  try {
    // The slot busy with a long generation (random tokens: no early end of sequence)...
    const long = { model, prompt: 'Once upon a time', max_tokens: 4000, temperature: 1.5, top_k: 0, top_p: 1, min_p: 0, stream: true };
    const streams = [1, 2].map((seed) => c.completions.create({ ...long, seed }, { signal: ac.signal })
      .then(async (st) => { for await (const _ of st) { /* drain */ } }).catch((e) => e));
    // ...once one of them holds the slot (sent first, they may still arrive after the
    // requests below: then those are served at once and nothing waits)...
    const busy_by = Date.now() + 30000;
    for (;;) {
      const h = await (await fetch(`${s.url}/health`, { signal: AbortSignal.timeout(5000) })).json();
      if (h.slots_processing === 1) break;
      assert.ok(Date.now() < busy_by, `a long generation takes the slot within 30 s: ${JSON.stringify(h)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    // ...and two more waiting behind it: at least one of them waits for more than 1 s.
    const t0 = Date.now();
    const waiting = await Promise.allSettled([3, 4].map(() => c.completions.create({ model, prompt: 'The cat', max_tokens: 4, temperature: 0 })));
    const refused = waiting.filter((r) => r.status === 'rejected');
    assert.ok(refused.length >= 1, `a request waited past --queue-timeout 1 and was refused (${Date.now() - t0} ms)`);
    refused.forEach((r, i) => check503(r.reason, `timed-out request ${i}`));
    assert.ok(Date.now() - t0 >= 900, `refused after the 1 s wait, not at once: ${Date.now() - t0} ms`);
    ac.abort();
    // A bound on the teardown, not a speed: under ASan on 2 busy cores it once took over 10 s.
    const drained = await Promise.race([Promise.all(streams).then(() => true), new Promise((r) => setTimeout(r, 30000, false))]);
    assert.ok(drained, 'the aborted streams end within 30 s');
    const until = Date.now() + 5000;
    let h;
    do {
      h = await (await fetch(`${s.url}/health`, { signal: AbortSignal.timeout(5000) })).json();
      if (h.slots_idle === 1 && h.requests_waiting === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    } while (Date.now() < until);
    assert.deepEqual(h, { status: 'ok', slots_idle: 1, slots_processing: 0, requests_waiting: 0 });
    const r = await c.completions.create({ model, prompt: prompts[0], max_tokens: MAX_TOKENS, temperature: 0 });
    assert.equal(r.choices[0].text, serial.get(key('completion', 0)).text, 'served as before');
  } finally {
    ac.abort();
    assert.equal(await s.stop(), 0);
  }
});
