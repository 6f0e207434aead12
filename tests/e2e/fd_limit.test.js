'use strict';
// At the open-files limit the server still answers: every client beyond it gets HTTP 503 with
// Retry-After and a close, instead of waiting unanswered in the kernel's backlog, and the
// clients already connected keep getting every event. The server runs under a lowered
// RLIMIT_NOFILE (prlimit) so the test stays small.
const assert = require('node:assert/strict');
const net = require('node:net');
const { describe, it, before, after } = require('node:test');
const { startServer, DEFAULT_APP } = require('./lib/server');
const { connectPusher } = require('./lib/ws');
const { createRestClient, triggerOk } = require('./lib/pusher');
const { uniqueName, sleep } = require('./lib/util');

// Opens a TCP connection and sends a keep-alive health check; resolves with the first answer
// (or '' when the connection ends without one) and the socket, left open.
function healthCheck(port) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let got = '';
    let done = false;
    const finish = (why) => {
      if (done) return;
      done = true;
      resolve({ sock, got, why });
    };
    sock.on('connect', () => sock.write('GET /up HTTP/1.1\r\nHost: x\r\n\r\n'));
    sock.on('data', (d) => {
      got += d.toString('latin1');
      if (got.includes('\r\n\r\n')) finish('answer');
    });
    sock.on('close', () => finish('closed'));
    sock.on('error', () => finish('error'));
    setTimeout(() => finish('no answer in 5 s'), 5000);
  });
}

describe('at the open-files limit', () => {
  let server;
  before(async () => {
    server = await startServer({ apps: [DEFAULT_APP], nofile: 64 });
  });
  after(async () => {
    if (server) await server.stop();
  });

  it('answers 503 with Retry-After beyond it, and connected clients get every event', { timeout: 60000 }, async () => {
    const rest = createRestClient(server);
    const channel = uniqueName('watched');
    const healthy = await connectPusher(server.wsUrl());
    const held = [];
    try {
      await healthy.subscribe(channel);
      await triggerOk(rest, channel, 'before', { n: 1 });
      await healthy.nextEvent('before', { channel });

      let refused = null;
      for (let i = 0; i < 100 && !refused; i += 1) {
        const r = await healthCheck(server.port);
        held.push(r.sock);
        if (r.got.startsWith('HTTP/1.1 200 ')) continue;
        assert.match(r.got, /^HTTP\/1\.1 503 /, `connection ${i}: ${r.why}: ${JSON.stringify(r.got.slice(0, 300))}`);
        refused = r.got;
      }
      assert.ok(refused, 'a hundred connections were all accepted under a limit of 64 descriptors');
      assert.match(refused, /\r\nRetry-After: \d+\r\n/i, refused);

      for (const s of held.splice(0)) s.destroy();
      await sleep(300);
      const again = await healthCheck(server.port);
      again.sock.destroy();
      assert.match(again.got, /^HTTP\/1\.1 200 /, `after the limit eased: ${again.why}: ${again.got.slice(0, 200)}`);
      await triggerOk(rest, channel, 'after', { n: 2 });
      await healthy.nextEvent('after', { channel });
      assert.match(server.log(), /connections answered 503/, 'the condition is logged');
    } finally {
      for (const s of held) s.destroy();
      await healthy.shutdown();
    }
  });
});
