// nibble-server when its clients go away: streams aborted after their first chunks (fetch
// with an AbortController), sockets closed or reset mid-stream, a client process killed
// with SIGKILL, a non-streaming request whose socket closes, a request that gives up while
// it waits in the queue. After each client left, the slots are idle again within 2 s
// (docs/server.md: a client that disconnects cancels its generation, streamed or not),
// and new requests get the same answers as before; at
// the end the server is alive and exits 0 on SIGTERM, also with generations running.
//
// Run: NIBBLE_SERVER=build/bin/nibble-server node tests/server/fault.test.mjs
// (raw HTTP only: needs no npm package)
import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { startServer, guardServers } from './common.mjs';

const PARALLEL = 2;
// Slots of 4096 positions (-c; the model's own context is 512) so that a generation lasts
// long enough to be cut short: 4000 random tokens take seconds.
const CTX = 4096;
const LONG = 4000;

// (A sanitizer build of the server is much slower: the bounds leave it room.)
const servers = guardServers('fault.test.mjs', 100);

const server = await startServer(['--parallel', String(PARALLEL), '-c', String(CTX), '--max-tokens', String(LONG)]);
servers.push(server);
after(() => { for (const s of servers) if (s.proc.exitCode === null && s.proc.signalCode === null) s.proc.kill('SIGKILL'); });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const post = (route, body, signal = AbortSignal.timeout(15000)) => fetch(`${server.url}${route}`, {
  method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body), signal,
});
const health = async (s = server) => (await fetch(`${s.url}/health`, { signal: AbortSignal.timeout(5000) })).json();

const longCompletion = { prompt: 'Once upon a time', max_tokens: LONG, temperature: 1.5, top_k: 0, top_p: 1, min_p: 0, seed: 7, stream: true };
const longChat = { messages: [{ role: 'user', content: 'Tell me a very long story.' }], max_tokens: LONG, temperature: 1.5, top_k: 0, top_p: 1, min_p: 0, seed: 9, stream: true };
const probe = { prompt: 'The little dog', max_tokens: 24, temperature: 0 };
let probeText;
let midGeneration = 0; // aborts seen with the slots still busy (diagnostic)

/// The generations the server logged as ended by their client leaving, with the tokens
/// each had generated ("... N generated in T ms: client gone").
const clientGone = () => [...server.stderr().matchAll(/ (\d+) generated in [\d.]+ ms: client gone/g)].map((m) => Number(m[1]));
/// Both streams just cut were cancelled by it, long before their max_tokens.
async function assertCutShort(before) {
  for (const t0 = Date.now(); clientGone().length < before + 2 && Date.now() - t0 < 2000;) await sleep(20);  // stderr is a pipe
  const gone = clientGone().slice(before);
  assert.equal(gone.length, 2, `two generations logged "client gone" after the cut:\n${server.stderr().split('\n').slice(-6).join('\n')}`);
  for (const n of gone) assert.ok(n < LONG, `a cut stream stopped at ${n} of ${LONG} tokens`);
}

/// Polls /health until every slot is idle and nothing waits; fails after `ms`.
async function waitIdle(ms = 2000, s = server) {
  const t0 = Date.now();
  let h;
  for (;;) {
    h = await health(s);
    if (h.status === 'ok' && h.slots_idle === PARALLEL && h.slots_processing === 0 && h.requests_waiting === 0) return Date.now() - t0;
    if (Date.now() - t0 > ms) assert.fail(`the slots are not idle ${ms} ms after the clients left: ${JSON.stringify(h)}`);
    await sleep(20);
  }
}

/// Polls /health until every slot is generating; fails after `ms`.
async function waitBusy(ms = 10000) {
  const t0 = Date.now();
  for (;;) {
    const h = await health();
    if (h.slots_processing === PARALLEL) return;
    if (Date.now() - t0 > ms) assert.fail(`the slots are not all busy ${ms} ms after the requests: ${JSON.stringify(h)}`);
    await sleep(10);
  }
}

/// The server still serves: a greedy request gives the text it gave at the start.
async function stillServes() {
  const r = await post('/v1/completions', probe);
  assert.equal(r.status, 200);
  const j = await r.json();
  assert.equal(j.choices[0].text, probeText, 'the same greedy text as before the faults');
}

/// A streaming request through fetch, read until `chunks` SSE events arrived.
async function openStream(route, body, chunks = 1) {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), 15000);
  const r = await post(route, body, ac.signal);
  assert.equal(r.status, 200, `${route}: ${r.status}`);
  assert.match(r.headers.get('content-type') ?? '', /^text\/event-stream/);
  const reader = r.body.getReader();
  const dec = new TextDecoder();
  let text = '';
  while ((text.match(/^data: /gm) ?? []).length < chunks) {
    const { value, done } = await reader.read();
    if (done) break;
    text += dec.decode(value, { stream: true });
  }
  clearTimeout(timer);
  return { ac, reader, text, finished: text.includes('data: [DONE]') };
}

/// Raw HTTP over node:net: sends a request; resolves with the socket once `until(received)`.
function rawRequest(route, body, until, port = server.port) {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const sock = net.connect(port, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`no answer to ${route} within 10 s: ${got.slice(0, 200)}`)); }, 10000);
    sock.on('error', (e) => { clearTimeout(timer); reject(e); });
    sock.on('connect', () => {
      sock.write(`POST ${route} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`);
      if (until('')) { clearTimeout(timer); resolve({ sock, got }); }
    });
    sock.on('data', (d) => {
      got += d;
      if (until(got)) { clearTimeout(timer); resolve({ sock, got }); }
    });
  });
}

test('the server answers before any fault', { timeout: 10000 }, async () => {
  const h = await health();
  assert.deepEqual(h, { status: 'ok', slots_idle: PARALLEL, slots_processing: 0, requests_waiting: 0 });
  const r = await post('/v1/completions', probe);
  assert.equal(r.status, 200);
  probeText = (await r.json()).choices[0].text;
  assert.ok(probeText.length > 0);
});

test('two streams aborted after their first chunks free both slots, three times', { timeout: 20000 }, async () => {
  for (let round = 0; round < 3; round++) {
    const streams = await Promise.all([
      openStream('/v1/completions', { ...longCompletion, seed: round }, 1 + round),
      openStream('/v1/chat/completions', { ...longChat, seed: round }, 2 + round),
    ]);
    const h = await health();
    if (h.slots_processing === PARALLEL && !streams.some((s) => s.finished)) midGeneration++;
    const before = clientGone().length;
    for (const s of streams) s.ac.abort();
    await waitIdle(2000);
    await assertCutShort(before);
    await stillServes();
  }
});

test('streams whose sockets are closed or reset (RST) mid-stream free their slots', { timeout: 20000 }, async () => {
  // (A half-close, sock.end(), is not a disconnect: the client may still read the reply.)
  for (const how of ['destroy', 'reset', 'destroy']) {
    const hasChunk = (s) => /\r\n\r\n[\s\S]*data: /.test(s);
    const conns = await Promise.all([
      rawRequest('/v1/completions', longCompletion, hasChunk),
      rawRequest('/v1/chat/completions', longChat, hasChunk),
    ]);
    for (const { got } of conns) assert.match(got, /^HTTP\/1\.[01] 200/);
    const h = await health();
    if (h.slots_processing === PARALLEL) midGeneration++;
    const before = clientGone().length;
    for (const { sock } of conns) {
      sock.on('error', () => {});
      if (how === 'destroy') sock.destroy();
      else sock.resetAndDestroy();
    }
    await waitIdle(2000);
    await assertCutShort(before);
    await stillServes();
  }
});

test('a client process killed with SIGKILL mid-stream frees its slot', { timeout: 20000 }, async () => {
  const script = `
    const r = await fetch(${JSON.stringify(`${server.url}/v1/completions`)}, { method: 'POST',
      headers: { 'Content-Type': 'application/json' }, body: ${JSON.stringify(JSON.stringify(longCompletion))} });
    const reader = r.body.getReader();
    await reader.read();
    console.log('first chunk');
    for (;;) { const { done } = await reader.read(); if (done) break; await new Promise((r) => setTimeout(r, 5)); }
    console.log('done');`;
  for (let round = 0; round < 2; round++) {
    const kids = [0, 1].map(() => spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] }));
    await Promise.all(kids.map((kid) => new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the client process got no chunk within 10 s')), 10000);
      kid.stdout.on('data', (d) => { if (String(d).includes('first chunk')) { clearTimeout(timer); resolve(); } });
      kid.on('exit', (code) => { clearTimeout(timer); reject(new Error(`the client process exited (${code}) before its first chunk`)); });
    })));
    for (const kid of kids) kid.removeAllListeners('exit');
    const before = clientGone().length;
    await Promise.all(kids.map((kid) => new Promise((resolve) => { kid.on('exit', resolve); kid.kill('SIGKILL'); })));
    await waitIdle(2000);
    await assertCutShort(before);
    await stillServes();
  }
});

// A whole reply's client that leaves is noticed too (the server asks the socket after
// each token): the generation ends long before its max_tokens, the slot frees.
test('a non-streaming request whose socket closes: its generation ends, the slot frees', { timeout: 30000 }, async () => {
  const took = [];
  for (const how of ['destroy', 'reset']) {
    const before = clientGone().length;
    const conns = await Promise.all([
      rawRequest('/v1/completions', { ...longCompletion, stream: false }, () => true),
      rawRequest('/v1/chat/completions', { ...longChat, stream: false }, () => true),
    ]);
    await waitBusy(); // both generating
    for (const { sock } of conns) {
      sock.on('error', () => {});
      if (how === 'destroy') sock.destroy();
      else sock.resetAndDestroy();
    }
    took.push(await waitIdle(2000));
    await assertCutShort(before);
    await stillServes();
  }
  console.log(`fault: slots idle ${took.join(' ms, ')} ms after non-streaming clients closed their sockets`);
});

test('a request that gives up while waiting in the queue leaves it', { timeout: 20000 }, async () => {
  const streams = await Promise.all([
    openStream('/v1/completions', longCompletion),
    openStream('/v1/chat/completions', longChat),
  ]);
  // A third request waits for a slot (if both are still busy), then its client leaves.
  const ac = new AbortController();
  const waiting = post('/v1/completions', { ...probe, max_tokens: 4 }, ac.signal).catch((e) => e);
  await sleep(50);
  ac.abort();
  await waiting;
  for (const s of streams) s.ac.abort();
  await waitIdle(2000);
  await stillServes();
});

test('the server is alive after the faults and exits 0 on SIGTERM', { timeout: 15000 }, async () => {
  assert.equal(server.proc.exitCode, null, 'still running');
  assert.equal(server.proc.signalCode, null, 'still running');
  await waitIdle(2000);
  console.log(`fault: ${midGeneration} of 6 stream aborts came with both slots busy`);
  const code = await Promise.race([server.stop(), sleep(10000).then(() => 'no exit within 10 s')]);
  assert.equal(code, 0, `exit code on SIGTERM:\n${server.stderr().slice(-4000)}`);
});

test('SIGTERM with generations running: exit 0, promptly', { timeout: 20000 }, async () => {
  const s = await startServer(['--parallel', String(PARALLEL), '-c', String(CTX), '--max-tokens', String(LONG)]);
  servers.push(s);
  const hasChunk = (g) => /\r\n\r\n[\s\S]*data: /.test(g);
  const conns = await Promise.all([
    rawRequest('/v1/completions', longCompletion, hasChunk, s.port),
    rawRequest('/v1/chat/completions', longChat, hasChunk, s.port),
  ]);
  for (const { sock } of conns) sock.on('error', () => {});
  const t0 = Date.now();
  const code = await Promise.race([s.stop(), sleep(10000).then(() => 'no exit within 10 s')]);
  assert.equal(code, 0, `exit code on SIGTERM with streams running:\n${s.stderr().slice(-4000)}`);
  // (An idle keep-alive connection, as fetch leaves one, may hold the exit up to the
  // server's 5 s keep-alive timeout.)
  assert.ok(Date.now() - t0 < 8000, `exited ${Date.now() - t0} ms after SIGTERM`);
  console.log(`fault: exit ${Date.now() - t0} ms after SIGTERM with two streams running`);
  for (const { sock } of conns) sock.destroy();
});

// --timeout: a generation that would take far longer (8000 tokens over a context of 8192
// positions: attention alone makes that many seconds) ends at the limit with what it has,
// finish_reason "length", whole or streamed, and the slot serves the next request.
test('--timeout ends a long generation at its limit, with finish_reason length', { timeout: 30000 }, async () => {
  const s = await startServer(['--parallel', '1', '-c', '8192', '--max-tokens', '8000', '--timeout', '1']);
  servers.push(s);
  try {
    const body = { ...longCompletion, max_tokens: 8000, stream: false };
    const t0 = Date.now();
    const whole = await fetch(`${s.url}/v1/completions`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body), signal: AbortSignal.timeout(20000) });
    const took = Date.now() - t0;
    assert.equal(whole.status, 200);
    const j = await whole.json();
    assert.equal(j.choices[0].finish_reason, 'length');
    assert.ok(j.usage.completion_tokens > 0 && j.usage.completion_tokens < 8000, `cut at ${j.usage.completion_tokens} tokens`);
    assert.ok(took < 10000, `answered ${took} ms after a 1 s limit`);

    const streamed = await fetch(`${s.url}/v1/completions`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ ...body, stream: true }), signal: AbortSignal.timeout(20000) });
    const events = (await streamed.text()).split('\n\n').filter((e) => e.startsWith('data: '));
    assert.equal(events.at(-1), 'data: [DONE]');
    assert.equal(JSON.parse(events.at(-2).slice(6)).choices[0].finish_reason, 'length');
    assert.ok(events.length < 8000, `${events.length} events`);
    assert.equal([...s.stderr().matchAll(/generated in [\d.]+ ms: time limit/g)].length, 2, 'both logged as "time limit"');

    const after = await fetch(`${s.url}/v1/completions`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(probe), signal: AbortSignal.timeout(10000) });
    assert.equal((await after.json()).choices[0].text, probeText, 'the slot serves the next request as before');
    console.log(`fault: --timeout 1 cut a whole reply at ${j.usage.completion_tokens} tokens, answered after ${took} ms`);
  } finally {
    await s.stop();
  }
});
