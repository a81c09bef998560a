// 20-serve-lib.js — helpers for the 2x-serve-*.mjs tests (not a test itself:
// tests/run.sh runs *.sh and *.mjs only): start `$GPURUN_BIN serve` on a
// free loopback port with its store in a temp dir, import stories260K the way
// `ollama create` does (blob upload, then /api/create with files), spawn
// docker-registry, assertions, and cleanup that kills every process started
// here whatever way the test ends.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SKIP = 77;
const procs = new Set();
const dirs = [];

function cleanup() {
  for (const p of procs) {
    try { p.kill('SIGKILL'); } catch { /* already gone */ }
  }
  procs.clear();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs.length = 0;
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => { cleanup(); process.exit(1); });

export function skip(reason) {
  console.log(reason);
  process.exit(SKIP);
}

export function modelsDir() {
  return process.env.GPURUN_TEST_MODELS || join(process.cwd(), '..', 'shared', 'models');
}

export function need(path, what) {
  if (!existsSync(path)) skip(`SKIP: ${what} missing (${path})`);
  return path;
}

export function tempDir(tag) {
  const d = mkdtempSync(join(tmpdir(), `gpurun-${tag}-`));
  dirs.push(d);
  return d;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitUp(url, proc, log, ms = 15000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (proc.exitCode !== null) throw new Error(`server exited (${proc.exitCode}):\n${log()}`);
    try {
      const r = await fetch(url);
      if (r.status < 500) return;
    } catch { /* not yet */ }
    await sleep(50);
  }
  throw new Error(`not up after ${ms} ms:\n${log()}`);
}

// Starts `gpurun serve`; env adds to (and overrides) the defaults.
export async function startServer(env = {}) {
  const bin = process.env.GPURUN_BIN;
  if (!bin || !existsSync(bin)) skip('SKIP: GPURUN_BIN is not built');
  const home = tempDir('serve');
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const fullEnv = {
    ...process.env,
    GPURUN_HOST: `127.0.0.1:${port}`,
    GPURUN_HOME: home,
    GPURUN_MODELS: join(home, 'models'),
    GPURUN_NUM_THREAD: '1',
    ...env,
  };
  for (const k of ['OLLAMA_HOST', 'OLLAMA_MODELS', 'PORT']) if (!(k in env)) delete fullEnv[k];
  const proc = spawn(bin, ['serve'], { env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  procs.add(proc);
  let out = '';
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { out += d; });
  proc.on('exit', () => procs.delete(proc));
  const url = `http://127.0.0.1:${port}`;
  await waitUp(url, proc, () => out);
  return {
    url, port, home, proc,
    log: () => out,
    async stop() {
      if (proc.exitCode !== null) return proc.exitCode;
      const done = new Promise((r) => proc.once('exit', (code) => r(code)));
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      const code = await done;
      clearTimeout(t);
      return code;
    },
  };
}

export function sha256File(path) {
  return 'sha256:' + createHash('sha256').update(readFileSync(path)).digest('hex');
}

// What `ollama create` does with a GGUF: HEAD the blob, upload it, then
// create the model from the digest.
export async function importModel(srv, path, name, extra = {}) {
  const digest = sha256File(path);
  const head = await fetch(`${srv.url}/api/blobs/${digest}`, { method: 'HEAD' });
  if (head.status !== 200) {
    const up = await fetch(`${srv.url}/api/blobs/${digest}`, { method: 'POST', body: readFileSync(path) });
    if (up.status !== 201) throw new Error(`blob upload: ${up.status} ${await up.text()}`);
  }
  const r = await fetch(`${srv.url}/api/create`, {
    method: 'POST',
    body: JSON.stringify({ model: name, files: { 'model.gguf': digest }, stream: false, ...extra }),
  });
  const body = await r.json();
  if (r.status !== 200 || body.status !== 'success') throw new Error(`create: ${r.status} ${JSON.stringify(body)}`);
  return digest;
}

export async function getJSON(srv, path, init) {
  const r = await fetch(`${srv.url}${path}`, init);
  const text = await r.text();
  let body;
  try { body = JSON.parse(text); } catch { body = text; }
  return { status: r.status, body, headers: r.headers };
}

export async function postJSON(srv, path, obj, headers = {}) {
  return getJSON(srv, path, { method: 'POST', body: typeof obj === 'string' ? obj : JSON.stringify(obj), headers });
}

// Parses the Prometheus text into { 'name{labels}': value }.
export async function metrics(srv, headers = {}) {
  const r = await fetch(`${srv.url}/metrics`, { headers });
  const out = {};
  for (const line of (await r.text()).split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out[line.slice(0, i)] = Number(line.slice(i + 1));
  }
  return out;
}

// Polls fn until it returns truthy (or throws after ms).
export async function until(fn, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

// docker-registry on a free loopback port with its storage in a temp dir.
export async function startRegistry() {
  const which = spawn('sh', ['-c', 'command -v docker-registry']);
  const found = await new Promise((r) => which.on('exit', (c) => r(c === 0)));
  if (!found) skip('SKIP: docker-registry is not installed (scripts/deps.sh installs it)');
  const dir = tempDir('registry');
  const port = await freePort();
  mkdirSync(join(dir, 'storage'));
  const cfg = join(dir, 'registry.yml');
  writeFileSync(cfg, `version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n` +
    `storage:\n  filesystem:\n    rootdirectory: ${join(dir, 'storage')}\n  delete:\n    enabled: true\n` +
    `http:\n  addr: 127.0.0.1:${port}\n`);
  const proc = spawn('docker-registry', ['serve', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
  procs.add(proc);
  let out = '';
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { out += d; });
  proc.on('exit', () => procs.delete(proc));
  await waitUp(`http://127.0.0.1:${port}/v2/`, proc, () => out);
  return { port, proc, log: () => out };
}

// A tiny test runner: named steps, the first failure ends the test with the
// server's log tail.
export async function steps(list, srvs = []) {
  let n = 0;
  for (const [name, fn] of list) {
    const t0 = Date.now();
    try {
      await fn();
    } catch (e) {
      console.log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
      for (const s of srvs) console.log(`--- server log ---\n${s.log().slice(-3000)}`);
      process.exit(1);
    }
    n++;
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  }
  console.log(`${n} steps passed`);
}

// Ends the test: every process started here is killed (the exit handler).
export function done() {
  process.exit(0);
}

// The real npm clients, or SKIP when tests/e2e/node_modules is missing.
export async function clients() {
  try {
    const { Ollama } = await import('ollama');
    const { default: OpenAI } = await import('openai');
    return { Ollama, OpenAI };
  } catch (e) {
    return skip(`SKIP: npm clients missing (cd tests/e2e && npm ci): ${e.message}`);
  }
}

// The usual start of a serve test: the npm clients, stories260K-F32 (SKIP
// when either is missing), a server (env added to its environment) and an
// Ollama and an OpenAI client pointed at it.
export async function storiesServer(env = {}) {
  const { Ollama, OpenAI } = await clients();
  const gguf = need(join(modelsDir(), 'stories260K-F32.gguf'), 'stories260K-F32.gguf');
  need(process.env.GPURUN_BIN ?? '', 'GPURUN_BIN');
  const srv = await startServer(env);
  const ollama = new Ollama({ host: srv.url });
  const openai = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  return { gguf, srv, ollama, openai };
}
