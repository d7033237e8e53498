// Two nibble-server replicas behind HAProxy (tests/server/haproxy.cfg, the file
// docs/serving.md shows, with free ports put in): a bounded stream of greedy completions
// through the proxy, one replica SIGKILLed part way. Only requests in flight on the
// killed replica may fail (generation is not retried: it is not idempotent); HAProxy's
// health checks take the dead replica out and every later request is served by the
// survivor; every answer is a well-formed completion, the same greedy text for the same
// prompt whichever replica (and slot) served it, streaming or not.
//
// Prints one line starting "replicas:" with the figures. Exits 77 (skipped) when HAProxy
// is missing, unless CI=true. Environment: see common.mjs; HAPROXY the haproxy binary
// (default /usr/sbin/haproxy).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, percentile } from './common.mjs';

const haproxyBinary = process.env.HAPROXY ?? '/usr/sbin/haproxy';
const template = path.join(path.dirname(fileURLToPath(import.meta.url)), 'haproxy.cfg');

if (!fs.existsSync(haproxyBinary) && process.env.CI !== 'true') {
  console.log(`replicas: skipped: ${haproxyBinary} is missing (apt-get install haproxy; set HAPROXY to another one)`);
  process.exit(77);
}

const REQUESTS = 60;        // requests sent through HAProxy
const CONCURRENCY = 4;      // at once
const KILL_AFTER = 20;      // answered requests before a replica is killed
const LATE_FROM = 40;       // requests from this index on start only after the window
const WINDOW_MS = 1500;     // the kill is detected (and the replica taken out) within this
const MAX_TOKENS = 24;
const REQUEST_TIMEOUT_MS = 20000;
const PROMPTS = [
  'Once upon a time',
  'The little dog',
  'Lily wanted to',
  'One day, a bird',
  'Tom and his mom',
  'The sun was',
];

// Children to kill whatever happens (a failed assertion, a timeout, an exception).
const children = new Set();
function killAll() {
  for (const p of children) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
}
process.on('exit', killAll);
after(killAll);

const now = () => performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/// p, or undefined after ms (the timer does not outlive p).
function within(p, ms) {
  let timer;
  return Promise.race([p, new Promise((r) => { timer = setTimeout(r, ms); })]).finally(() => clearTimeout(timer));
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/// haproxy.cfg with its three ports (8080 frontend, 8081 and 8082 replicas) replaced.
function config(frontPort, port1, port2) {
  let cfg = fs.readFileSync(template, 'utf8');
  for (const [from, to] of [['bind 127.0.0.1:8080', `bind 127.0.0.1:${frontPort}`],
                            ['server r1 127.0.0.1:8081', `server r1 127.0.0.1:${port1}`],
                            ['server r2 127.0.0.1:8082', `server r2 127.0.0.1:${port2}`]]) {
    assert.equal(cfg.split(from).length, 2, `haproxy.cfg has "${from}" once`);
    cfg = cfg.replace(from, to);
  }
  return cfg;
}

/// Starts `haproxy -f cfg -db` (foreground) and resolves once it proxies /health with 200
/// from both replicas (seen in X-Nibble-Replica).
async function startHAProxy(cfgPath, url, timeoutMs = 15000) {
  const proc = spawn(haproxyBinary, ['-f', cfgPath, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  let log = '';
  const down = {}; // server name -> performance.now() when haproxy logged it DOWN
  const onData = (d) => {
    log += d;
    for (const m of log.matchAll(/Server nibble\/(\w+) is DOWN/g)) down[m[1]] ??= now();
  };
  proc.stdout.on('data', onData);
  proc.stderr.on('data', onData);
  let exited = null;
  proc.on('exit', (code, signal) => { exited = code ?? signal; });
  const seen = new Set();
  const deadline = Date.now() + timeoutMs;
  while (seen.size < 2) {
    if (exited !== null) throw new Error(`haproxy exited (${exited}):\n${log}`);
    if (Date.now() > deadline) throw new Error(`haproxy did not proxy /health to both replicas within ${timeoutMs} ms (saw ${[...seen]}):\n${log}`);
    try {
      const r = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
      await r.arrayBuffer();
      if (r.status === 200 && r.headers.get('x-nibble-replica')) seen.add(r.headers.get('x-nibble-replica'));
    } catch { /* not yet */ }
    await sleep(50);
  }
  return {
    proc,
    log: () => log,
    downAt: (name) => down[name],
    stop: () => new Promise((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return resolve(proc.exitCode ?? proc.signalCode);
      proc.on('exit', (code, signal) => resolve(code ?? signal));
      proc.kill('SIGTERM');
    }),
  };
}

function checkUsage(usage) {
  assert.ok(usage && Number.isInteger(usage.prompt_tokens) && usage.prompt_tokens > 0, `usage.prompt_tokens: ${JSON.stringify(usage)}`);
  assert.ok(Number.isInteger(usage.completion_tokens) && usage.completion_tokens >= 0 && usage.completion_tokens <= MAX_TOKENS,
    `usage.completion_tokens: ${JSON.stringify(usage)}`);
  assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens, `usage.total_tokens: ${JSON.stringify(usage)}`);
}

/// The text of a well-formed non-streaming completion (throws otherwise).
function completionText(body) {
  const j = JSON.parse(body);
  assert.equal(j.object, 'text_completion', body);
  assert.match(j.id, /^cmpl-/, body);
  assert.ok(Number.isInteger(j.created), body);
  assert.equal(typeof j.model, 'string', body);
  assert.equal(j.choices.length, 1, body);
  const c = j.choices[0];
  assert.equal(c.index, 0, body);
  assert.equal(typeof c.text, 'string', body);
  assert.ok(c.finish_reason === 'stop' || c.finish_reason === 'length', body);
  assert.equal(c.logprobs, null, body);
  checkUsage(j.usage);
  return c.text;
}

/// The text of a well-formed completion stream: `data: {chunk}` events, the last with
/// choices with finish_reason set, then `data: [DONE]` (throws otherwise, e.g. cut short).
function streamText(body) {
  const events = body.split('\n\n').filter((e) => e.trim() !== '');
  assert.ok(events.length >= 2, `a stream of at least one chunk and [DONE]: ${JSON.stringify(body)}`);
  assert.equal(events.at(-1), 'data: [DONE]', `the stream ends with data: [DONE]: ${JSON.stringify(body.slice(-200))}`);
  let text = '';
  let finish = null;
  for (const e of events.slice(0, -1)) {
    assert.ok(e.startsWith('data: '), `an SSE data event: ${JSON.stringify(e)}`);
    const j = JSON.parse(e.slice(6));
    assert.equal(j.object, 'text_completion', e);
    assert.match(j.id, /^cmpl-/, e);
    if (j.choices.length === 0) { checkUsage(j.usage); continue; } // include_usage's chunk
    assert.equal(finish, null, `no chunk after the one with finish_reason: ${e}`);
    assert.equal(j.choices.length, 1, e);
    assert.equal(j.choices[0].index, 0, e);
    assert.equal(typeof j.choices[0].text, 'string', e);
    text += j.choices[0].text;
    if (j.choices[0].finish_reason != null) finish = j.choices[0].finish_reason;
  }
  assert.ok(finish === 'stop' || finish === 'length', `a chunk with finish_reason stop or length: ${JSON.stringify(body.slice(-300))}`);
  return text;
}

async function complete(url, r) {
  const res = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ prompt: r.prompt, max_tokens: MAX_TOKENS, temperature: 0, stream: r.stream }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  r.status = res.status;
  r.replica = res.headers.get('x-nibble-replica');
  const body = await res.text();
  if (res.status !== 200) {
    r.body = body;
    throw new Error(`status ${res.status}: ${body.slice(0, 300)}`);
  }
  if (r.stream) {
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    return streamText(body);
  }
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  return completionText(body);
}

test('two replicas behind HAProxy: one killed mid-run, only its requests in flight fail', { timeout: 90000 }, async () => {
  assert.ok(fs.existsSync(haproxyBinary), `${haproxyBinary} is missing (CI=true: not skipped)`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nibble-replicas-'));
  const replicas = [];
  let haproxy = null;
  try {
    for (let i = 0; i < 2; i++) {
      const s = await startServer(['--parallel', '2', '--threads', '1']);
      children.add(s.proc);
      replicas.push(s);
    }
    const [r1, r2] = replicas;
    const frontPort = await freePort();
    const cfgPath = path.join(tmp, 'haproxy.cfg');
    fs.writeFileSync(cfgPath, config(frontPort, r1.port, r2.port));
    const url = `http://127.0.0.1:${frontPort}`;
    haproxy = await startHAProxy(cfgPath, url);

    const requests = Array.from({ length: REQUESTS }, (_, i) => ({
      i,
      prompt: PROMPTS[i % PROMPTS.length],
      stream: Math.floor(i / PROMPTS.length) % 3 === 2, // rounds 2, 5, 8 stream
    }));
    let next = 0;
    let answered = 0;
    let killAt = null;   // performance.now() of the SIGKILL
    let diedAt = null;   // of its exit: the kernel has closed its sockets by then
    const victim = 'r1';
    const survivor = 'r2';
    const victimExit = new Promise((resolve) => r1.proc.on('exit', (code, signal) => { diedAt = now(); resolve(code ?? signal); }));

    const worker = async () => {
      while (next < requests.length) {
        const r = requests[next++];
        if (r.i >= LATE_FROM) {
          while (killAt === null) await sleep(10);
          // (a loop: a timer may fire a fraction of a millisecond early)
          while (now() < killAt + WINDOW_MS) await sleep(Math.max(1, Math.ceil(killAt + WINDOW_MS - now())));
        }
        r.start = now();
        try {
          r.text = await complete(url, r);
          r.ok = true;
        } catch (e) {
          r.ok = false;
          r.error = String(e?.cause ?? e);
        }
        r.end = now();
        if (++answered === KILL_AFTER) {
          killAt = now();
          r1.proc.kill('SIGKILL');
        }
      }
    };
    const run0 = now();
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const elapsed = now() - run0;
    assert.equal(await victimExit, 'SIGKILL');
    // In flight at the kill: sent before the victim was gone (a connection it had
    // accepted until its exit may carry a request it never answers), not answered
    // before the SIGKILL.
    const inFlightAtKill = requests.filter((q) => q.start < diedAt && q.end > killAt);

    // HAProxy noticed ("Server nibble/r1 is DOWN", its health checks) within the window.
    for (let t = 0; haproxy.downAt(victim) === undefined && t < 100; t++) await sleep(20);
    const downMs = haproxy.downAt(victim) - killAt;
    assert.ok(downMs >= 0, `haproxy took ${victim} out:\n${haproxy.log()}`);
    assert.ok(downMs < WINDOW_MS, `haproxy took ${victim} out within ${WINDOW_MS} ms: ${downMs} ms`);
    assert.equal(haproxy.downAt(survivor), undefined, `${survivor} stayed up:\n${haproxy.log()}`);

    const ok = requests.filter((r) => r.ok);
    const failed = requests.filter((r) => !r.ok);
    const served = (name) => ok.filter((r) => r.replica === name).length;
    const lat = ok.map((r) => r.end - r.start);
    // Sent after the victim's exit and before HAProxy took it out: those leastconn gave
    // the dead replica were refused a connection and redispatched to the survivor.
    const gap = requests.filter((r) => r.start > diedAt && r.start < haproxy.downAt(victim));
    console.log(`replicas: ${REQUESTS} requests (${requests.filter((r) => r.stream).length} streaming, ${CONCURRENCY} at once), ` +
      `${ok.length} ok, ${failed.length} failed in flight (${inFlightAtKill.length} in flight at the kill after ${KILL_AFTER} answered; exit ${(diedAt - killAt).toFixed(1)} ms after the SIGKILL), ` +
      `served by r1 ${served('r1')}, r2 ${served('r2')}; ${survivor}-only after the kill + ${WINDOW_MS} ms: ` +
      `${requests.filter((r) => r.start >= killAt + WINDOW_MS).length}; r1 out ${downMs.toFixed(0)} ms after the kill, ` +
      `${gap.filter((r) => r.ok).length}/${gap.length} sent in between ok (slowest ${Math.max(0, ...gap.map((r) => r.end - r.start)).toFixed(1)} ms); ` +
      `p50 ${percentile(lat, 50).toFixed(1)} ms, p99 ${percentile(lat, 99).toFixed(1)} ms; ${elapsed.toFixed(0)} ms in all`);
    for (const r of failed) console.log(`replicas: request ${r.i} failed (started ${(r.start - killAt).toFixed(1)} ms from the kill): ${r.error}`);

    // Every request was answered (no timeout: the worker loop ended) and none of those
    // answered before the kill failed.
    for (const r of requests) assert.ok(r.end !== undefined, `request ${r.i} answered`);
    for (const r of requests.filter((q) => q.end < killAt)) assert.ok(r.ok, `request ${r.i}, answered before the kill, succeeded: ${r.error}`);
    // Both replicas served before the kill.
    const before = ok.filter((r) => r.end < killAt);
    for (const name of ['r1', 'r2']) assert.ok(before.some((r) => r.replica === name), `${name} served requests before the kill`);
    // Only requests in flight at the kill failed.
    assert.ok(failed.length <= inFlightAtKill.length, `${failed.length} failures <= ${inFlightAtKill.length} in flight at the kill`);
    for (const r of failed) {
      // What the client sees: HAProxy's 502 (haproxy.cfg's OpenAI error object), the
      // connection closed without a reply, or a stream cut short (no data: [DONE]).
      if (r.status !== undefined && r.status !== 200) {
        assert.equal(r.status, 502, `failed request ${r.i}: ${r.error}`);
        assert.equal(JSON.parse(r.body).error.code, 'bad_gateway', r.body);
      }
      assert.ok(r.start < diedAt, `failed request ${r.i} started before the killed replica exited`);
      assert.ok(inFlightAtKill.includes(r), `failed request ${r.i} was in flight at the kill`);
    }
    // Requests started after the kill + the detection window: all served by the survivor.
    const late = requests.filter((r) => r.start >= killAt + WINDOW_MS);
    assert.ok(late.length >= REQUESTS - LATE_FROM, `${late.length} requests started after the window`);
    for (const r of late) {
      assert.ok(r.ok, `request ${r.i}, started after the kill + ${WINDOW_MS} ms, succeeded: ${r.error}`);
      assert.equal(r.replica, survivor, `request ${r.i}, started after the kill + ${WINDOW_MS} ms, served by ${survivor}`);
    }
    // Requests started after the kill at all never reached the dead replica.
    for (const r of ok.filter((q) => q.start > diedAt)) assert.equal(r.replica, survivor, `request ${r.i}, started after the kill, served by ${survivor}`);
    // Every success names its replica, and the same prompt gave the same greedy text.
    for (const r of ok) assert.ok(r.replica === 'r1' || r.replica === 'r2', `request ${r.i}: X-Nibble-Replica ${r.replica}`);
    for (const prompt of PROMPTS) {
      const texts = ok.filter((r) => r.prompt === prompt);
      assert.ok(texts.length > 0, `"${prompt}" answered`);
      for (const r of texts) {
        assert.equal(r.text, texts[0].text,
          `"${prompt}": request ${r.i} (${r.replica}${r.stream ? ', streaming' : ''}) gives request ${texts[0].i}'s text (${texts[0].replica}${texts[0].stream ? ', streaming' : ''})`);
      }
    }
    assert.ok(ok.some((r) => r.text.length > 0), 'some text generated');

    // The survivor is still healthy, directly.
    const h = await fetch(`${r2.url}/health`, { signal: AbortSignal.timeout(5000) });
    assert.equal(h.status, 200);
    assert.equal((await h.json()).status, 'ok');
  } finally {
    if (haproxy) await within(haproxy.stop(), 10000);
    for (const s of replicas) await within(s.stop(), 10000);
    killAll();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
