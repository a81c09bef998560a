// 32-gateway-ws.mjs — a WebSocket through the gateway, driven by the real
// `ws` client: the upgrade reaches the hello service's /ws from zero
// instances (the activator holds the upgrade while it starts), text and a
// 1 MB binary message echo back intact, ping gets a pong, the close
// handshake ends with 1000, and the access log records the 101.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';

let WebSocket;
try {
  ({ default: WebSocket } = await import('ws'));
} catch {
  console.log('SKIP: npm package ws is not installed');
  process.exit(77);
}
const bin = process.env.GPURUN_BIN;
if (!bin || !existsSync(bin)) {
  console.log('SKIP: gpurun binary not built');
  process.exit(77);
}
const home = mkdtempSync('/tmp/gpurun-e2e-ws-');
const port = await new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});
const env = { ...process.env, GPURUN_HOME: home, GPURUN_GATEWAY: `127.0.0.1:${port}` };
const daemon = spawn(bin, ['daemon', '--no-cgroups'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
let dlog = '';
daemon.stderr.on('data', (d) => { dlog += d; });
const done = (code, msg) => {
  if (msg) console.log(msg);
  if (code) console.log('--- daemon log\n' + dlog.split('\n').slice(-20).join('\n'));
  daemon.kill('SIGTERM');
  daemon.on('exit', () => {
    rmSync(home, { recursive: true, force: true });
    process.exit(code);
  });
};
setTimeout(() => done(1, 'FAIL: timed out'), 30000).unref();

for (let i = 0; i < 200 && !existsSync(`${home}/gpurun.sock`); i++)
  await new Promise((r) => setTimeout(r, 50));
execFileSync(bin, ['deploy', 'ws', '--image', 'gpurun/hello', '--allow-unauthenticated'],
  { env, stdio: 'ignore' });

// *.localhost may not resolve here: connect to the gateway, name the service in Host
const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { Host: `ws.localhost:${port}` } });
const big = Buffer.alloc(1 << 20);
for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
const got = [];
let pong = false;
ws.on('pong', () => { pong = true; });
ws.on('open', () => {
  ws.send('hello through the gateway');
  ws.send(big);
  ws.ping();
});
ws.on('message', (data, isBinary) => {
  got.push({ data, isBinary });
  if (got.length === 2) ws.close(1000, 'done');
});
ws.on('error', (e) => done(1, 'FAIL: ' + e.message));
ws.on('close', async (code) => {
  if (code !== 1000) return done(1, `FAIL: close code ${code}`);
  if (got.length !== 2) return done(1, `FAIL: ${got.length} messages`);
  if (got[0].isBinary || got[0].data.toString() !== 'hello through the gateway')
    return done(1, 'FAIL: text message changed');
  if (!got[1].isBinary || Buffer.compare(got[1].data, big) !== 0)
    return done(1, 'FAIL: binary message changed');
  if (!pong) return done(1, 'FAIL: no pong');
  await new Promise((r) => setTimeout(r, 300)); // the access log is written per loop turn
  const log = readFileSync(`${home}/logs/gateway.log`, 'utf8');
  if (!/"GET \/ws" 101 /.test(log)) return done(1, 'FAIL: access log has no 101 line:\n' + log);
  done(0, 'ok');
});
