'use strict';

// Stopping: SIGTERM during traffic. The listener closes, a request in progress is still
// answered (and its event delivered), then every WebSocket gets close 4200 (pusher-js reconnects
// at once) and the process exits 0 within its grace period.

const assert = require('node:assert/strict');
const net = require('node:net');
const { describe, it } = require('node:test');
const { startServer, DEFAULT_APP, HOST } = require('./lib/server');
const { signedQuery, parseResponses } = require('./lib/http');
const { connectPusher, closeAll } = require('./lib/ws');
const { createClient, waitConnected, createRestClient, disconnectAll } = require('./lib/pusher');
const { uniqueName, sleep, waitUntil } = require('./lib/util');

const T = { timeout: 30000 };

// A signed POST /apps/1/events split in two: the headers and half the body, then the rest.
function splitPublish(channel, name) {
  const body = JSON.stringify({ name, channel, data: JSON.stringify({ late: true }) });
  const query = signedQuery({ signPath: '/apps/1/events', key: DEFAULT_APP.key, secret: DEFAULT_APP.secret, body });
  const head =
    `POST /apps/1/events?${query} HTTP/1.1\r\nHost: ${HOST}\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
  const half = Math.floor(body.length / 2);
  return [head + body.slice(0, half), body.slice(half)];
}

// Opens a TCP connection and sends `first`; `finish(rest)` sends the rest and resolves with
// the raw answer once the server closes the connection.
function openRequest(port, first) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, HOST);
    const chunks = [];
    let closed;
    const done = new Promise((res) => { closed = res; });
    sock.on('data', (c) => chunks.push(c));
    sock.on('close', () => closed(Buffer.concat(chunks)));
    sock.on('error', reject);
    sock.once('connect', () => {
      sock.write(first);
      resolve({ finish: (rest) => { sock.write(rest); return done; } });
    });
  });
}

describe('SIGTERM during traffic', () => {
  it('answers the request in progress, delivers its event, closes every WebSocket with 4200, exits 0', T, async (t) => {
    const server = await startServer({ apps: [DEFAULT_APP], threads: 2 });
    const channel = uniqueName('stopping');
    const clients = [];
    const pushers = [];
    let publishing = true;
    try {
      for (let i = 0; i < 4; i += 1) {
        const c = await connectPusher(server.wsUrl());
        await c.subscribe(channel);
        clients.push(c);
      }
      // pusher-js too: it must read 4200 as "reconnect now" (state "connecting", not "failed").
      const pusher = createClient(server);
      pushers.push(pusher);
      await waitConnected(pusher);
      const states = [];
      pusher.connection.bind('state_change', (s) => states.push(s.current));

      // Traffic: a publish loop through the SDK for as long as the server answers.
      const rest = createRestClient(server);
      let published = 0;
      const loop = (async () => {
        while (publishing) {
          try {
            const res = await rest.trigger(channel, 'tick', { n: published });
            if (res.status === 200) published += 1;
          } catch {
            return; // the server has gone
          }
        }
      })();
      await waitUntil(() => published >= 20, { timeout: 10000, label: '20 publishes before the stop' });

      const [first, second] = splitPublish(channel, 'late');
      const pending = await openRequest(server.port, first);
      await sleep(100); // the server has read the first half
      const signalled = Date.now();
      server.child.kill('SIGTERM');
      await sleep(300);
      const answer = await pending.finish(second);
      const replies = parseResponses(answer).responses;
      assert.equal(replies.length, 1, `answer to the request in progress: ${JSON.stringify(answer.toString())}`);
      assert.equal(replies[0].status, 200, replies[0].body);
      assert.match(String(replies[0].headers.connection), /close/i);

      for (const c of clients) {
        const closed = await c.waitClose(5000);
        assert.equal(closed.code, 4200, `close reason: ${closed.reason}`);
        const late = c.frames.findIndex((f) => f.json && f.json.event === 'late');
        assert.ok(late >= 0, 'the event of the request in progress was not delivered before the close');
      }
      const exit = await server.stop();
      const took = Date.now() - signalled;
      t.diagnostic(`exited ${took} ms after SIGTERM; ${published} publishes answered 200`);
      assert.equal(server.killedHard, undefined, 'the server needed SIGKILL');
      assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null });
      // 2 s for requests in progress + 2 s for the goodbyes + the webhooks' 3 s (none here).
      assert.ok(took < 4500, `exited ${took} ms after SIGTERM`);
      await waitUntil(() => states.includes('connecting'), { timeout: 3000, label: 'pusher-js reconnecting' });
      assert.ok(!states.includes('failed'), `pusher-js states: ${states}`);
      publishing = false;
      await loop;
    } catch (err) {
      server.dumpLog('lifecycle test failed');
      throw err;
    } finally {
      publishing = false;
      disconnectAll(pushers);
      await closeAll(clients);
      await server.stop();
    }
  });
});
