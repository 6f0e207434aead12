'use strict';
// The checks scripts/test-ktls-vm runs inside its KVM guest (a kernel with the tls module):
// ringcast's TLS listener in kernel TLS mode, then with --tls-ktls off. Prints "ktls-vm: ..."
// lines and exits non-zero on the first failure. Usage: node test-ktls-vm.js PATH/TO/ringcast
const { execFileSync, spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const os = require('node:os');
const path = require('node:path');
const WebSocket = require(path.join(__dirname, '../tests/e2e/node_modules/ws'));

const binary = process.argv[2];
const APP = {
  id: 'ktls', key: 'ktls-key', secret: 'ktls-secret', max_message_size: 100000, max_event_payload_bytes: 100000,
};
const PORT = 18401; // plain; TLS is PORT+1, metrics PORT+2
const EVENTS = 20;
const BIG = 'x'.repeat(40000); // spans three TLS records
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ktls-vm-'));

function say(text) {
  console.log(`ktls-vm: ${text}`);
}
function check(ok, what) {
  if (!ok) throw new Error(what);
  say(`ok: ${what}`);
}

function makeCertificates() {
  const openssl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-days', '2', '-subj', '/CN=ktls-ca', '-keyout', 'ca.key', '-out', 'ca.pem');
  openssl('req', ...ec, '-subj', '/CN=localhost', '-keyout', 'key.pem', '-out', 'req.csr');
  fs.writeFileSync(path.join(dir, 'ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl('x509', '-req', '-in', 'req.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2',
    '-extfile', 'ext', '-out', 'cert.pem');
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ apps: [APP] }));
  return fs.readFileSync(path.join(dir, 'ca.pem'));
}

function tlsStat() {
  const out = {};
  for (const line of fs.readFileSync('/proc/net/tls_stat', 'utf8').split('\n')) {
    const [name, value] = line.trim().split(/\s+/);
    if (name) out[name] = Number(value);
  }
  return out;
}

function get(url) {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    }).on('error', reject);
  });
}

async function startServer(extra) {
  const args = ['start', '--host', '127.0.0.1', '--port', String(PORT), '--threads', '2', '--debug',
    '--config', path.join(dir, 'config.json'), '--tls-cert', path.join(dir, 'cert.pem'),
    '--tls-key', path.join(dir, 'key.pem'), '--tls-port', String(PORT + 1), '--metrics-port', String(PORT + 2),
    ...extra];
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const server = { child, log: '' };
  child.stdout.on('data', (d) => { server.log += d; });
  child.stderr.on('data', (d) => { server.log += d; });
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null || child.signalCode !== null) {
      // e.g. SIGILL: a build for a CPU the guest's does not emulate (-Dmarch=native)
      throw new Error(`the server exited (${child.signalCode || `status ${child.exitCode}`}):\n${server.log}`);
    }
    try {
      if ((await get(`http://127.0.0.1:${PORT}/up`)).status === 200) return server;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the server did not start:\n${server.log}`);
}

async function stopServer(server) {
  const exited = new Promise((r) => server.child.on('exit', r));
  server.child.kill('SIGTERM');
  await exited;
}

// A Pusher client over wss: resolves once subscribed to `channel`; `events` fills as they come.
function subscriber(ca, channel, maxVersion) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`wss://localhost:${PORT + 1}/app/${APP.key}?protocol=7`, { ca, maxVersion });
    const client = { ws, events: [], version: null };
    ws.on('error', reject);
    ws.on('message', (raw) => {
      const m = JSON.parse(raw.toString());
      if (m.event === 'pusher:connection_established') {
        client.version = ws._socket.getProtocol();
        ws.send(JSON.stringify({ event: 'pusher:subscribe', data: { channel } }));
      } else if (m.event === 'pusher_internal:subscription_succeeded') {
        resolve(client);
      } else if (m.event === 'pusher:ping') {
        ws.send(JSON.stringify({ event: 'pusher:pong', data: {} }));
      } else if (m.channel === channel) {
        client.events.push(m);
      }
    });
  });
}

// POST /apps/ID/events over https, signed as the Pusher HTTP API wants it.
function publish(ca, channel, name, data) {
  const body = JSON.stringify({ name, channels: [channel], data });
  const query = {
    auth_key: APP.key, auth_timestamp: String(Math.floor(Date.now() / 1000)), auth_version: '1.0',
    body_md5: crypto.createHash('md5').update(body).digest('hex'),
  };
  const sorted = Object.keys(query).sort().map((k) => `${k}=${query[k]}`).join('&');
  const route = `/apps/${APP.id}/events`;
  const signature = crypto.createHmac('sha256', APP.secret).update(`POST\n${route}\n${sorted}`).digest('hex');
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', servername: 'localhost', port: PORT + 1, ca, method: 'POST',
      path: `${route}?${sorted}&auth_signature=${signature}`, headers: { 'content-type': 'application/json' },
    }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`publish: HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

// Subscribes `versions.length` clients, publishes, and checks each got every event in order.
async function deliver(ca, channel, versions) {
  const clients = await Promise.all(versions.map((v) => subscriber(ca, channel, v)));
  const sent = [];
  for (let i = 0; i < EVENTS; i++) sent.push(JSON.stringify({ i }));
  sent.push(JSON.stringify({ i: EVENTS, big: BIG }));
  for (const data of sent) await publish(ca, channel, 'tick', data);
  const deadline = Date.now() + 10000;
  while (clients.some((c) => c.events.length < sent.length) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  for (const c of clients) {
    const got = c.events.map((e) => e.data);
    check(JSON.stringify(got) === JSON.stringify(sent),
      `a ${c.version} client got all ${sent.length} events in order (the last ${BIG.length} bytes long)`);
  }
  await Promise.all(clients.map((c) => new Promise((r) => { c.ws.on('close', r); c.ws.close(); })));
}

function metric(text, name) {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`)) sum += Number(line.split(' ').pop());
  }
  return sum;
}

async function main() {
  say(`kernel ${os.release()}, /proc/net/tls_stat ${fs.existsSync('/proc/net/tls_stat') ? 'present' : 'missing'}`);
  const ca = makeCertificates();

  let server = await startServer([]);
  const banner = server.log.split('\n').find((l) => l.includes('certificate')) || '';
  say(`banner: ${banner.trim()}`);
  check(banner.includes('kernel TLS after the handshake'), 'the banner says kernel TLS');
  const before = tlsStat();
  await deliver(ca, 'ktls', ['TLSv1.3', 'TLSv1.2']);
  const after = tlsStat();
  say(`/proc/net/tls_stat TlsTxSw ${before.TlsTxSw} -> ${after.TlsTxSw}, TlsCurrTxSw now ${after.TlsCurrTxSw}`);
  // Two subscribers and the publisher's connection (Node's agent keeps it alive between publishes).
  check(after.TlsTxSw >= before.TlsTxSw + 3, 'the kernel encrypted for the subscribers and the publisher');
  const metrics = (await get(`http://127.0.0.1:${PORT + 2}/metrics`)).body;
  const kernel = metric(metrics, 'ringcast_tls_ktls_connections_total');
  const fallbacks = metric(metrics, 'ringcast_tls_ktls_fallbacks_total');
  say(`metrics: ringcast_tls_ktls_connections_total ${kernel}, ringcast_tls_ktls_fallbacks_total ${fallbacks}`);
  check(kernel >= 3 && fallbacks === 0, 'the metrics count kernel TLS connections and no fallback');
  check(/TLS established \(TLSv1\.3 [^;]*; kernel TLS\)/.test(server.log) &&
    /TLS established \(TLSv1\.2 [^;]*; kernel TLS\)/.test(server.log), '--debug says kernel TLS, for TLS 1.3 and 1.2');
  await stopServer(server);
  check(!/ERROR|WARN/.test(server.log), 'the server logged no warning or error');

  server = await startServer(['--tls-ktls', 'off']);
  const offBanner = server.log.split('\n').find((l) => l.includes('certificate')) || '';
  say(`banner: ${offBanner.trim()}`);
  check(offBanner.includes('encryption in user space') && offBanner.includes('--tls-ktls off'),
    'with --tls-ktls off the banner says encryption in user space');
  const offBefore = tlsStat();
  await deliver(ca, 'user', ['TLSv1.3']);
  check(tlsStat().TlsTxSw === offBefore.TlsTxSw, 'with --tls-ktls off the kernel encrypted nothing');
  await stopServer(server);
  say('all checks passed');
}

main().then(() => {
  fs.rmSync(dir, { recursive: true, force: true });
}, (e) => {
  say(`FAILED: ${e.message}`);
  process.exit(1);
});
