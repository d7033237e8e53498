// nibble-server given bad requests: each gets the status docs/server.md gives it with an
// OpenAI error object {"error":{"message","type","param","code"}}, or (for what no status
// is promised) at least no crash and no hang; afterwards /health is 200 and a normal
// request gets the answer it got before. Raw HTTP: node:net for bodies and framing fetch
// will not send, fetch for the rest.
//
// Run: NIBBLE_SERVER=build/bin/nibble-server node tests/server/hostile.test.mjs
// (raw HTTP only: needs no npm package)
import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer, guardServers } from './common.mjs';

const MAX_TOKENS = 64;
const server = await startServer(['--parallel', '2', '--max-tokens', String(MAX_TOKENS)]);
guardServers('hostile.test.mjs', 100).push(server);
after(async () => {
  assert.equal(server.proc.exitCode, null, `nibble-server still running after the hostile requests:\n${server.stderr().slice(-4000)}`);
  assert.equal(await server.stop(), 0, `nibble-server exits 0 on SIGTERM:\n${server.stderr().slice(-4000)}`);
});

const T = { timeout: 30000 };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/// fetch with a 10 s limit; resolves to {status, headers, text, json (or undefined)}.
async function call(route, { method = 'POST', body, type = 'application/json', headers = {} } = {}) {
  const h = { ...headers };
  if (type !== null) h['Content-Type'] = type;
  const r = await fetch(`${server.url}${route}`, {
    method, headers: h, body: typeof body === 'string' || body === undefined ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(10000),
  });
  const text = await r.text();
  let json;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, headers: r.headers, text, json };
}

/// Raw bytes over node:net. Resolves to {status, head, body, error}: whatever came back
/// before the server closed, `error` set where the connection failed (reset, EPIPE).
/// `halfClose` ends our side after writing; the wait is bounded by `ms`.
function raw(data, { halfClose = false, ms = 10000, chunks } = {}) {
  return new Promise((resolve) => {
    const sock = net.connect(server.port, '127.0.0.1');
    const got = [];
    let settled = false;
    const finish = (error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      const all = Buffer.concat(got).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(all);
      const sep = all.indexOf('\r\n\r\n');
      resolve({ status: m ? Number(m[1]) : undefined, head: sep >= 0 ? all.slice(0, sep) : all, body: sep >= 0 ? all.slice(sep + 4) : '', error, timedOut: error === 'timeout' });
    };
    const timer = setTimeout(() => finish('timeout'), ms);
    sock.on('error', (e) => finish(e.code ?? String(e)));
    sock.on('end', () => finish());
    sock.on('close', () => finish());
    sock.on('data', (d) => {
      got.push(d);
      // A complete response with a Content-Length: done (a server may keep the connection).
      const all = Buffer.concat(got).toString('latin1');
      const sep = all.indexOf('\r\n\r\n');
      const cl = /\r\ncontent-length:\s*(\d+)/i.exec(all.slice(0, sep));
      if (sep >= 0 && cl && Buffer.byteLength(all.slice(sep + 4), 'latin1') >= Number(cl[1])) finish();
    });
    sock.on('connect', async () => {
      try {
        for (const piece of chunks ?? [data]) {
          if (settled) return;
          if (!sock.write(piece)) await new Promise((r) => { sock.once('drain', r); sock.once('close', r); });
        }
        if (halfClose && !settled) sock.end();
      } catch { /* reported through 'error' */ }
    });
  });
}

const rawPost = (route, body, extra = '') => raw(
  `POST ${route} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);

function isError(r, status, type, what) {
  assert.equal(r.status, status, `${what}: status ${status} expected, got ${r.status}: ${(r.text ?? r.body ?? '').slice(0, 300)}`);
  const j = r.json ?? JSON.parse(r.body);
  assert.ok(j && typeof j.error === 'object' && j.error !== null, `${what}: an OpenAI error object: ${(r.text ?? r.body).slice(0, 300)}`);
  assert.equal(typeof j.error.message, 'string', `${what}: error.message`);
  assert.ok(j.error.message.length > 0, `${what}: a message`);
  if (type !== undefined) assert.equal(j.error.type, type, `${what}: error.type`);
  for (const k of ['param', 'code']) assert.ok(k in j.error, `${what}: error.${k} present (null or a value): ${JSON.stringify(j)}`);
  return j.error;
}
const bad = (r, what) => isError(r, 400, 'invalid_request_error', what);

async function healthy() {
  const h = await call('/health', { method: 'GET', type: null });
  assert.equal(h.status, 200, `health after: ${h.text}`);
  assert.equal(h.json.status, 'ok');
}

let reference;
const normal = { prompt: 'Once upon a time', max_tokens: 12, temperature: 0 };

test('a normal request first', T, async () => {
  const r = await call('/v1/completions', { body: normal });
  assert.equal(r.status, 200, r.text);
  reference = r.json.choices[0].text;
});

test('malformed JSON: 400', T, async () => {
  for (const body of ['{"prompt": "Once upon', '{"prompt": "hi",}', '{prompt: "hi"}', '', '{"prompt": "hi"} trailing',
    '{"prompt":"hi","max_tokens":1e}', '{"prompt":"\\x41"}', '\u0000']) {
    bad(await call('/v1/completions', { body }), `completions ${JSON.stringify(body)}`);
  }
  bad(await call('/v1/chat/completions', { body: '{"messages": [{"role": "user", "content": "hi"' }), 'chat truncated');
  bad(await call('/v1/embeddings', { body: '{"input": ["a", ' }), 'embeddings truncated');
  // Truncated on the wire: fewer bytes than Content-Length, then our side closes.
  const r = await raw(`POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"prompt": "Once`,
    { halfClose: true });
  assert.ok(!r.timedOut, 'a body cut short is not waited on forever');
  if (r.status !== undefined) assert.ok(r.status >= 400 && r.status < 500, `a body cut short: ${r.status}`);
  await healthy();
});

test('JSON that is not an object: 400', T, async () => {
  for (const body of ['[]', '"prompt"', 'null', '42', 'true', '[{"prompt":"hi"}]']) {
    bad(await call('/v1/completions', { body }), `completions ${body}`);
    bad(await call('/v1/chat/completions', { body }), `chat ${body}`);
  }
});

test('a body over --max-body: 413, and the server survives', T, async () => {
  const big = JSON.stringify({ prompt: 'hi', pad: 'x'.repeat(10 * 1024 * 1024) });
  // Streamed in pieces; the server may answer and close before all of it is sent.
  const head = `POST /v1/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${big.length}\r\n\r\n`;
  const pieces = [head];
  for (let i = 0; i < big.length; i += 65536) pieces.push(big.slice(i, i + 65536));
  const r = await raw(null, { chunks: pieces, ms: 15000 });
  assert.ok(!r.timedOut, `10 MB: an answer or a close within 15 s, got ${r.status} ${r.error}`);
  if (r.status !== undefined) isError(r, 413, 'invalid_request_error', '10 MB body');
  else assert.ok(['ECONNRESET', 'EPIPE', undefined].includes(r.error), `10 MB: a reset at most: ${r.error}`);
  await healthy();

  // Through fetch too (which sends it all first): 413 or a reset.
  try {
    const f = await call('/v1/completions', { body: big });
    isError(f, 413, 'invalid_request_error', '10 MB body by fetch');
  } catch (e) {
    assert.ok(/fetch failed|socket|ECONNRESET|EPIPE|other side closed/i.test(`${e} ${e.cause ?? ''}`), `10 MB by fetch: ${e} ${e.cause ?? ''}`);
  }
  await healthy();

  // Just over the limit (1 MiB by default): 413; just under: served, the padding ignored.
  const over = JSON.stringify({ ...normal, pad: 'y'.repeat(1048576 - 60) });
  assert.ok(over.length > 1048576);
  const o = await rawPost('/v1/completions', over);
  if (o.status !== undefined) isError(o, 413, 'invalid_request_error', `a ${over.length}-byte body`);
  const underPad = 1048576 - JSON.stringify({ ...normal, pad: '' }).length - 16;
  const under = JSON.stringify({ ...normal, pad: 'z'.repeat(underPad) });
  assert.ok(under.length <= 1048576);
  const u = await call('/v1/completions', { body: under });
  assert.equal(u.status, 200, `a ${under.length}-byte body (under --max-body): ${u.text.slice(0, 300)}`);
  assert.equal(u.json.choices[0].text, reference);
  await healthy();
});

test('a Content-Length over --max-body is refused at once, before a body that may never come', T, async () => {
  // Else each such connection holds one of the --http-threads until the read times out.
  const h = await raw(`POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 999999999999\r\n\r\n`, { ms: 5000 });
  assert.ok(!h.timedOut, 'Content-Length 999999999999 and no body: no answer within 5 s');
  if (h.status !== undefined) isError(h, 413, 'invalid_request_error', 'Content-Length 999999999999');
  await healthy();
});

test('a Content-Type other than application/json: 415', T, async () => {
  const body = JSON.stringify(normal);
  for (const type of ['text/plain', 'text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', 'application/jsonx', 'text/json']) {
    isError(await call('/v1/completions', { body, type }), 415, 'invalid_request_error', `Content-Type ${type}`);
  }
  isError(await call('/v1/chat/completions', { body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }), type: 'text/plain' }),
    415, 'invalid_request_error', 'chat text/plain');
  isError(await call('/v1/embeddings', { body: '{"input":"hi"}', type: 'text/plain' }), 415, 'invalid_request_error', 'embeddings text/plain');
  // No Content-Type at all: docs/server.md does not say; 415, or the body taken as JSON.
  const r = await raw(`POST /v1/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  if (r.status !== 200) isError(r, 415, 'invalid_request_error', 'no Content-Type');
  // application/json with parameters, in any case, is JSON.
  for (const type of ['application/json; charset=utf-8', 'Application/JSON']) {
    const ok = await call('/v1/completions', { body, type });
    assert.equal(ok.status, 200, `Content-Type ${type}: ${ok.text}`);
    assert.equal(ok.json.choices[0].text, reference);
  }
});

test('multipart/form-data: 415 too', T, async () => {
  const body = JSON.stringify(normal);
  isError(await call('/v1/completions', { body, type: 'multipart/form-data; boundary=x' }), 415, 'invalid_request_error',
    'Content-Type multipart/form-data');
});

test('more than 16 stop strings: 400 (docs/server.md: a string or an array of up to 16)', T, async () => {
  const many = Array.from({ length: 17 }, (_, i) => `s${i}`);
  bad(await call('/v1/completions', { body: { ...normal, stop: many } }), 'completions, 17 stop strings');
  bad(await call('/v1/chat/completions', { body: { messages: [{ role: 'user', content: 'hi' }], stop: many } }),
    'chat, 17 stop strings');
});

test('fields out of range: 400', T, async () => {
  const cases = [
    { max_tokens: -1 }, { max_tokens: -100 }, { max_tokens: MAX_TOKENS + 1 }, { max_tokens: 1e300 },
    { temperature: -0.5 }, { temperature: 'NaN' }, { temperature: 'Infinity' },
    { top_p: 0 }, { top_p: -0.1 }, { top_p: 1.5 },
    { n: 2 }, { n: 0 },
  ];
  for (const c of cases) bad(await call('/v1/completions', { body: { ...normal, ...c } }), `completions ${JSON.stringify(c)}`);
  const messages = [{ role: 'user', content: 'hi' }];
  for (const c of [{ max_tokens: -1 }, { max_completion_tokens: -5 }, { temperature: -1 }, { top_p: 2 }, { n: 3 }]) {
    bad(await call('/v1/chat/completions', { body: { messages, ...c } }), `chat ${JSON.stringify(c)}`);
  }
  // NaN and Infinity as bare words are not JSON.
  for (const lit of ['NaN', 'Infinity', '-Infinity', 'nan']) {
    bad(await call('/v1/completions', { body: `{"prompt":"hi","max_tokens":4,"temperature":${lit}}` }), `temperature ${lit}`);
  }
  // The bounds themselves are fine: max_tokens = --max-tokens, top_p = 1, n = 1, 16 stop strings.
  for (const c of [{ max_tokens: MAX_TOKENS }, { top_p: 1 }, { n: 1 }, { stop: Array.from({ length: 16 }, (_, i) => `qq${i}`) }, { temperature: 0 }]) {
    const r = await call('/v1/completions', { body: { ...normal, ...c } });
    assert.equal(r.status, 200, `${JSON.stringify(c)}: ${r.text}`);
  }
});

test('fields of the wrong type: 400', T, async () => {
  const wrong = [
    { prompt: 5 }, { prompt: null }, { prompt: { text: 'hi' } }, { prompt: ['a', 'b'] }, { prompt: [] }, { prompt: [['a']] }, { prompt: true },
    { prompt: 'hi', max_tokens: '10' }, { prompt: 'hi', max_tokens: true }, { prompt: 'hi', max_tokens: [10] },
    { prompt: 'hi', temperature: '0.5' }, { prompt: 'hi', top_p: '1' }, { prompt: 'hi', seed: 'x' },
    { prompt: 'hi', stop: 5 }, { prompt: 'hi', stop: [5] }, { prompt: 'hi', stream: 'yes' },
  ];
  for (const body of wrong) bad(await call('/v1/completions', { body }), `completions ${JSON.stringify(body)}`);
  const chat = [
    { messages: 'hi' }, { messages: 5 }, { messages: {} }, { messages: [5] }, { messages: ['hi'] },
    { messages: [{ role: 'user' }] }, { messages: [{ content: 'hi' }] }, { messages: [{ role: 'user', content: 5 }] },
    { messages: [{ role: 5, content: 'hi' }] }, { messages: [{ role: 'wizard', content: 'hi' }] },
    { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'http://x/y.png' } }] }] },
    { messages: [{ role: 'user', content: [{ type: 'text', text: 5 }] }] },
    { messages: [{ role: 'user', content: 'hi' }], max_tokens: '10' },
  ];
  for (const body of chat) bad(await call('/v1/chat/completions', { body }), `chat ${JSON.stringify(body)}`);
  for (const body of [{ input: 5 }, { input: [1, 2] }, { input: { a: 1 } }, { input: 'hi', encoding_format: 'hex' }, { input: null }]) {
    bad(await call('/v1/embeddings', { body }), `embeddings ${JSON.stringify(body)}`);
  }
});

test('missing prompt, messages, input: 400', T, async () => {
  bad(await call('/v1/completions', { body: { max_tokens: 4 } }), 'completions without prompt');
  bad(await call('/v1/chat/completions', { body: { max_tokens: 4 } }), 'chat without messages');
  bad(await call('/v1/chat/completions', { body: { prompt: 'hi' } }), 'chat with a prompt, not messages');
  bad(await call('/v1/embeddings', { body: { model: 'x' } }), 'embeddings without input');
  bad(await call('/v1/completions', { body: {} }), 'completions {}');
});

test('unknown fields are ignored: 200', T, async () => {
  const r = await call('/v1/completions', {
    body: { ...normal, model: 'gpt-4o', user: 'someone', foo: { bar: [1, 2, { baz: null }] }, logit_bias: { 50256: -100 },
      presence_penalty: 0.5, frequency_penalty: 0.5, suffix: null, echo: false, best_of: 1, '': 1, 'ünï': 'cødé' },
  });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.choices[0].text, reference);
  const c = await call('/v1/chat/completions', {
    body: { messages: [{ role: 'user', content: 'hi', name: 'bob', extra: 1 }], max_tokens: 4, temperature: 0, tools: [], response_format: { type: 'text' }, parallel_tool_calls: false },
  });
  assert.equal(c.status, 200, c.text);
  const e = await call('/v1/embeddings', { body: { input: 'hi', model: 'text-embedding-3-small', user: 'u', dimensions_hint: 3 } });
  assert.equal(e.status, 200, e.text);
});

test('a prompt longer than the context: 400 context_length_exceeded', T, async () => {
  const long = 'word '.repeat(3000);
  let e = bad(await call('/v1/completions', { body: { prompt: long, max_tokens: 4 } }), 'completions, long prompt');
  assert.equal(e.code, 'context_length_exceeded');
  e = bad(await call('/v1/chat/completions', { body: { messages: [{ role: 'user', content: long }], max_tokens: 4 } }), 'chat, long prompt');
  assert.equal(e.code, 'context_length_exceeded');
  e = bad(await call('/v1/completions', { body: { prompt: long, max_tokens: 4, stream: true } }), 'streamed completions, long prompt');
  assert.equal(e.code, 'context_length_exceeded');
  e = bad(await call('/v1/embeddings', { body: { input: ['short', long] } }), 'embeddings, long input');
  assert.equal(e.code, 'context_length_exceeded');
  await healthy();
});

test('unknown routes: 404; a known route with the wrong method: 405', T, async () => {
  for (const route of ['/v1/nope', '/v2/completions', '/', '/v1', '/v1/completions/extra', '/v1/engines/x/completions', '/%00', '/..%2f..%2fetc/passwd']) {
    isError(await call(route, { method: 'GET', type: null }), 404, 'not_found_error', `GET ${route}`);
  }
  isError(await call('/v1/nope', { body: normal }), 404, 'not_found_error', 'POST /v1/nope');
  for (const route of ['/v1/completions', '/v1/chat/completions', '/v1/embeddings']) {
    for (const method of ['GET', 'PUT', 'DELETE']) {
      isError(await call(route, { method, type: null }), 405, 'invalid_request_error', `${method} ${route}`);
    }
  }
  isError(await call('/v1/models', { body: {} }), 405, 'invalid_request_error', 'POST /v1/models');
  isError(await call('/health', { body: {} }), 405, 'invalid_request_error', 'POST /health');
});

test('odd HTTP does not crash or hang the server', T, async () => {
  const odd = [
    'GARBAGE\r\n\r\n',
    'GET\r\n\r\n',
    'GET /health HTTP/9.9\r\n\r\n',
    'GET /health HTTP/1.1\r\nNo-Colon-Here\r\n\r\n',
    `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(200000)}\r\n\r\n`,
    `GET /${'a'.repeat(100000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
    `GET /health HTTP/1.1\r\n${Array.from({ length: 2000 }, (_, i) => `X-H${i}: v\r\n`).join('')}\r\n`,
    'POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: -5\r\n\r\n{}',
    'POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n{}',
    'POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n{}',
    'POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffff\r\n{}',
    'POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"pro\r\n',
    '\r\n\r\n\r\n',
    '\u0000\u0001\u0002\u00ff\r\n\r\n',
  ];
  for (const data of odd) {
    const r = await raw(data, { halfClose: true, ms: 8000 });
    assert.ok(!r.timedOut, `no answer and no close within 8 s to ${JSON.stringify(data.slice(0, 80))}`);
    if (r.status !== undefined) assert.ok(r.status === 200 || (r.status >= 400 && r.status < 600), `${JSON.stringify(data.slice(0, 80))}: ${r.status}`);
    assert.equal(server.proc.exitCode, null, `the server died on ${JSON.stringify(data.slice(0, 80))}`);
  }
  // A connection that sends half a request line and goes quiet, then one that goes away.
  const quiet = raw('POST /v1/compl', { ms: 1500 });
  const gone = raw('POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{"pr', { halfClose: true, ms: 5000 });
  await Promise.all([quiet, gone]);
  // Many connections opened and dropped at once.
  await Promise.all(Array.from({ length: 50 }, () => new Promise((resolve) => {
    const s = net.connect(server.port, '127.0.0.1', () => { s.destroy(); resolve(); });
    s.on('error', resolve);
  })));
  await healthy();
});

test('bodies that are hard on a parser: deep nesting, odd strings', T, async () => {
  const deep = `{"prompt":"hi","max_tokens":2,"x":${'['.repeat(100000)}${']'.repeat(100000)}}`;
  const d = await call('/v1/completions', { body: deep });
  assert.ok(d.status === 200 || d.status === 400, `100000-deep array in an unknown field: ${d.status} ${d.text.slice(0, 200)}`);
  if (d.status === 400) bad(d, 'deep nesting');
  const deepObj = `{"prompt":"hi","max_tokens":2,"x":${'{"a":'.repeat(50000)}1${'}'.repeat(50000)}}`;
  const o = await call('/v1/completions', { body: deepObj });
  assert.ok(o.status === 200 || o.status === 400, `50000-deep object: ${o.status}`);
  const unclosed = `{"prompt":"hi","x":${'['.repeat(200000)}`;
  bad(await call('/v1/completions', { body: unclosed }), 'unclosed deep nesting');
  // Escapes, a NUL, emoji, and bytes that are not UTF-8.
  for (const lone of ['{"prompt":"\\ud800","max_tokens":2}', '{"prompt":"\\udc00x\\ud83d","max_tokens":2}']) {
    const r = await call('/v1/completions', { body: lone });
    assert.ok(r.status === 200 || r.status === 400, `a lone surrogate escape ${lone}: ${r.status} ${r.text.slice(0, 200)}`);
  }
  for (const prompt of ['\u0000', 'a\u0000b', '\ud83d\ude00 \u00e9\u4e2d', '\\'.repeat(1000), '\n\t\r'.repeat(50)]) {
    const r = await call('/v1/completions', { body: { prompt, max_tokens: 2, temperature: 0 } });
    assert.ok(r.status === 200 || r.status === 400, `prompt ${JSON.stringify(prompt.slice(0, 20))}: ${r.status} ${r.text.slice(0, 200)}`);
    if (r.status === 200) assert.equal(typeof r.json.choices[0].text, 'string');
  }
  const bytes = Buffer.concat([Buffer.from('{"prompt":"a'), Buffer.from([0xff, 0xfe, 0xc0, 0x80, 0xed, 0xa0, 0x80]), Buffer.from('b","max_tokens":2}')]);
  const r = await raw(Buffer.concat([Buffer.from(`POST /v1/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${bytes.length}\r\n\r\n`), bytes]));
  assert.ok(r.status === 200 || r.status === 400, `a prompt of bytes that are not UTF-8: ${r.status} ${r.body.slice(0, 200)}`);
  if (r.status === 200) assert.doesNotThrow(() => JSON.parse(Buffer.from(r.body, 'latin1').toString('utf8')), 'the reply is JSON');
  // Huge numbers and odd numerals.
  for (const n of ['1e999', '-0', '0.0', '1e-999', '123456789012345678901234567890']) {
    const x = await call('/v1/completions', { body: `{"prompt":"hi","max_tokens":2,"temperature":${n}}` });
    assert.ok(x.status === 200 || x.status === 400, `temperature ${n}: ${x.status}`);
  }
  await healthy();
});

test('the API key is not needed when none is set; error replies are JSON', T, async () => {
  const r = await call('/v1/completions', { body: '{', headers: { Authorization: 'Bearer whatever' } });
  bad(r, 'malformed JSON with an Authorization header');
  assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
});

test('after all of it: /health 200 and the same answer as at first', T, async () => {
  await sleep(100);
  const h = await call('/health', { method: 'GET', type: null });
  assert.equal(h.status, 200);
  assert.deepEqual(h.json, { status: 'ok', slots_idle: 2, slots_processing: 0, requests_waiting: 0 });
  const r = await call('/v1/completions', { body: normal });
  assert.equal(r.status, 200);
  assert.equal(r.json.choices[0].text, reference);
  const c = await call('/v1/chat/completions', { body: { messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 } });
  assert.equal(c.status, 200);
  assert.equal(c.json.object, 'chat.completion');
});
