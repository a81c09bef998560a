// WebSocket echo of gpurun hello driven by the real `ws` client: text and a
// 1 MB binary message come back intact, ping gets a pong, and the closing
// handshake ends with code 1000. Exit 77 (skip) when `ws` is not installed.
import { spawn } from 'node:child_process';

let WebSocket;
try {
  ({ default: WebSocket } = await import('ws'));
} catch {
  console.log('SKIP: npm package ws is not installed');
  process.exit(77);
}
const bin = process.env.GPURUN_BIN;
const srv = spawn(bin, ['hello', '--port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
const fail = (msg) => { console.log('FAIL: ' + msg); srv.kill(); process.exit(1); };
setTimeout(() => fail('timed out'), 20000).unref();

const port = await new Promise((resolve) => {
  let log = '';
  srv.stderr.on('data', (d) => {
    log += d;
    const m = log.match(/listening on http:\/\/[^:]+:(\d+)/);
    if (m) resolve(Number(m[1]));
  });
});

const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
const got = [];
const big = Buffer.alloc(1 << 20);
for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
let pong = false;
// close once both echoes and the pong are in: under load the pong can
// trail the 1 MB echo, and a pong still queued when the close arrives is
// not owed to the client
const maybeClose = () => { if (got.length === 2 && pong) ws.close(1000, 'done'); };
ws.on('pong', () => { pong = true; maybeClose(); });
ws.on('open', () => {
  ws.send('hello gateway');
  ws.send(big);
  ws.ping();
});
ws.on('message', (data, isBinary) => {
  got.push({ data, isBinary });
  maybeClose();
});
const code = await new Promise((resolve) => ws.on('close', (c) => resolve(c)));
if (got.length !== 2) fail(`got ${got.length} messages`);
if (got[0].isBinary || got[0].data.toString() !== 'hello gateway') fail('text echo');
if (!got[1].isBinary || !Buffer.from(got[1].data).equals(big)) fail('binary echo');
if (!pong) fail('no pong');
if (code !== 1000) fail(`close code ${code}`);
srv.kill('SIGTERM');
await new Promise((resolve) => srv.on('exit', resolve));
console.log('ok');
