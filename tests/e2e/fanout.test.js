'use strict';

// Fan-out across shards: 200 subscribers on one channel of a 2-thread server.

const assert = require('node:assert/strict');
const { describe, it, before, after } = require('node:test');
const { useServer } = require('./lib/server');
const { connectPusher, closeAll } = require('./lib/ws');
const { createRestClient, triggerOk } = require('./lib/pusher');
const { uniqueName, waitUntil, sleep } = require('./lib/util');

const CLIENTS = 200;
const EVENTS = 100;
const T = { timeout: 60000 };

function eventsNamed(client, name) {
  return client.frames.filter((f) => f.json && f.json.event === name);
}

describe('fan-out to 200 subscribers on a 2-thread server', () => {
  const srv = useServer({ threads: 2 });
  const channel = uniqueName('fanout');
  let clients = [];
  let rest;

  before(async () => {
    const server = srv.server;
    rest = createRestClient(server);
    // Connect in batches so the kernel spreads the accepts over both shards' listeners.
    for (let i = 0; i < CLIENTS; i += 25) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(25, CLIENTS - i) }, () => connectPusher(server.wsUrl())),
      );
      clients.push(...batch);
    }
    await Promise.all(clients.map((c) => c.subscribe(channel, { timeout: 10000 })));
  });

  after(async () => {
    await closeAll(clients);
    clients = [];
  });

  it('gives every connection a distinct socket_id', T, srv.wrap(async () => {
    assert.equal(clients.length, CLIENTS);
    const ids = new Set(clients.map((c) => c.socketId));
    assert.equal(ids.size, CLIENTS);
    for (const id of ids) assert.match(id, /^\d+\.\d+$/);
  }));

  it(`delivers ${EVENTS} sequential events to all ${CLIENTS} clients exactly once, in order`, T, srv.wrap(async () => {
    for (let i = 0; i < EVENTS; i += 1) {
      await triggerOk(rest, channel, 'seq', { seq: i });
    }
    try {
      await waitUntil(() => clients.every((c) => eventsNamed(c, 'seq').length >= EVENTS), {
        timeout: 15000,
        label: 'all clients received every event',
      });
    } catch (err) {
      const short = clients
        .map((c, i) => [i, eventsNamed(c, 'seq').length])
        .filter(([, n]) => n < EVENTS)
        .slice(0, 10);
      throw new Error(`${err.message}; [client index, received] of some short clients: ${JSON.stringify(short)}`);
    }
    await sleep(300); // let any duplicate show up
    const expected = Array.from({ length: EVENTS }, (_, i) => i);
    clients.forEach((c, idx) => {
      const got = eventsNamed(c, 'seq');
      for (const f of got) {
        assert.equal(f.json.channel, channel);
        assert.equal(typeof f.json.data, 'string');
      }
      const seqs = got.map((f) => JSON.parse(f.json.data).seq);
      assert.deepEqual(seqs, expected, `client #${idx} (socket ${c.socketId}) got ${JSON.stringify(seqs)}`);
    });
  }));

  it('excludes the socket_id connection whichever shard it is on, and only it', T, srv.wrap(async () => {
    // Several excluded clients spread over the accept order, so both shards are very likely hit.
    const excludedIdx = [0, 1, 37, 98, 99, 150, 199];
    for (const idx of excludedIdx) {
      await triggerOk(rest, channel, `excl-${idx}`, { idx }, { socket_id: clients[idx].socketId });
    }
    await triggerOk(rest, channel, 'barrier', { done: true });
    await waitUntil(() => clients.every((c) => eventsNamed(c, 'barrier').length >= 1), {
      timeout: 15000,
      label: 'all clients received the barrier event',
    });
    await sleep(200);
    for (const idx of excludedIdx) {
      const name = `excl-${idx}`;
      clients.forEach((c, i) => {
        const n = eventsNamed(c, name).length;
        if (i === idx) assert.equal(n, 0, `excluded client #${i} received ${name}`);
        else assert.equal(n, 1, `client #${i} received ${name} ${n} times (expected once)`);
      });
    }
  }));
});
