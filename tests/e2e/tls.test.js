'use strict';

// TLS served by ringcast itself (wss:// and https://), with certificates made by openssl for the
// run (lib/certs.js) and clients that verify them against the test CA:
//
// - pusher-js over wss (public, private, presence members, whispers) and the pusher SDK over
//   https, on a TLS port beside the plain main port, and across the two; TLS on the main port.
// - SNI picks the certificate; SIGHUP reloads the files (new handshakes get the new certificate,
//   an established connection stays); client certificates; an encrypted key; TLS 1.3 only; the
//   TLS 1.2 cipher list; no renegotiation.
// - The banner says how the TLS listener sends (kernel TLS, or user space and why); --tls-ktls off
//   sends from user space and says so (the kernel TLS path itself: scripts/test-ktls-vm).
// - What a public port gets: plain HTTP and plain WebSocket upgrades (a 400 in plaintext, then a
//   close), garbage, a truncated ClientHello or nothing at all (closed by the handshake timeout),
//   no shared cipher or protocol (an alert), and a bound on handshakes in progress; each leaves
//   an established client served. Start-up refuses a key that does not match, a missing key and
//   a wrong passphrase, naming the file.
// - Headless Chromium (as browser.test.js) trusting the server's key by its SPKI hash: the
//   browser build of pusher-js connects over wss and gets an event.
//
// Most servers keep the harness's plain main port (its readiness check stays plain) and serve TLS
// on a second port (--tls-port, picked by the harness); one serves TLS on the main port.

const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const https = require('node:https');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const tls = require('node:tls');
const { describe, it, before, after } = require('node:test');
const { useServer, freePort, binaryPath, DEFAULT_APP, HOST } = require('./lib/server');
const { connectPusher, closeAll, WsClient } = require('./lib/ws');
const { PusherServer, createRestClient, triggerOk } = require('./lib/pusher');
const { PusherChild } = require('./lib/pusher_remote');
const { testCertificates, copyPair, spkiHash } = require('./lib/certs');
const { subscribeOk } = require('./lib/proto');
const { startLaravel } = require('./lib/laravel');
const { withTimeout, waitUntil, uniqueName, sleep } = require('./lib/util');

const T = { timeout: 30000 };
const WAIT_MS = 8000; // one answer, on a loaded 2-core machine
const HANDSHAKE_TIMEOUT_S = 2; // server.handshake_timeout of the servers that test it
// How long after the handshake timeout a stalled connection may still be open: the server's
// timers tick about once a second, and the machine is shared.
const TIMEOUT_MARGIN_MS = 8000;
// Messages and events above 16 KiB, so that they span TLS records both ways.
const APP = {
  ...DEFAULT_APP, accept_client_events_from: 'members', max_message_size: 100000, max_event_payload_bytes: 100000,
};
const BIG = 'ü'.repeat(20000); // 40,000 bytes of UTF-8
const PLAIN_HTTP_ANSWER = /^HTTP\/1\.[01] 400 /;

let certs; // lib/certs.js, made once for the file
before(async () => {
  certs = await testCertificates();
});

// useServer() whose options come from the certificates: `build(certs)` runs in a before hook
// registered ahead of useServer's own, which reads the options object only when it starts.
function useTlsServer(build) {
  const options = {};
  before(async () => {
    Object.assign(options, build(await testCertificates()));
  });
  return useServer(options);
}

function tlsArgs(...pairs) {
  return pairs.flatMap((p) => ['--tls-cert', p.cert, '--tls-key', p.key]);
}

// ---------------------------------------------------------------------------------------------
// Clients

// A TLS connection to 127.0.0.1:port, verified with the test CA for `servername` unless the
// options say otherwise. Resolves with the socket once the handshake is done; rejects with the
// TLS error (an alert the server sent names itself: "...alert handshake failure") or when the
// server closes first. Errors after the handshake land in socket.lastError.
function tlsConnect(port, { timeout = WAIT_MS, ...options } = {}) {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: HOST, port, ca: certs.ca.pem, servername: 'localhost', ...options });
    let settled = false;
    const settle = (fn, value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn(value);
    };
    const timer = setTimeout(() => {
      socket.destroy();
      settle(reject, new Error(`no TLS handshake with port ${port} within ${timeout} ms`));
    }, timeout);
    socket.on('error', (err) => {
      socket.lastError = err;
      settle(reject, err);
    });
    socket.once('secureConnect', () => settle(resolve, socket));
    socket.once('close', () => settle(reject, new Error(`port ${port} closed the connection before the TLS handshake completed`)));
  });
}

// Sends a raw HTTP/1.1 request on an open (TLS) socket and resolves with {status, headers, body}
// once the response is complete (Content-Length); rejects if the socket closes first.
function httpOver(socket, request, timeout = WAIT_MS) {
  return withTimeout(new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString('latin1');
      const m = /content-length:\s*(\d+)/i.exec(head);
      const length = m ? Number(m[1]) : 0;
      if (buf.length < end + 4 + length) return;
      cleanup();
      resolve({
        status: Number(head.split(' ')[1]),
        head,
        body: buf.subarray(end + 4, end + 4 + length).toString('utf8'),
      });
    };
    const onClose = () => {
      cleanup();
      reject(new Error(`the connection closed before a whole response; got ${JSON.stringify(buf.toString('latin1'))}` +
        `${socket.lastError ? ` (${socket.lastError.message})` : ''}`));
    };
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('close', onClose);
    };
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.write(request);
  }), timeout, `HTTP response over TLS to ${JSON.stringify(request.split('\r\n')[0])}`);
}

const GET_UP = 'GET /up HTTP/1.1\r\nHost: localhost\r\n\r\n';

// One https request; resolves {status, headers, body, alpn}, rejects on a TLS or socket error.
function httpsRequest(port, { path: urlPath = '/up', method = 'GET', body, timeout = WAIT_MS, ...tlsOptions } = {}) {
  return withTimeout(new Promise((resolve, reject) => {
    const req = https.request(
      { host: HOST, port, path: urlPath, method, agent: false, ca: certs.ca.pem, servername: 'localhost', ...tlsOptions },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({
          status: res.statusCode,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          alpn: res.socket && res.socket.alpnProtocol,
        }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  }), timeout, `https ${method} ${urlPath} on port ${port}`);
}

// A plain TCP connection that sends `bytes` (if any) and then waits: resolves once the server
// has closed it, with everything it sent back. Never rejects on a reset (that is a close too);
// rejects only when the connection is still open after `timeout`.
function rawExchange(port, bytes, { timeout = WAIT_MS } = {}) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const chunks = [];
    let error = null;
    const socket = net.connect({ host: HOST, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`port ${port} kept the connection open for ${timeout} ms after ` +
        `${bytes ? `${bytes.length} bytes (${JSON.stringify(bytes.toString('latin1').slice(0, 60))})` : 'nothing'}; ` +
        `it sent back ${JSON.stringify(Buffer.concat(chunks).toString('latin1'))}`));
    }, timeout);
    socket.on('connect', () => {
      if (bytes) socket.write(bytes);
    });
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', (err) => { error = err; });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ data: Buffer.concat(chunks), error, ms: Date.now() - started });
    });
  });
}

// A TCP connection that sends nothing and records when the server closes it.
function idleSocket(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: HOST, port });
    socket.closedAt = null;
    socket.on('error', () => {});
    socket.on('close', () => { socket.closedAt = Date.now(); });
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

// The start of a ClientHello: a handshake record announcing 200 bytes, of which 43 come.
function truncatedClientHello() {
  const head = Buffer.from([0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00, 0x00, 0xc4, 0x03, 0x03]);
  return Buffer.concat([head, Buffer.alloc(32, 0x5a)]);
}

function wssUrl(port, query = 'protocol=7&client=js&version=8.6.0') {
  return `wss://localhost:${port}/app/${APP.key}?${query}`;
}

function connectWss(port, opts = {}) {
  return connectPusher(wssUrl(port), { ca: certs.ca.pem, timeout: WAIT_MS, ...opts });
}

// The pusher SDK publishing over https to `port`, verifying the test CA.
function tlsRest(port) {
  return new PusherServer({
    appId: APP.id,
    key: APP.key,
    secret: APP.secret,
    host: 'localhost',
    port,
    useTLS: true,
    // The SDK hands `agent` to node-fetch: the CA is trusted here, nothing is left unverified.
    agent: new https.Agent({ ca: certs.ca.pem }),
    timeout: WAIT_MS,
  });
}

// An established client stays served: pusher:ping gets pusher:pong.
async function assertServed(client, what) {
  assert.equal(client.closeInfo, null, `the established client was closed (${JSON.stringify(client.closeInfo)}) after ${what}`);
  client.send({ event: 'pusher:ping', data: {} });
  await client.nextEvent('pusher:pong', { timeout: WAIT_MS }).catch((err) => {
    err.message += ` (the established client after ${what})`;
    throw err;
  });
}

// `ringcast start` that must refuse to start: resolves {code, signal, stdout, stderr}.
async function startRefused(args) {
  const port = await freePort();
  const argv = ['start', '--host', HOST, '--port', String(port), '--threads', '1', ...args];
  return new Promise((resolve) => {
    execFile(binaryPath(), argv, { env: { PATH: process.env.PATH || '/usr/bin:/bin' }, timeout: 15000, killSignal: 'SIGKILL' },
      (error, stdout, stderr) => {
        resolve({
          code: error ? (typeof error.code === 'number' ? error.code : null) : 0,
          signal: error ? error.signal : null,
          stdout: String(stdout),
          stderr: String(stderr),
          argv: argv.join(' '),
        });
      });
  });
}

function assertRefusedNaming(res, file) {
  const shown = `ringcast ${res.argv}\nexit ${res.code} signal ${res.signal}\nstdout: ${res.stdout}\nstderr: ${res.stderr}`;
  assert.notEqual(res.code, null, `it did not exit by itself within 15 s:\n${shown}`);
  assert.notEqual(res.code, 0, `it started (exit 0):\n${shown}`);
  assert.ok(res.stderr.includes(file), `stderr does not name ${file}:\n${shown}`);
  assert.doesNotMatch(res.stdout, /Server started/, `it printed its banner:\n${shown}`);
}

// pusher-js (Node build) in a child process that trusts the test CA, pointed at `port` over wss.
function pusherOverTls(children, port, user) {
  const child = new PusherChild({
    caFile: certs.ca.file,
    options: {
      wsHost: 'localhost',
      wssPort: port,
      forceTLS: true,
      enabledTransports: ['ws', 'wss'],
      cluster: 'mt1',
      disableStats: true,
    },
    app: APP,
    user,
    waitMs: WAIT_MS,
  });
  children.add(child);
  return child;
}

// srv.wrap plus the test's pusher-js children killed whatever happens.
function wrapWithChildren(srv, children, fn) {
  return srv.wrap(async (t, server) => {
    try {
      await fn(t, server);
    } finally {
      for (const c of children) c.kill();
      children.clear();
    }
  });
}

// ---------------------------------------------------------------------------------------------

describe('a TLS port beside the plain main port: pusher-js over wss, the pusher SDK over https', () => {
  const srv = useTlsServer((c) => ({ apps: [APP], tlsPort: true, args: tlsArgs(c.localhost) }));
  const children = new Set();
  const wrap = (fn) => wrapWithChildren(srv, children, fn);
  after(() => {
    for (const c of children) c.kill();
  });

  it('GET /up over https answers {"health":"OK"}, with ALPN http/1.1 and the localhost certificate', T, wrap(async (t, server) => {
    const res = await httpsRequest(server.tlsPort, { ALPNProtocols: ['h2', 'http/1.1'] });
    assert.equal(res.status, 200, res.body);
    assert.equal(JSON.parse(res.body).health, 'OK');
    assert.equal(res.alpn, 'http/1.1');

    const socket = await tlsConnect(server.tlsPort);
    try {
      assert.equal(socket.authorized, true, String(socket.authorizationError));
      assert.equal(socket.getPeerCertificate().serialNumber, certs.localhost.serial);
      assert.equal(socket.alpnProtocol, false, 'no ALPN offered, none chosen');
    } finally {
      socket.destroy();
    }
    // A client offering only h2 goes on without ALPN rather than failing.
    const h2only = await tlsConnect(server.tlsPort, { ALPNProtocols: ['h2'] });
    try {
      assert.equal(h2only.alpnProtocol, false);
      assert.equal((await httpOver(h2only, GET_UP)).status, 200);
    } finally {
      h2only.destroy();
    }
  }));

  it('pusher-js: public and private channels get what the pusher SDK publishes over https', T, wrap(async (t, server) => {
    const client = pusherOverTls(children, server.tlsPort);
    await client.connected();
    assert.match(client.socketId, /^\d+\.\d+$/);
    const pub = uniqueName('tls-public');
    const priv = uniqueName('private-tls');
    await client.subscribe(pub);
    await client.subscribe(priv);

    const rest = tlsRest(server.tlsPort);
    const data = { message: 'Привет по TLS 🎉', n: 1, nested: { ok: true }, big: BIG };
    await triggerOk(rest, [pub, priv], 'OrderShipped', data);
    assert.deepEqual((await client.event(pub, 'OrderShipped')).data, data);
    assert.deepEqual((await client.event(priv, 'OrderShipped')).data, data);

    // The HTTP API's reads work over https too.
    const info = await rest.get({ path: `/channels/${pub}`, params: { info: 'subscription_count' } });
    assert.equal(info.status, 200);
    assert.deepEqual(await info.json(), { occupied: true, subscription_count: 1 });
  }));

  it('pusher-js: presence members, joins and leaves, and a whisper that reaches the other client only', T, wrap(async (t, server) => {
    const alice = pusherOverTls(children, server.tlsPort, { id: '1', info: { name: 'Alice' } });
    const bob = pusherOverTls(children, server.tlsPort, { id: '2', info: { name: 'Bob' } });
    await Promise.all([alice.connected(), bob.connected()]);
    const room = `presence-${uniqueName('tls-room')}`;

    const first = await alice.subscribe(room);
    assert.deepEqual(first.members, { 1: { name: 'Alice' } });
    assert.deepEqual(first.me, { id: '1', info: { name: 'Alice' } });
    const second = await bob.subscribe(room);
    assert.deepEqual(second.members, { 1: { name: 'Alice' }, 2: { name: 'Bob' } });
    const added = await alice.waitFor((m) => m.type === 'member_added' && m.channel === room, 'member_added on Alice');
    assert.deepEqual(added.member, { id: '2', info: { name: 'Bob' } });

    alice.send({ op: 'trigger', channel: room, event: 'client-typing', data: { name: 'Alice', typing: true } });
    assert.equal((await alice.waitFor((m) => m.type === 'triggered', 'trigger result')).ok, true);
    assert.deepEqual((await bob.event(room, 'client-typing')).data, { name: 'Alice', typing: true });
    // Bob answers; had Alice's whisper come back to her it would have arrived before his.
    bob.send({ op: 'trigger', channel: room, event: 'client-typing', data: { name: 'Bob', typing: false } });
    assert.deepEqual((await alice.event(room, 'client-typing')).data, { name: 'Bob', typing: false });
    await sleep(200);
    assert.equal(alice.messages.filter((m) => m.type === 'event' && m.event === 'client-typing').length, 1);
    assert.equal(bob.messages.filter((m) => m.type === 'event' && m.event === 'client-typing').length, 1);

    bob.kill();
    const removed = await alice.waitFor((m) => m.type === 'member_removed' && m.channel === room, 'member_removed on Alice');
    assert.deepEqual(removed.member, { id: '2', info: { name: 'Bob' } });
  }));

  it('both ports at once: a publish over plain http reaches wss, one over https reaches ws', T, wrap(async (t, server) => {
    const overTls = pusherOverTls(children, server.tlsPort);
    await overTls.connected();
    const plain = await connectPusher(server.wsUrl());
    try {
      const channel = uniqueName('tls-both');
      await overTls.subscribe(channel);
      await plain.subscribe(channel);

      await triggerOk(createRestClient(server), channel, 'from-plain', { via: 'http' });
      assert.deepEqual((await overTls.event(channel, 'from-plain')).data, { via: 'http' });
      assert.equal((await plain.nextEvent('from-plain', { channel })).data, '{"via":"http"}');

      await triggerOk(tlsRest(server.tlsPort), channel, 'from-tls', { via: 'https' });
      assert.equal((await plain.nextEvent('from-tls', { channel })).data, '{"via":"https"}');
      assert.deepEqual((await overTls.event(channel, 'from-tls')).data, { via: 'https' });

      // socket_id exclusion works across the two listeners.
      await triggerOk(createRestClient(server), channel, 'not-for-tls', 'x', { socket_id: overTls.socketId });
      await triggerOk(createRestClient(server), channel, 'after', 'y');
      await overTls.event(channel, 'after');
      assert.equal(overTls.messages.filter((m) => m.event === 'not-for-tls').length, 0);
      assert.equal((await plain.nextEvent('not-for-tls', { channel })).data, 'x');
    } finally {
      await closeAll([plain]);
    }
  }));

  it('the main port stays plain: a TLS handshake there fails, a plain GET /up works', T, wrap(async (t, server) => {
    await assert.rejects(tlsConnect(server.port), (err) => {
      assert.doesNotMatch(err.message, /no TLS handshake .* within/, 'a clean failure, not a hang');
      return true;
    });
    const res = await fetch(`${server.baseUrl}/up`);
    assert.equal(res.status, 200);
  }));

  it('a `ws` client verifying the CA: whispers between two wss connections arrive as the exact frame', T, wrap(async (t, server) => {
    const a = await connectWss(server.tlsPort);
    const b = await connectWss(server.tlsPort);
    try {
      const channel = uniqueName('private-raw-tls');
      await subscribeOk(a, APP, channel);
      await subscribeOk(b, APP, channel);
      a.send({ event: 'client-ping', channel, data: { n: 1, text: BIG } });
      const got = await b.nextEvent('client-ping', { channel, timeout: WAIT_MS });
      assert.deepEqual(got, { event: 'client-ping', channel, data: { n: 1, text: BIG } });
      assert.equal(await a.noMessage((m) => m.json && m.json.event === 'client-ping', 300), null);
    } finally {
      await closeAll([a, b]);
    }
  }));
});

describe('TLS on the main port (no --tls-port)', () => {
  const srv = useTlsServer((c) => ({ apps: [APP], args: tlsArgs(c.localhost), readyCa: c.ca.pem }));
  const children = new Set();
  const wrap = (fn) => wrapWithChildren(srv, children, fn);
  after(() => {
    for (const c of children) c.kill();
  });

  it('GET /up over https, and pusher-js over wss gets what the SDK publishes over https, all on one port', T, wrap(async (t, server) => {
    const up = await httpsRequest(server.port);
    assert.equal(up.status, 200, up.body);
    assert.equal(JSON.parse(up.body).health, 'OK');

    const client = pusherOverTls(children, server.port);
    await client.connected();
    const channel = uniqueName('private-main-tls');
    await client.subscribe(channel);
    await triggerOk(tlsRest(server.port), channel, 'on-main', { port: 'main' });
    assert.deepEqual((await client.event(channel, 'on-main')).data, { port: 'main' });
  }));

  it('plain HTTP to it gets a 400 in plaintext and a close; the WebSocket over wss still works', T, wrap(async (t, server) => {
    const ws = await connectWss(server.port);
    try {
      const res = await rawExchange(server.port, Buffer.from('GET /up HTTP/1.1\r\nHost: localhost\r\n\r\n'));
      assert.match(res.data.toString('latin1'), PLAIN_HTTP_ANSWER);
      await assertServed(ws, 'plain HTTP on the TLS main port');
      // The harness's plain readiness probe would fail here: fetch over http is refused.
      const viaFetch = await fetch(`http://${HOST}:${server.port}/up`).then((r) => r.status, (err) => err.message);
      assert.equal(viaFetch, 400);
    } finally {
      await closeAll([ws]);
    }
  }));
});

describe('kernel TLS: the banner says how the TLS listener sends; --tls-ktls off', () => {
  const auto = useTlsServer((c) => ({ apps: [APP], tlsPort: true, args: tlsArgs(c.localhost) }));
  const off = useTlsServer((c) => ({ apps: [APP], tlsPort: true, args: [...tlsArgs(c.localhost), '--tls-ktls', 'off'] }));
  const children = new Set();
  after(() => {
    for (const c of children) c.kill();
  });
  const tlsLine = (server) => server.log().split('\n').find((l) => l.includes('certificate for')) || '';

  it('auto: kernel TLS where this kernel has it, else user space with the reason', T, auto.wrap(async (t, server) => {
    // Which one depends on the kernel (scripts/test-ktls-vm runs the kernel TLS path for real).
    assert.match(tlsLine(server),
      /; (kernel TLS after the handshake \(.+\)|encryption in user space, batched per send \(no kernel TLS: .+\))$/);
  }));

  it('off: user space, said so, and pusher-js over wss gets what the SDK publishes over https', T, wrapWithChildren(off, children, async (t, server) => {
    assert.match(tlsLine(server), /; encryption in user space, batched per send \(no kernel TLS: turned off \(--tls-ktls off\)\)$/);
    const client = pusherOverTls(children, server.tlsPort);
    await client.connected();
    const channel = uniqueName('ktls-off');
    await client.subscribe(channel);
    await triggerOk(tlsRest(server.tlsPort), channel, 'sent', { big: BIG });
    assert.deepEqual((await client.event(channel, 'sent')).data, { big: BIG });
  }));
});

describe('SNI picks the certificate by name', () => {
  const srv = useTlsServer((c) => ({ apps: [APP], threads: 1, tlsPort: true, args: tlsArgs(c.localhost, c.other) }));

  async function peer(server, options) {
    const socket = await tlsConnect(server.tlsPort, options);
    try {
      const cert = socket.getPeerCertificate();
      // The connection is usable, whichever certificate it got.
      const res = await httpOver(socket, GET_UP);
      assert.equal(res.status, 200);
      return { serial: cert.serialNumber, san: cert.subjectaltname, authorized: socket.authorized };
    } finally {
      socket.destroy();
    }
  }
  const anyName = { checkServerIdentity: () => undefined }; // still verified against the CA

  it('other.test (and a name under *.wild.test) gets the second certificate; localhost the first', T, srv.wrap(async (t, server) => {
    const other = await peer(server, { servername: 'other.test' });
    assert.equal(other.serial, certs.other.serial, JSON.stringify(other));
    assert.match(other.san, /DNS:other\.test/);
    assert.equal(other.authorized, true);

    const wild = await peer(server, { servername: 'a.wild.test' });
    assert.equal(wild.serial, certs.other.serial, JSON.stringify(wild));

    const local = await peer(server, { servername: 'localhost' });
    assert.equal(local.serial, certs.localhost.serial, JSON.stringify(local));
    assert.match(local.san, /DNS:localhost/);
  }));

  it('names are matched case-insensitively; no SNI and an unknown name get the default (first) certificate', T, srv.wrap(async (t, server) => {
    const upper = await peer(server, { servername: 'OTHER.Test', ...anyName });
    assert.equal(upper.serial, certs.other.serial, JSON.stringify(upper));
    // Node sends no SNI when connecting to an IP address without a servername.
    const none = await peer(server, { servername: undefined });
    assert.equal(none.serial, certs.localhost.serial, JSON.stringify(none));
    const unknown = await peer(server, { servername: 'unknown.test', ...anyName });
    assert.equal(unknown.serial, certs.localhost.serial, JSON.stringify(unknown));
    // Only one label under a wildcard.
    const deep = await peer(server, { servername: 'a.b.wild.test', ...anyName });
    assert.equal(deep.serial, certs.localhost.serial, JSON.stringify(deep));
  }));

  it('https with servername other.test reaches the HTTP API, verified for that name', T, srv.wrap(async (t, server) => {
    const res = await httpsRequest(server.tlsPort, { servername: 'other.test', headers: { host: 'other.test' } });
    assert.equal(res.status, 200, res.body);
    const ws = await connectWss(server.tlsPort, { tls: { servername: 'other.test' } });
    try {
      assert.equal(ws.ws._socket.getPeerCertificate().serialNumber, certs.other.serial);
      await assertServed(ws, 'a WebSocket over the SNI certificate');
    } finally {
      await closeAll([ws]);
    }
  }));
});

describe('SIGHUP reloads the certificate files', () => {
  let dir;
  let files; // the server's own copies, rewritten by the test
  const srv = useTlsServer((c) => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringcast-e2e-tls-reload-'));
    files = copyPair(c.localhost, dir);
    return { apps: [APP], tlsPort: true, args: tlsArgs(files) };
  });
  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  async function serialOfNewConnection(server) {
    const socket = await tlsConnect(server.tlsPort);
    try {
      return socket.getPeerCertificate().serialNumber;
    } finally {
      socket.destroy();
    }
  }

  it('new handshakes get the new certificate; an established wss connection stays and is served', T, srv.wrap(async (t, server) => {
    const old = await connectWss(server.tlsPort);
    try {
      const channel = uniqueName('tls-reload');
      await old.subscribe(channel);
      assert.equal(old.ws._socket.getPeerCertificate().serialNumber, certs.localhost.serial);
      assert.equal(await serialOfNewConnection(server), certs.localhost.serial);

      copyPair(certs.localhost2, dir); // a renewal: same names, new key and serial
      process.kill(server.child.pid, 'SIGHUP');
      await waitUntil(async () => (await serialOfNewConnection(server)) === certs.localhost2.serial, {
        timeout: 10000, interval: 200, label: `a new connection presenting serial ${certs.localhost2.serial} after SIGHUP`,
      });

      await assertServed(old, 'the reload');
      await triggerOk(tlsRest(server.tlsPort), channel, 'after-reload', { ok: true });
      assert.equal((await old.nextEvent('after-reload', { channel, timeout: WAIT_MS })).data, '{"ok":true}');
      const fresh = await connectWss(server.tlsPort);
      try {
        assert.equal(fresh.ws._socket.getPeerCertificate().serialNumber, certs.localhost2.serial);
        await fresh.subscribe(channel);
        await triggerOk(createRestClient(server), channel, 'to-both', 'x');
        assert.equal((await fresh.nextEvent('to-both', { channel })).data, 'x');
        assert.equal((await old.nextEvent('to-both', { channel })).data, 'x');
      } finally {
        await closeAll([fresh]);
      }
    } finally {
      await closeAll([old]);
    }
  }));

  it('a key that no longer matches on SIGHUP: logged naming the file, the certificate in use is kept', T, srv.wrap(async (t, server) => {
    const before = await serialOfNewConnection(server);
    const keep = await connectWss(server.tlsPort);
    try {
      fs.copyFileSync(certs.other.key, `${files.key}.tmp`);
      fs.renameSync(`${files.key}.tmp`, files.key);
      const logged = server.log().length;
      process.kill(server.child.pid, 'SIGHUP');
      const keyName = path.basename(files.key);
      await waitUntil(() => server.log().slice(logged).split('\n').some((l) => /SIGHUP/.test(l) && l.includes(keyName)), {
        timeout: 10000, label: `a SIGHUP log line naming ${keyName}`,
      });
      assert.equal(await serialOfNewConnection(server), before);
      await assertServed(keep, 'a SIGHUP with a broken key');
    } finally {
      await closeAll([keep]);
      copyPair(certs.localhost2, dir);
    }
  }));
});

describe('what a public TLS port gets: bad input ends cleanly, an established client stays served', () => {
  // TLS 1.2 limited to one cipher (the no-shared-cipher case); the handshake timeout short.
  const CIPHER = 'ECDHE-ECDSA-AES128-GCM-SHA256';
  const srv = useTlsServer((c) => ({
    apps: [APP],
    threads: 1, // the bad connections share the established client's shard
    server: { handshake_timeout: HANDSHAKE_TIMEOUT_S },
    tlsPort: true,
    args: [...tlsArgs(c.localhost), '--tls-ciphers', CIPHER],
  }));
  let established;
  before(async () => {
    established = await connectWss(srv.server.tlsPort);
  });
  after(async () => {
    await closeAll([established]);
  });

  it('plain HTTP bytes to the TLS port: an HTTP 400 in plaintext, then a close', T, srv.wrap(async (t, server) => {
    for (const request of [
      'GET /up HTTP/1.1\r\nHost: localhost\r\n\r\n',
      `POST /apps/${APP.id}/events HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`,
      'HEAD / HTTP/1.0\r\n\r\n',
      // Methods OpenSSL does not name itself: told apart by the bytes (tls_server.cpp).
      `DELETE /apps/${APP.id}/channels HTTP/1.1\r\nHost: localhost\r\n\r\n`,
      'OPTIONS /app/key HTTP/1.1\r\nHost: localhost\r\n\r\n',
    ]) {
      const res = await rawExchange(server.tlsPort, Buffer.from(request));
      const text = res.data.toString('latin1');
      assert.match(text, PLAIN_HTTP_ANSWER, `answer to ${JSON.stringify(request.split('\r\n')[0])}: ${JSON.stringify(text)}`);
      assert.match(text, /\r\n\r\n/, 'a whole response head');
      await assertServed(established, `plain ${request.split(' ')[0]}`);
    }
  }));

  it('a plain WebSocket upgrade to the TLS port: an HTTP 400 in plaintext, then a close; `ws` over ws:// fails cleanly', T, srv.wrap(async (t, server) => {
    const upgrade = `GET /app/${APP.key}?protocol=7&client=js&version=8.6.0 HTTP/1.1\r\nHost: localhost\r\n` +
      'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
    const res = await rawExchange(server.tlsPort, Buffer.from(upgrade));
    assert.match(res.data.toString('latin1'), PLAIN_HTTP_ANSWER, JSON.stringify(res.data.toString('latin1')));
    await assert.rejects(WsClient.connect(`ws://${HOST}:${server.tlsPort}/app/${APP.key}?protocol=7`, { timeout: WAIT_MS }), (err) => {
      assert.match(err.message, /400/, err.message);
      return true;
    });
    await assertServed(established, 'a plain WebSocket upgrade');
  }));

  it('garbage instead of a ClientHello gets a TLS alert or a close; a ServerHello sent to the server gets an alert', T, srv.wrap(async (t, server) => {
    const timeout = HANDSHAKE_TIMEOUT_S * 1000 + TIMEOUT_MARGIN_MS;
    const garbage = await rawExchange(server.tlsPort, Buffer.alloc(64, 0xff), { timeout });
    t.diagnostic(`garbage: closed after ${garbage.ms} ms, ${garbage.data.length} bytes back`);
    if (garbage.data.length > 0) assert.equal(garbage.data[0], 0x15, `an alert record, not ${garbage.data.toString('hex')}`);
    await assertServed(established, 'garbage bytes');

    // A well-formed handshake record holding a ServerHello (type 2): an unexpected message,
    // refused with an alert record (content type 21) before the close, not left to time out.
    const serverHello = Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0x10, 0x02, 0x00, 0x00, 0x0c]), Buffer.alloc(12, 0x03)]);
    const wrong = await rawExchange(server.tlsPort, serverHello, { timeout });
    t.diagnostic(`ServerHello: closed after ${wrong.ms} ms, answer ${wrong.data.toString('hex')}`);
    assert.ok(wrong.data.length >= 7 && wrong.data[0] === 0x15, `an alert record, not ${JSON.stringify(wrong.data.toString('hex'))}`);
    await assertServed(established, 'a ServerHello sent to the server');
  }));

  it('a truncated ClientHello, then silence: closed within the handshake timeout, nothing in plaintext', T, srv.wrap(async (t, server) => {
    const res = await rawExchange(server.tlsPort, truncatedClientHello(), { timeout: HANDSHAKE_TIMEOUT_S * 1000 + TIMEOUT_MARGIN_MS });
    t.diagnostic(`closed after ${res.ms} ms`);
    assert.doesNotMatch(res.data.toString('latin1'), /^HTTP\//, 'no plaintext HTTP answer to a TLS client');
    await assertServed(established, 'a truncated ClientHello');
  }));

  it('a connection that sends nothing: closed within the handshake timeout', T, srv.wrap(async (t, server) => {
    const res = await rawExchange(server.tlsPort, null, { timeout: HANDSHAKE_TIMEOUT_S * 1000 + TIMEOUT_MARGIN_MS });
    t.diagnostic(`closed after ${res.ms} ms`);
    assert.equal(res.data.length, 0, `it sent ${res.data.toString('hex')}`);
    await assertServed(established, 'a silent connection');
  }));

  it(`no shared cipher (TLS 1.2, the server offers only ${CIPHER}): a handshake failure alert; the right one connects`, T, srv.wrap(async (t, server) => {
    await assert.rejects(
      tlsConnect(server.tlsPort, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES256-GCM-SHA384' }),
      (err) => {
        assert.match(err.message, /alert handshake failure/i, err.message);
        return true;
      },
    );
    const ok = await tlsConnect(server.tlsPort, { maxVersion: 'TLSv1.2' });
    try {
      assert.equal(ok.getProtocol(), 'TLSv1.2');
      assert.equal(ok.getCipher().name, CIPHER);
      assert.equal((await httpOver(ok, GET_UP)).status, 200);
    } finally {
      ok.destroy();
    }
    // The list is TLS 1.2's: a TLS 1.3 client is not affected.
    const v13 = await tlsConnect(server.tlsPort);
    try {
      assert.equal(v13.getProtocol(), 'TLSv1.3');
    } finally {
      v13.destroy();
    }
    await assertServed(established, 'a failed cipher negotiation');
  }));

  it('a TLS 1.2 renegotiation is refused (the connection may close); the server stays up', T, srv.wrap(async (t, server) => {
    const socket = await tlsConnect(server.tlsPort, { maxVersion: 'TLSv1.2' });
    try {
      assert.equal(socket.getProtocol(), 'TLSv1.2');
      assert.equal((await httpOver(socket, GET_UP)).status, 200, 'the connection works before');
      const outcome = await withTimeout(new Promise((resolve) => {
        const started = socket.renegotiate({ rejectUnauthorized: true }, (err) => resolve(err ? `refused: ${err.message}` : 'renegotiated'));
        if (!started) resolve('refused locally');
        socket.once('close', () => resolve(`closed${socket.lastError ? `: ${socket.lastError.message}` : ''}`));
      }), WAIT_MS, 'the renegotiation attempt to end');
      t.diagnostic(`renegotiation: ${outcome}`);
      assert.notEqual(outcome, 'renegotiated', 'the server accepted a client-initiated renegotiation');
    } finally {
      socket.destroy();
    }
    await assertServed(established, 'a renegotiation attempt');
    const res = await httpsRequest(server.tlsPort);
    assert.equal(res.status, 200);
  }));
});

describe('--tls-min-version 1.3', () => {
  const srv = useTlsServer((c) => ({ apps: [APP], threads: 1, tlsPort: true, args: [...tlsArgs(c.localhost), '--tls-min-version', '1.3'] }));

  it('a TLS 1.2 client gets a protocol version alert; TLS 1.3 connects and is served', T, srv.wrap(async (t, server) => {
    await assert.rejects(tlsConnect(server.tlsPort, { maxVersion: 'TLSv1.2' }), (err) => {
      assert.match(err.message, /alert protocol version/i, err.message);
      return true;
    });
    const ws = await connectWss(server.tlsPort);
    try {
      assert.equal(ws.ws._socket.getProtocol(), 'TLSv1.3');
      await assertServed(ws, 'a refused TLS 1.2 client');
    } finally {
      await closeAll([ws]);
    }
  }));
});

describe('client certificates (--tls-client-ca)', () => {
  const srv = useTlsServer((c) => ({ apps: [APP], threads: 1, tlsPort: true, args: [...tlsArgs(c.localhost), '--tls-client-ca', c.clientCa.file] }));
  const clientCert = () => ({ cert: certs.client.certPem, key: certs.client.keyPem });

  it('a client with a certificate the client CA signed connects: https and wss', T, srv.wrap(async (t, server) => {
    const res = await httpsRequest(server.tlsPort, clientCert());
    assert.equal(res.status, 200, res.body);
    const ws = await connectWss(server.tlsPort, { tls: clientCert() });
    try {
      await assertServed(ws, 'connecting with a client certificate');
    } finally {
      await closeAll([ws]);
    }
  }));

  it('without a certificate, or with one another CA signed, the handshake fails (TLS 1.3 and 1.2)', T, srv.wrap(async (t, server) => {
    // TLS 1.3: the client's side of the handshake ends before the server has checked its
    // certificate, so the refusal comes as an alert instead of the response.
    await assert.rejects(httpsRequest(server.tlsPort), (err) => {
      t.diagnostic(`TLS 1.3 without a certificate: ${err.message}`);
      assert.doesNotMatch(err.message, /timed out/, err.message);
      return true;
    });
    await assert.rejects(httpsRequest(server.tlsPort, { cert: certs.strayClient.certPem, key: certs.strayClient.keyPem }), (err) => {
      t.diagnostic(`TLS 1.3 with a certificate of another CA: ${err.message}`);
      assert.doesNotMatch(err.message, /timed out/, err.message);
      return true;
    });
    await assert.rejects(tlsConnect(server.tlsPort, { maxVersion: 'TLSv1.2' }), (err) => {
      assert.match(err.message, /alert/i, err.message);
      return true;
    });
    await assert.rejects(WsClient.connect(wssUrl(server.tlsPort), { ca: certs.ca.pem, timeout: WAIT_MS }));
  }));

  it('a returning client resumes with its TLS 1.3 session ticket and is served', T, srv.wrap(async (t, server) => {
    const first = await tlsConnect(server.tlsPort, clientCert());
    let session;
    try {
      const ticket = new Promise((resolve) => first.once('session', resolve));
      assert.equal((await httpOver(first, GET_UP)).status, 200);
      session = await withTimeout(ticket, WAIT_MS, 'a session ticket').catch(() => null);
    } finally {
      first.destroy();
    }
    t.diagnostic(session ? 'got a session ticket' : 'no session ticket came');
    const again = await tlsConnect(server.tlsPort, { ...clientCert(), ...(session ? { session } : {}) });
    try {
      t.diagnostic(`resumed: ${again.isSessionReused()}`);
      assert.equal((await httpOver(again, GET_UP)).status, 200);
    } finally {
      again.destroy();
    }
  }));
});

describe('an encrypted key (--tls-passphrase)', () => {
  const srv = useTlsServer((c) => ({
    apps: [APP], threads: 1, tlsPort: true, args: [...tlsArgs(c.encrypted), '--tls-passphrase', c.encrypted.passphrase],
  }));

  it('with its passphrase the server starts and serves wss with that certificate', T, srv.wrap(async (t, server) => {
    const ws = await connectWss(server.tlsPort);
    try {
      assert.equal(ws.ws._socket.getPeerCertificate().serialNumber, certs.encrypted.serial);
      await assertServed(ws, 'start-up with an encrypted key');
    } finally {
      await closeAll([ws]);
    }
  }));
});

describe('start-up refuses certificates it cannot use, naming the file', () => {
  it('a key that does not match the certificate', T, async () => {
    const res = await startRefused(tlsArgs(certs.mismatched));
    assertRefusedNaming(res, certs.mismatched.key);
  });

  it('a missing key file', T, async () => {
    const missing = path.join(certs.dir, 'no-such-key.pem');
    const res = await startRefused(tlsArgs({ cert: certs.localhost.cert, key: missing }));
    assertRefusedNaming(res, missing);
  });

  it('a missing certificate file', T, async () => {
    const missing = path.join(certs.dir, 'no-such-cert.pem');
    const res = await startRefused(tlsArgs({ cert: missing, key: certs.localhost.key }));
    assertRefusedNaming(res, missing);
  });

  it('an encrypted key with the wrong passphrase, and without one', { timeout: 45000 }, async () => {
    const wrong = await startRefused([...tlsArgs(certs.encrypted), '--tls-passphrase', 'not the passphrase']);
    assertRefusedNaming(wrong, certs.encrypted.key);
    const none = await startRefused(tlsArgs(certs.encrypted));
    assertRefusedNaming(none, certs.encrypted.key);
  });
});

describe('--tls-max-handshakes 2 (one shard)', () => {
  const srv = useTlsServer((c) => ({
    apps: [APP],
    threads: 1,
    server: { handshake_timeout: HANDSHAKE_TIMEOUT_S },
    tlsPort: true,
    args: [...tlsArgs(c.localhost), '--tls-max-handshakes', '2'],
  }));

  it('connections beyond the limit are closed while two stalled handshakes hold it; a client gets in once they time out', T, srv.wrap(async (t, server) => {
    const established = await connectWss(server.tlsPort); // its handshake is over: it holds no slot
    const stalled = [];
    try {
      for (let i = 0; i < 5; i += 1) stalled.push(await idleSocket(server.tlsPort));
      // The first two take the slots until their handshake timeout; the other three are closed
      // at accept.
      await waitUntil(() => stalled.filter((s) => s.closedAt !== null).length >= 3, {
        timeout: WAIT_MS, label: 'three of five silent connections closed at the handshake limit',
      });
      const holding = () => stalled.slice(0, 2).every((s) => s.closedAt === null);
      t.diagnostic(`closed: ${stalled.map((s) => (s.closedAt === null ? 'open' : 'closed')).join(' ')}`);

      if (holding()) {
        let sixth;
        try {
          sixth = await tlsConnect(server.tlsPort, { timeout: WAIT_MS });
        } catch (err) {
          sixth = err;
        }
        if (sixth instanceof Error) {
          t.diagnostic(`a 6th client while both slots are held: refused (${sixth.message})`);
        } else {
          sixth.destroy();
          // Only a failure if the two stalled ones still held their slots throughout.
          assert.ok(!holding(), 'a 6th TLS client completed its handshake while two stalled handshakes held both slots');
          t.diagnostic('a 6th client got in: a stalled one timed out meanwhile');
        }
      } else {
        t.diagnostic('a stalled handshake timed out before the 6th client could be tried (loaded machine): not tried');
      }

      await waitUntil(() => stalled.every((s) => s.closedAt !== null), {
        timeout: HANDSHAKE_TIMEOUT_S * 1000 + TIMEOUT_MARGIN_MS, label: 'the stalled handshakes closed by the handshake timeout',
      });
      // Slots are free again: two clients at once get in and are served.
      const [a, b] = await Promise.all([connectWss(server.tlsPort), connectWss(server.tlsPort)]);
      try {
        await assertServed(a, 'the stalled handshakes timed out');
        await assertServed(b, 'the stalled handshakes timed out');
      } finally {
        await closeAll([a, b]);
      }
      await assertServed(established, 'the handshake limit was reached');
    } finally {
      for (const s of stalled) s.destroy();
      await closeAll([established]);
    }
  }));
});

describe('headless Chromium over wss (the browser build of pusher-js)', () => {
  const CHROMIUM = process.env.RINGCAST_CHROMIUM || '/usr/bin/chromium';
  const PUSHER_JS = path.join(path.dirname(require.resolve('pusher-js/package.json')), 'dist', 'web', 'pusher.min.js');
  const srv = useTlsServer((c) => ({ apps: [APP], tlsPort: true, args: tlsArgs(c.localhost) }));
  let site;
  let context;
  let profileDir;
  const consoleLines = [];

  function page(query, tlsPort) {
    const config = { key: APP.key, host: HOST, port: tlsPort, channel: query.get('channel') };
    return `<!doctype html>
<html>
<head><meta charset="utf-8"><title>wss</title><script src="/js/pusher.min.js"></script></head>
<body>
  <script>
    const CONFIG = ${JSON.stringify(config)};
    window.events = [];
    const pusher = new Pusher(CONFIG.key, {
      wsHost: CONFIG.host, wsPort: CONFIG.port, wssPort: CONFIG.port, forceTLS: true,
      enabledTransports: ['ws', 'wss'], cluster: 'mt1', disableStats: true,
    });
    pusher.connection.bind('state_change', (s) => window.events.push({ kind: 'state', payload: s.current }));
    pusher.connection.bind('error', (e) => window.events.push({ kind: 'error', payload: JSON.stringify(e) }));
    const channel = pusher.subscribe(CONFIG.channel);
    channel.bind('pusher:subscription_succeeded', () => window.events.push({ kind: 'subscribed', payload: pusher.connection.socket_id }));
    channel.bind('OrderShipped', (data) => window.events.push({ kind: 'event', payload: data }));
  </script>
</body>
</html>`;
  }

  before(async () => {
    if (!fs.existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: run tests/e2e/setup-browser.sh (installs Debian's chromium)`);
    }
    const playwright = require('playwright-core');
    site = await startLaravel({
      app: APP,
      files: { '/js/pusher.min.js': PUSHER_JS },
      pages: { '/wss': (query) => page(query, srv.server.tlsPort) },
    });
    profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringcast-chromium-tls-'));
    context = await playwright.chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        // Trust exactly the test server's key (needs --user-data-dir, which a persistent
        // context passes); no certificate check is switched off for anything else.
        `--ignore-certificate-errors-spki-list=${spkiHash(certs.localhost.cert)}`,
      ],
      timeout: 30000,
    });
  });

  after(async () => {
    if (context) await context.close().catch(() => {});
    if (site) await site.close();
    if (profileDir) fs.rmSync(profileDir, { recursive: true, force: true });
  });

  it('a page connects over wss with forceTLS and receives an event published over https', { timeout: 60000 }, srv.wrap(async (t, server) => {
    const channel = uniqueName('browser-tls');
    const tab = await context.newPage();
    tab.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    tab.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
    try {
      await tab.goto(site.url(`/wss?channel=${encodeURIComponent(channel)}`), { timeout: 15000 });
      await tab.waitForFunction("window.events.some(e => e.kind === 'subscribed')", null, { timeout: 15000 }).catch((err) => {
        throw new Error(`the page did not subscribe over wss: ${err.message}`);
      });
      const data = { order: 42, note: 'über TLS' };
      await triggerOk(tlsRest(server.tlsPort), channel, 'OrderShipped', data);
      await tab.waitForFunction("window.events.some(e => e.kind === 'event')", null, { timeout: 15000 }).catch((err) => {
        throw new Error(`the page did not get the event: ${err.message}`);
      });
      const events = await tab.evaluate(() => window.events);
      assert.deepEqual(events.filter((e) => e.kind === 'event').map((e) => e.payload), [data]);
      assert.deepEqual(events.filter((e) => e.kind === 'error'), []);
    } catch (err) {
      const events = await tab.evaluate(() => window.events).catch(() => null);
      process.stderr.write(`\n----- browser console -----\n${consoleLines.join('\n')}\n` +
        `page events: ${JSON.stringify(events)}\n----- end of browser console -----\n`);
      throw err;
    } finally {
      await tab.close().catch(() => {});
    }
  }));
});
