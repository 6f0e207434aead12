'use strict';

// Several nodes over one real redis-server (issue 12, first slice): what the HTTP API and
// clients broadcast reaches every node once and in order, toOthers works whichever node holds
// the excluded socket, and a Redis restart is survived (publishes answer 503 while it is down,
// /up says so, delivery resumes afterwards on the subscriptions that were already there).

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const { startServer, binaryPath, DEFAULT_APP } = require('./lib/server');
const { connectPusher, closeAll } = require('./lib/ws');
const { subscribeOk, signinOk, framesWhere, waitAllHave, settle, assertAlive } = require('./lib/proto');
const Pusher = require('pusher');
const { postEvents } = require('./lib/http');
const { waitUntil } = require('./lib/util');
const { HOST, RedisServer, redisCommand, freePort, up } = require('./lib/cluster');
const { makeCertificates } = require('./lib/webhook_receiver');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const EVENTS = 100;

function eventsOf(client, channel) {
  return framesWhere(client, (j) => j.channel === channel && !j.event.startsWith('pusher')).map((j) => `${j.event}:${j.data}`);
}

describe('two nodes over Redis', () => {
  const redis = new RedisServer(0);
  const nodes = [];

  before(async () => {
    redis.port = await freePort();
    await redis.start();
    const server = { redis: { url: `redis://${HOST}:${redis.port}`, prefix: `rc-e2e-${process.pid}` } };
    for (let i = 0; i < 2; i += 1) {
      nodes.push(await startServer({ apps: [{ ...DEFAULT_APP, accept_client_events_from: 'all' }], server, threads: 2 }));
    }
    for (const n of nodes) {
      await waitUntil(async () => (await up(n)).redis === 'up', { timeout: 10000, label: 'both nodes connected to Redis' });
    }
  });

  after(async () => {
    for (const n of nodes) await n.stop();
    await redis.stop();
  });

  it('a publisher alternating between nodes sees its events once each and in its order on both', { timeout: 60000 }, async () => {
    const clients = [await connectPusher(nodes[0].wsUrl()), await connectPusher(nodes[1].wsUrl()), await connectPusher(nodes[1].wsUrl())];
    try {
      for (const c of clients) await subscribeOk(c, DEFAULT_APP, 'news');
      const sent = [];
      // Each request goes to the other node, as through a round-robin balancer, and the next one
      // is sent once the previous is answered: that order must hold for every subscriber.
      for (let i = 0; i < EVENTS; i += 1) {
        const r = await postEvents(nodes[i % 2].port, { body: { name: 'ev', channel: 'news', data: String(i) } });
        assert.equal(r.status, 200, r.body.toString());
        sent.push(`ev:${i}`);
      }
      await waitAllHave(clients, (j) => j.channel === 'news' && j.event === 'ev', EVENTS, { label: 'every event on every client' });
      await settle(300);
      for (const c of clients) assert.deepEqual(eventsOf(c, 'news'), sent, 'each event once, in publish order');
    } finally {
      await closeAll(clients);
    }
  });

  it('socket_id exclusion (toOthers) works whichever node holds the excluded socket', { timeout: 30000 }, async () => {
    const a = await connectPusher(nodes[0].wsUrl());
    const b = await connectPusher(nodes[1].wsUrl());
    try {
      await subscribeOk(a, DEFAULT_APP, 'room');
      await subscribeOk(b, DEFAULT_APP, 'room');
      const r = await postEvents(nodes[1].port, { body: { name: 'said', channel: 'room', data: 'x', socket_id: a.socketId } });
      assert.equal(r.status, 200);
      await waitAllHave([b], (j) => j.event === 'said', 1);
      await settle(300);
      assert.deepEqual(eventsOf(a, 'room'), [], 'the excluded socket on the other node got nothing');
      assert.deepEqual(eventsOf(b, 'room'), ['said:x']);
    } finally {
      await closeAll([a, b]);
    }
  });

  it("a client event reaches the channel's subscribers on the other node, not its sender", { timeout: 30000 }, async () => {
    const a = await connectPusher(nodes[0].wsUrl());
    const b = await connectPusher(nodes[1].wsUrl());
    try {
      await subscribeOk(a, DEFAULT_APP, 'private-chat');
      await subscribeOk(b, DEFAULT_APP, 'private-chat');
      a.send({ event: 'client-typing', channel: 'private-chat', data: { who: 'a' } });
      await waitAllHave([b], (j) => j.event === 'client-typing', 1);
      await settle(300);
      assert.equal(framesWhere(b, (j) => j.event === 'client-typing').length, 1);
      assert.equal(framesWhere(a, (j) => j.event === 'client-typing').length, 0);
    } finally {
      await closeAll([a, b]);
    }
  });

  it("terminate_connections asked of one node closes the user's connections on the other too", { timeout: 30000 }, async () => {
    const doomed = [await connectPusher(nodes[0].wsUrl()), await connectPusher(nodes[1].wsUrl())];
    const other = await connectPusher(nodes[1].wsUrl());
    try {
      await signinOk(doomed[0], DEFAULT_APP, { id: 'leaver' });
      await signinOk(doomed[1], DEFAULT_APP, { id: 'leaver' });
      await signinOk(other, DEFAULT_APP, { id: 'stayer' });
      const rest = new Pusher({ appId: DEFAULT_APP.id, key: DEFAULT_APP.key, secret: DEFAULT_APP.secret, host: HOST, port: String(nodes[0].port) });
      const res = await rest.terminateUserConnections('leaver');
      assert.equal(res.status, 200);
      for (const c of doomed) {
        const close = await c.waitClose(5000);
        assert.equal(close.code, 4009, `close code on ${c.socketId}`);
      }
      await assertAlive(other, 'signed in as another user');
    } finally {
      await closeAll([...doomed, other]);
    }
  });

  it('a stalled Redis (CLIENT PAUSE) delays a local client event by a bounded time, never stops it', { timeout: 30000 }, async () => {
    const a = await connectPusher(nodes[0].wsUrl());
    const b = await connectPusher(nodes[0].wsUrl());
    try {
      await subscribeOk(a, DEFAULT_APP, 'private-stall');
      await subscribeOk(b, DEFAULT_APP, 'private-stall');
      assert.match(await redisCommand(redis.port, 'CLIENT PAUSE 6000 ALL'), /^\+OK/);
      a.send({ event: 'client-typing', channel: 'private-stall', data: { who: 'a' } });
      // Well inside the pause: the event cannot have come through Redis.
      await waitAllHave([b], (j) => j.event === 'client-typing', 1, { timeout: 4000, label: 'the client event during the pause' });
      await redisCommand(redis.port, 'CLIENT UNPAUSE');
      await settle(500);
      assert.equal(framesWhere(b, (j) => j.event === 'client-typing').length, 1, 'its late echo is not delivered again');
    } finally {
      await closeAll([a, b]);
    }
  });

  it('while Redis is down publishes answer 503 and /up says so; afterwards delivery resumes', { timeout: 60000 }, async () => {
    const clients = [await connectPusher(nodes[0].wsUrl()), await connectPusher(nodes[1].wsUrl())];
    try {
      for (const c of clients) await subscribeOk(c, DEFAULT_APP, 'live');
      await redis.stop();
      for (const n of nodes) {
        await waitUntil(async () => (await up(n)).redis === 'down', { timeout: 10000, label: '/up says redis down' });
      }
      const refused = await postEvents(nodes[0].port, { body: { name: 'ev', channel: 'live', data: 'lost' } });
      assert.equal(refused.status, 503, 'a publish that cannot reach the other nodes is not a 200');
      assert.match(JSON.parse(refused.body.toString()).error, /Redis/);
      await redis.start();
      for (const n of nodes) {
        await waitUntil(async () => (await up(n)).redis === 'up', { timeout: 15000, label: 'reconnected to Redis' });
      }
      const r = await postEvents(nodes[1].port, { body: { name: 'ev', channel: 'live', data: 'back' } });
      assert.equal(r.status, 200);
      await waitAllHave(clients, (j) => j.event === 'ev' && j.channel === 'live', 1, { label: 'the event after the restart' });
      for (const c of clients) assert.deepEqual(eventsOf(c, 'live'), ['ev:back'], 'the refused event was not published anywhere');
      for (const n of nodes) assert.match(n.log(), /Redis bridge: .* unreachable/);
    } finally {
      await closeAll(clients);
    }
  });
});

describe('Redis settings', () => {
  it("a Reverb scaling .env block turns it on unchanged (REVERB_SCALING_ENABLED, REDIS_HOST, REDIS_PORT)", { timeout: 30000 }, async () => {
    const redis = new RedisServer(await freePort());
    await redis.start();
    const env = {
      REVERB_APP_ID: '7',
      REVERB_APP_KEY: 'reverb-key',
      REVERB_APP_SECRET: 'reverb-secret',
      REVERB_SCALING_ENABLED: 'true',
      REVERB_SCALING_CHANNEL: `reverb-e2e-${process.pid}`,
      REDIS_HOST: HOST,
      REDIS_PORT: String(redis.port),
    };
    let node;
    try {
      node = await startServer({ noConfig: true, env });
      await waitUntil(async () => (await up(node)).redis === 'up', { timeout: 10000, label: 'connected to Redis' });
      assert.match(node.log(), new RegExp(`on channel reverb-e2e-${process.pid}:broadcast`));
    } finally {
      if (node) await node.stop();
      await redis.stop();
    }
  });

  it('REDIS_HOST without REVERB_SCALING_ENABLED leaves a single node (Laravel sets it for its cache)', { timeout: 30000 }, async () => {
    const node = await startServer({ noConfig: true, env: { REDIS_HOST: HOST, REDIS_PORT: '1' } });
    try {
      assert.deepEqual(await up(node), { health: 'OK' });
    } finally {
      await node.stop();
    }
  });

  it('rediss:// reaches a Redis that speaks only TLS, verified against the given CA; a wrong CA keeps it down and says why', { timeout: 40000 }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-redis-tls-'));
    const certs = await makeCertificates(dir);
    const redis = new RedisServer(await freePort(), { tls: certs });
    const nodes = [];
    try {
      await redis.start();
      const server = (ca) => ({ redis: { url: `rediss://${HOST}:${redis.port}`, ca_file: ca, prefix: `rc-tls-${process.pid}` } });
      for (let i = 0; i < 2; i += 1) nodes.push(await startServer({ apps: [DEFAULT_APP], server: server(certs.caFile), threads: 1 }));
      for (const n of nodes) await waitUntil(async () => (await up(n)).redis === 'up', { timeout: 10000, label: 'connected over TLS' });
      const sub = await connectPusher(nodes[1].wsUrl());
      try {
        await subscribeOk(sub, DEFAULT_APP, 'over-tls');
        const r = await postEvents(nodes[0].port, { body: { name: 'ev', channel: 'over-tls', data: 'x' } });
        assert.equal(r.status, 200, r.body.toString());
        await waitAllHave([sub], (j) => j.event === 'ev', 1, { label: 'the event across nodes over TLS' });
      } finally {
        await closeAll([sub]);
      }
      // The same Redis with an unrelated CA: never connected, and the log says it was the certificate.
      const other = await makeCertificates(fs.mkdtempSync(path.join(os.tmpdir(), 'rc-redis-tls-other-')));
      const wrong = await startServer({ apps: [DEFAULT_APP], server: server(other.caFile), threads: 1 });
      nodes.push(wrong);
      await waitUntil(() => /certificate/i.test(wrong.log()), { timeout: 10000, label: 'a certificate error in the log' });
      assert.equal((await up(wrong)).redis, 'down');
    } finally {
      for (const n of nodes) await n.stop();
      await redis.stop();
    }
  });

  it('a bad --redis URL is refused at start, naming the flag', () => {
    const r = spawnSync(binaryPath(), ['start', '--host', HOST, '--port', '1', '--redis', 'ftp://example.com'], {
      encoding: 'utf8',
      timeout: 10000,
    });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /--redis/);
  });
});
