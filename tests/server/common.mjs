// What every server test shares: where the programs and the client are, and starting a
// nibble-server on a free loopback port.
//
// Environment (set by ctest, see tests/server/CMakeLists.txt):
//   NIBBLE_SERVER  the nibble-server binary
//   NIBBLE_MODEL   the model it serves (the shipped stories260K.gguf)
//   NIBBLE_NODE    the folder install-client.sh installed the npm packages into
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

export const serverBinary = process.env.NIBBLE_SERVER ?? 'build/bin/nibble-server';
export const modelPath = process.env.NIBBLE_MODEL ?? 'models/stories260K.gguf';
export const nodeDir = process.env.NIBBLE_NODE ?? 'build/node';

/// The official OpenAI client class, from NIBBLE_NODE/node_modules.
export function loadOpenAI() {
  const require = createRequire(path.resolve(nodeDir, 'package.json'));
  return require('openai').default ?? require('openai');
}

/// The OpenAI client class, or the process exits: 77 (skipped) where
/// tests/server/install-client.sh has not installed it in NIBBLE_NODE, 1 under CI=true.
export function requireOpenAI() {
  const clientDir = path.resolve(nodeDir, 'node_modules', 'openai');
  if (!fs.existsSync(path.join(clientDir, 'package.json'))) {
    const msg = `the openai npm client is not in ${clientDir} (tests/server/install-client.sh ${nodeDir} installs it)`;
    if (process.env.CI === 'true') { console.error(`error: ${msg}`); process.exit(1); }
    console.log(`skipped: ${msg}`);
    process.exit(77);
  }
  return loadOpenAI();
}

/// The servers a test file starts, killed however it ends: at exit, on SIGINT/SIGTERM,
/// and by a watchdog after `seconds` (which prints their last log lines) so that
/// nothing hangs. Push every server started onto the array returned.
export function guardServers(file, seconds) {
  const servers = [];
  process.on('exit', () => { for (const s of servers) s.proc.kill('SIGKILL'); });
  setTimeout(() => {
    console.error(`${file}: watchdog: still running after ${seconds} s; the servers' last words:`);
    for (const s of servers) console.error(s.stderr().split('\n').slice(-8).join('\n'));
    process.exit(1);
  }, seconds * 1000).unref();
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(1)); // (and the servers with it)
  return servers;
}

/// Starts nibble-server with `args` (after -m MODEL --port 0) and resolves once it
/// listens and /health answers 200. The server prints
/// "nibble-server: listening on http://HOST:PORT" on stderr when its socket is bound.
export async function startServer(args = [], { timeoutMs = 30000, binary = serverBinary, model = modelPath } = {}) {
  const proc = spawn(binary, ['-m', model, '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  proc.stdout.on('data', (d) => { stdout += d; });
  const fail = (error) => { proc.kill('SIGKILL'); throw error; };
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`nibble-server did not listen within ${timeoutMs} ms:\n${stderr}`)), timeoutMs);
    proc.stderr.on('data', (d) => {
      stderr += d;
      const m = /nibble-server: listening on http:\/\/[^:\s]+:(\d+)/.exec(stderr);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    proc.on('exit', (code, signal) => { clearTimeout(timer); reject(new Error(`nibble-server exited (${code ?? signal}):\n${stderr}`)); });
  }).catch(fail);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const r = await fetch(`${url}/health`);
      if (r.status === 200) break;
    } catch { /* not yet */ }
    if (Date.now() > deadline) fail(new Error(`nibble-server /health not ready within ${timeoutMs} ms:\n${stderr}`));
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port, url, proc,
    stderr: () => stderr,
    stdout: () => stdout,
    /// SIGTERM, then waits for the exit; resolves to the exit code (or signal name).
    stop: () => new Promise((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return resolve(proc.exitCode ?? proc.signalCode);
      proc.on('exit', (code, signal) => resolve(code ?? signal));
      proc.kill('SIGTERM');
    }),
  };
}

/// Percentile (0..100) of an array of numbers, nearest-rank.
export function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
