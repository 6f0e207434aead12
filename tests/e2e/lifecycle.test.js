'use strict';

// Stopping and restarting. SIGTERM during traffic: the listener closes, a request in progress
// is still answered (and its event delivered), then every WebSocket gets close 4200 (pusher-js
// reconnects at once) and the process exits 0 within its grace period. `ringcast restart`
// during a publish loop: the new process takes the port over, no publish fails, the old one's
// clients get 4200 and reconnect to the new one.

const assert = require('node:assert/strict');
const net = require('node:net');
const { spawn } = require('node:child_process');
const { describe, it } = require('node:test');
const { startServer, DEFAULT_APP, HOST, binaryPath } = require('./lib/server');
const { signedQuery, parseResponses, request } = require('./lib/http');
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

// `ringcast restart` on the server's port with its config; resolves once the new server has
// printed its banner. stop() sends SIGTERM and resolves with the exit code.
async function restartServer(server) {
  const child = spawn(binaryPath(), ['restart', '--host', HOST, '--port', String(server.port), '--threads', '2',
    '--config', server.configPath], { env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  child.stdout.on('data', (c) => { output += c; });
  child.stderr.on('data', (c) => { output += c; });
  await waitUntil(() => /Server started/.test(output) || child.exitCode !== null,
    { timeout: 10000, label: 'the new server\'s banner' });
  return {
    output: () => output,
    alive: () => child.exitCode === null && child.signalCode === null,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

// A pusher-js subscriber that records the n of every "tick" and when it was (re)subscribed.
async function tickSubscriber(server, channel) {
  const client = createClient(server);
  await waitConnected(client);
  const rec = { client, ticks: new Set(), subscribed: [], states: [] };
  client.connection.bind('state_change', (s) => rec.states.push(s.current));
  const ch = client.subscribe(channel);
  rec.count = new Map(); // n -> times received
  ch.bind('tick', (d) => {
    rec.ticks.add(d.n);
    rec.count.set(d.n, (rec.count.get(d.n) || 0) + 1);
  });
  ch.bind('pusher:subscription_succeeded', () => rec.subscribed.push(Date.now()));
  await waitUntil(() => rec.subscribed.length === 1, { label: 'first subscription' });
  return rec;
}

describe('ringcast restart during a publish loop', () => {
  it('takes the port over: no publish fails, the old server\'s clients get 4200, reconnect to the new one and receive every publish once', T, async (t) => {
    const server = await startServer({ apps: [DEFAULT_APP], threads: 2 });
    const channel = uniqueName('restart');
    const subs = [];
    let raw;
    let next;
    let publishing = true;
    try {
      raw = await connectPusher(server.wsUrl());
      await raw.subscribe(channel);
      for (let i = 0; i < 2; i += 1) subs.push(await tickSubscriber(server, channel));
      const rest = createRestClient(server);
      const publishes = []; // {n, start, end, ok, error}
      const loop = (async () => {
        for (let n = 0; publishing; n += 1) {
          const p = { n, start: Date.now() };
          try {
            const res = await rest.trigger(channel, 'tick', { n });
            p.ok = res.status === 200;
          } catch (err) {
            p.ok = false;
            p.error = String(err && (err.message || err));
          }
          p.end = Date.now();
          publishes.push(p);
        }
      })();
      await waitUntil(() => publishes.length >= 50, { timeout: 10000, label: '50 publishes before the restart' });

      const restartAt = Date.now();
      next = await restartServer(server);
      assert.ok(next.alive(), `ringcast restart exited:\n${next.output()}`);
      const old = await server.stop();
      assert.equal(server.killedHard, undefined, 'the old server needed SIGKILL');
      assert.deepEqual({ code: old.code, signal: old.signal }, { code: 0, signal: null });
      const closed = await raw.waitClose(5000);
      assert.equal(closed.code, 4200, `close reason: ${closed.reason}`);
      await waitUntil(() => subs.every((s) => s.subscribed.length === 2), { timeout: 5000, label: 'pusher-js resubscribed' });
      const resubscribed = Math.max(...subs.map((s) => s.subscribed[1]));
      const count = publishes.length;
      await waitUntil(() => publishes.length >= count + 50, { timeout: 10000, label: '50 publishes after the restart' });
      publishing = false;
      await loop;
      await sleep(300); // the last deliveries

      const failed = publishes.filter((p) => !p.ok);
      assert.deepEqual(failed, [], 'publishes that failed during the restart');
      for (const s of subs) {
        assert.ok(!s.states.includes('failed') && !s.states.includes('unavailable'), `pusher-js states: ${s.states}`);
        // Every publish answered 200 arrives once: before the restart from the old server,
        // while moving from the new server's replay of what it published meanwhile, then live.
        const lost = publishes.filter((p) => !s.ticks.has(p.n)).map((p) => p.n);
        const twice = [...s.count].filter(([, times]) => times > 1).map(([n]) => n);
        const away = publishes.filter((p) => p.end >= restartAt && p.start <= resubscribed).length;
        t.diagnostic(`subscriber: ${publishes.length} publishes, ${away} of them while it moved; lost ${lost.length}, twice ${twice.length}`);
        assert.deepEqual(lost, [], 'publishes answered 200 but never delivered');
        assert.deepEqual(twice, [], 'publishes delivered twice');
      }
      assert.equal((await request(server.port, { path: '/up' })).status, 200);
      // The clients go first: they would read the new server's 4200 as "reconnect now" and
      // keep retrying a port nobody serves any more.
      disconnectAll(subs.map((s) => s.client));
      const exit = await next.stop();
      assert.deepEqual(exit, { code: 0, signal: null });
      // Not run by the harness, so its sanitizer reports (scripts/test's sanitized runs) are read here.
      assert.doesNotMatch(next.output(), /ERROR: (Address|Leak|Thread)Sanitizer|runtime error:|(WARNING|FATAL): ThreadSanitizer/,
        next.output());
    } catch (err) {
      server.dumpLog('restart test failed');
      if (next) t.diagnostic(`new server output:\n${next.output()}`);
      throw err;
    } finally {
      publishing = false;
      disconnectAll(subs.map((s) => s.client));
      if (raw) raw.ws.terminate();
      if (next) await next.stop();
      await server.stop();
    }
  });
});
