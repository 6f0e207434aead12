'use strict';

// Webhooks (Pusher's channel existence, presence, client event, cache miss and subscription
// count events) POSTed by a real ringcast to receivers in this process (lib/webhook_receiver.js),
// every request checked with the `pusher` SDK's webhook().isValid()/getEvents() and by hand
// (hex HMAC-SHA256 of the raw body). Covers every event type, once-only and in order across
// shards, the de-bounce of channel_vacated/member_removed, batching, filters, custom headers,
// retries with growing gaps and the final drop, https with a test CA (openssl), config refusals
// at start and on SIGHUP, and fan-out under webhook load (healthy, hanging, resetting receiver).

const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { describe, it, before, after } = require('node:test');
const { useServer, startServer, binaryPath, freePort, DEFAULT_APP } = require('./lib/server');
const { connectPusher, closeAll } = require('./lib/ws');
const { createClient, waitConnected, subscribe, disconnectAll, createRestClient, triggerOk } = require('./lib/pusher');
const { channelAuthHandler } = require('./lib/auth');
const { openMany, subscribeOk, joinPresence } = require('./lib/proto');
const { openOnShards } = require('./lib/shards');
const { uniqueName, sleep, waitUntil } = require('./lib/util');
const { BENCH_BIN, BENCH_APP, benchMissing } = require('./lib/bench');
const { WebhookReceiver, makeCertificates } = require('./lib/webhook_receiver');

const T = { timeout: 30000 };
const APP = DEFAULT_APP;
const ALL_TYPES = ['channel_occupied', 'channel_vacated', 'member_added', 'member_removed', 'client_event', 'cache_miss', 'subscription_count'];
const DEBOUNCE_MS = 300;
// Small values so that every wait here is short.
const FAST = {
  batch_window_ms: 50,
  batch_max_events: 100,
  debounce_ms: DEBOUNCE_MS,
  retry_for_ms: 2000,
  retry_initial_ms: 100,
  retry_max_ms: 1000,
  connect_timeout_ms: 500,
  request_timeout_ms: 500,
  shutdown_grace_ms: 500,
};

// Starts the receivers, then a server whose config `configure(receivers)` returns (the
// receivers' ports are only known once they listen). useServer reads `options` in its own
// before hook, which runs after this one.
function useHookServer(receiverSpecs, configure) {
  const ctx = { rx: [], srv: null };
  const options = {};
  before(async () => {
    ctx.rx = await Promise.all(receiverSpecs.map((spec) => WebhookReceiver.start(spec.app || APP, spec)));
    Object.assign(options, configure(ctx.rx));
  });
  ctx.srv = useServer(options);
  after(async () => {
    await Promise.all(ctx.rx.map((r) => r.close()));
  });
  return ctx;
}

function target(rx, extra = {}) {
  return { url: rx.url('/hook'), event_types: ALL_TYPES, ...extra };
}

function unsubscribe(client, channel) {
  client.send({ event: 'pusher:unsubscribe', data: { channel } });
}

function names(events) {
  return events.map((e) => e.name);
}

function byName(events, name) {
  return events.filter((e) => e.name === name);
}

// The data of a client_event: like Pusher's, the client's data JSON-encoded as a string.
function clientData(e) {
  assert.equal(typeof e.data, 'string', `client_event data is a JSON string (Pusher's format): ${JSON.stringify(e)}`);
  return JSON.parse(e.data);
}

// Lines of the server's output (from offset `from` of server.log()) matching re.
function logLines(server, re, from = 0) {
  return server.log().slice(from).split('\n').filter((l) => re.test(l));
}

describe('webhook events', () => {
  const ctx = useHookServer([{}], ([rx]) => ({
    apps: [{ ...APP, webhooks: [target(rx)] }],
    server: { webhooks: FAST },
    args: ['--debug'], // lib/shards.js reads the shard of each connection from it
  }));
  const wrap = (fn) => ctx.srv.wrap(async (t, server) => {
    await fn(t, server, ctx.rx[0]);
    ctx.rx[0].assertAllValid();
  });

  it('channel_occupied on the first subscriber, channel_vacated de-bounced after the last leaves', T, wrap(async (t, server, rx) => {
    const [a, b] = await openMany(server, 2);
    try {
      const channel = uniqueName('public');
      await subscribeOk(a, APP, channel);
      await subscribeOk(b, APP, channel);
      await rx.waitEvent({ name: 'channel_occupied', channel });
      const req = rx.requests.find((r) => r.events.some((e) => e.name === 'channel_occupied' && e.channel === channel));
      assert.equal(req.path, '/hook', 'POSTed to the URL\'s path');
      assert.deepEqual(req.events.find((e) => e.channel === channel && e.name === 'channel_occupied'), { name: 'channel_occupied', channel });
      unsubscribe(a, channel);
      await sleep(DEBOUNCE_MS + 300);
      assert.deepEqual(byName(rx.eventsFor(channel), 'channel_vacated'), [], 'vacated while a subscriber is left');
      const left = Date.now();
      unsubscribe(b, channel);
      const vacated = await rx.waitEvent({ name: 'channel_vacated', channel }, { timeout: 5000 });
      const arrived = rx.requests[vacated.request].at - left;
      t.diagnostic(`channel_vacated arrived ${arrived} ms after the last unsubscribe (debounce ${DEBOUNCE_MS} ms)`);
      assert.ok(arrived >= DEBOUNCE_MS - 50, `channel_vacated after ${arrived} ms, before the ${DEBOUNCE_MS} ms debounce`);
      assert.deepEqual(rx.requests[vacated.request].events.find((e) => e.name === 'channel_vacated' && e.channel === channel), { name: 'channel_vacated', channel });
      await sleep(300);
      assert.deepEqual(names(rx.eventsFor(channel)).filter((n) => n.startsWith('channel_')), ['channel_occupied', 'channel_vacated']);
    } finally {
      await closeAll([a, b]);
    }
  }));

  it('member_added / member_removed with user_id, occupied before the first member_added, removed before vacated', T, wrap(async (t, server, rx) => {
    const [a, b] = await openMany(server, 2);
    try {
      const channel = `presence-${uniqueName('members')}`;
      await joinPresence(a, APP, channel, 'u-1', { name: 'one' });
      await joinPresence(b, APP, channel, 'u-2');
      await rx.waitEvents((evs) => byName(evs.filter((e) => e.channel === channel), 'member_added').length === 2, { label: 'two member_added' });
      unsubscribe(b, channel);
      await rx.waitEvent({ name: 'member_removed', channel, user_id: 'u-2' });
      unsubscribe(a, channel);
      await rx.waitEvent({ name: 'channel_vacated', channel });
      await sleep(200);
      const evs = rx.eventsFor(channel);
      assert.deepEqual(evs.map(({ request, ...e }) => e), [
        { name: 'channel_occupied', channel },
        { name: 'member_added', channel, user_id: 'u-1' },
        { name: 'member_added', channel, user_id: 'u-2' },
        { name: 'member_removed', channel, user_id: 'u-2' },
        { name: 'member_removed', channel, user_id: 'u-1' },
        { name: 'channel_vacated', channel },
      ]);
      assert.deepEqual(byName(evs, 'subscription_count'), [], 'no subscription_count on presence channels');
    } finally {
      await closeAll([a, b]);
    }
  }));

  it('client_event from pusher-js on a private channel (no user_id) and from a raw client on presence (user_id)', T, wrap(async (t, server, rx) => {
    const pjs = createClient(server, { channelAuthorization: { customHandler: channelAuthHandler(APP, { user: { id: 'pjs-user' } }) } });
    const [raw, other] = await openMany(server, 2);
    try {
      await waitConnected(pjs);
      const priv = `private-${uniqueName('whisper')}`;
      const pres = `presence-${uniqueName('whisper')}`;
      await subscribe(pjs, priv);
      await subscribeOk(other, APP, priv);
      await joinPresence(raw, APP, pres, 'raw-user');
      await joinPresence(other, APP, pres, 'other-user');
      pjs.channel(priv).trigger('client-typing', { name: 'Ann', n: 1 });
      raw.send({ event: 'client-moved', channel: pres, data: { x: 3 } });
      await other.nextEvent('client-typing', { channel: priv });
      await other.nextEvent('client-moved', { channel: pres });

      const [p] = await rx.waitEvents((evs) => {
        const f = evs.filter((e) => e.name === 'client_event' && e.channel === priv);
        return f.length ? f : null;
      }, { label: 'client_event on the private channel' });
      t.diagnostic(`client_event on a private channel: ${JSON.stringify(p)}`);
      assert.equal(p.event, 'client-typing');
      assert.equal(p.socket_id, pjs.connection.socket_id);
      assert.deepEqual(clientData(p), { name: 'Ann', n: 1 });
      assert.ok(!('user_id' in p), `user_id on a private channel's client_event: ${JSON.stringify(p)}`);

      const [q] = await rx.waitEvents((evs) => {
        const f = evs.filter((e) => e.name === 'client_event' && e.channel === pres);
        return f.length ? f : null;
      }, { label: 'client_event on the presence channel' });
      t.diagnostic(`client_event on a presence channel: ${JSON.stringify(q)}`);
      assert.equal(q.event, 'client-moved');
      assert.equal(q.socket_id, raw.socketId);
      assert.equal(q.user_id, 'raw-user');
      assert.deepEqual(clientData(q), { x: 3 });
      await sleep(200);
      assert.equal(rx.eventsFor(priv).filter((e) => e.name === 'client_event').length, 1, 'one client_event per whisper (private)');
      assert.equal(rx.eventsFor(pres).filter((e) => e.name === 'client_event').length, 1, 'one client_event per whisper (presence)');
    } finally {
      disconnectAll([pjs]);
      await closeAll([raw, other]);
    }
  }));

  it('cache_miss once for an empty cache channel, however many subscribe, on both shards', T, wrap(async (t, server, rx) => {
    const [s0, s1] = await openOnShards(server, 2);
    const conns = [s0[0], s1[0], s0[1]];
    try {
      const channel = `cache-${uniqueName('x')}`;
      for (const c of conns) {
        await subscribeOk(c, APP, channel);
        await c.nextEvent('pusher:cache_miss', { channel });
      }
      await rx.waitEvent({ name: 'cache_miss', channel });
      await sleep(500);
      const misses = byName(rx.eventsFor(channel), 'cache_miss');
      assert.deepEqual(misses.map(({ request, ...e }) => e), [{ name: 'cache_miss', channel }], 'exactly one cache_miss for 3 subscribers');

      // Once an event is cached, a new subscriber gets it and no cache_miss is sent.
      await triggerOk(createRestClient(server), channel, 'cached', { v: 1 });
      await conns[0].nextEvent('cached', { channel });
      await subscribeOk(s1[1], APP, channel);
      await s1[1].nextEvent('cached', { channel });
      await sleep(400);
      assert.equal(byName(rx.eventsFor(channel), 'cache_miss').length, 1, 'no cache_miss for a subscriber that got the cached event');
    } finally {
      await closeAll([...s0, ...s1]);
    }
  }));

  it('a closed connection counts as leaving: member_removed and channel_vacated after the debounce', T, wrap(async (t, server, rx) => {
    const [a, b] = await openMany(server, 2);
    try {
      const channel = `presence-${uniqueName('closed')}`;
      const pub = uniqueName('closed-public');
      await joinPresence(a, APP, channel, 'closer');
      await subscribeOk(a, APP, pub);
      await subscribeOk(b, APP, pub);
      await rx.waitEvent({ name: 'member_added', channel });
      await rx.waitEvent({ name: 'channel_occupied', channel: pub });
      a.ws.terminate(); // no close handshake, like a dropped network
      await rx.waitEvent({ name: 'channel_vacated', channel });
      await sleep(300);
      assert.deepEqual(rx.eventsFor(channel).map(({ request, ...e }) => e), [
        { name: 'channel_occupied', channel },
        { name: 'member_added', channel, user_id: 'closer' },
        { name: 'member_removed', channel, user_id: 'closer' },
        { name: 'channel_vacated', channel },
      ]);
      assert.equal(byName(rx.eventsFor(pub), 'channel_vacated').length, 0, 'the public channel still has a subscriber');
      await b.shutdown();
      await rx.waitEvent({ name: 'channel_vacated', channel: pub });
    } finally {
      await closeAll([a, b]);
    }
  }));

  it('subscription_count on a public channel follows the count, across shards', T, wrap(async (t, server, rx) => {
    const [s0, s1] = await openOnShards(server, 1);
    try {
      const channel = uniqueName('counted');
      await subscribeOk(s0[0], APP, channel);
      await subscribeOk(s1[0], APP, channel);
      const last = (evs) => {
        const f = evs.filter((e) => e.name === 'subscription_count' && e.channel === channel);
        return f.length ? f[f.length - 1] : null;
      };
      await rx.waitEvents((evs) => last(evs) && last(evs).subscription_count === 2, { label: 'subscription_count 2' });
      unsubscribe(s1[0], channel);
      await rx.waitEvents((evs) => last(evs) && last(evs).subscription_count === 1, { label: 'subscription_count 1 after an unsubscribe' });
      const seen = byName(rx.eventsFor(channel), 'subscription_count');
      t.diagnostic(`subscription_count events: ${JSON.stringify(seen.map((e) => e.subscription_count))}`);
      for (const e of seen) {
        assert.deepEqual(Object.keys(e).filter((k) => k !== 'request').sort(), ['channel', 'name', 'subscription_count']);
        assert.equal(typeof e.subscription_count, 'number');
      }
    } finally {
      await closeAll([...s0, ...s1]);
    }
  }));

  it('once per server: the same user on two shards gives one occupied, one member_added, one member_removed, one vacated, in order', T, wrap(async (t, server, rx) => {
    const [s0, s1] = await openOnShards(server, 1);
    const a = s0[0];
    const b = s1[0];
    try {
      assert.notEqual(a.shard, b.shard);
      const channel = `presence-${uniqueName('shards')}`;
      const pub = uniqueName('shards-public');
      await joinPresence(a, APP, channel, 'same-user');
      await joinPresence(b, APP, channel, 'same-user');
      await subscribeOk(a, APP, pub);
      await subscribeOk(b, APP, pub);
      await rx.waitEvent({ name: 'member_added', channel });
      await rx.waitEvent({ name: 'channel_occupied', channel: pub });
      await sleep(400);
      assert.deepEqual(rx.eventsFor(channel).map(({ request, ...e }) => e), [
        { name: 'channel_occupied', channel },
        { name: 'member_added', channel, user_id: 'same-user' },
      ], 'joins on two shards');
      assert.equal(byName(rx.eventsFor(pub), 'channel_occupied').length, 1, 'a public channel on two shards is occupied once');

      unsubscribe(a, channel);
      await sleep(DEBOUNCE_MS + 300);
      assert.equal(byName(rx.eventsFor(channel), 'member_removed').length, 0, 'member_removed while the user is still on the other shard');
      unsubscribe(b, channel);
      unsubscribe(a, pub);
      unsubscribe(b, pub);
      await rx.waitEvent({ name: 'channel_vacated', channel });
      await rx.waitEvent({ name: 'channel_vacated', channel: pub });
      await sleep(400);
      assert.deepEqual(rx.eventsFor(channel).map(({ request, ...e }) => e), [
        { name: 'channel_occupied', channel },
        { name: 'member_added', channel, user_id: 'same-user' },
        { name: 'member_removed', channel, user_id: 'same-user' },
        { name: 'channel_vacated', channel },
      ], 'leaves on two shards');
      assert.deepEqual(names(rx.eventsFor(pub)).filter((n) => n.startsWith('channel_')), ['channel_occupied', 'channel_vacated']);
    } finally {
      await closeAll([a, b]);
    }
  }));

  it('leaving and coming back inside the debounce sends nothing (presence and public, same and other shard)', T, wrap(async (t, server, rx) => {
    const [s0, s1] = await openOnShards(server, 1);
    const a = s0[0];
    const b = s1[0];
    try {
      const channel = `presence-${uniqueName('flap')}`;
      const pub = uniqueName('flap-public');
      await joinPresence(a, APP, channel, 'flapper');
      await subscribeOk(a, APP, pub);
      await rx.waitEvent({ name: 'member_added', channel });
      await rx.waitEvent({ name: 'channel_occupied', channel: pub });
      const before = rx.allEvents().length;
      // Same connection leaves and rejoins.
      unsubscribe(a, channel);
      unsubscribe(a, pub);
      await sleep(50);
      await joinPresence(a, APP, channel, 'flapper');
      await subscribeOk(a, APP, pub);
      await sleep(DEBOUNCE_MS + 500);
      // Leaves on shard 0, rejoins from shard 1.
      unsubscribe(a, channel);
      unsubscribe(a, pub);
      await sleep(50);
      await joinPresence(b, APP, channel, 'flapper');
      await subscribeOk(b, APP, pub);
      await sleep(DEBOUNCE_MS + 500);
      const after = rx.allEvents().slice(before).filter((e) => e.channel === channel || e.channel === pub)
        .filter((e) => e.name !== 'subscription_count');
      assert.deepEqual(after, [], 'nothing is sent for a leave and rejoin inside the debounce');
    } finally {
      await closeAll([a, b]);
    }
  }));
  it('a whisper seen on both shards is one client_event; odd characters in names, ids and data survive the JSON and the signature', T, wrap(async (t, server, rx) => {
    const [s0, s1] = await openOnShards(server, 2);
    const conns = [...s0, ...s1];
    try {
      const channel = `presence-${uniqueName('odd')}-a=b@c,d;e.f`;
      const user = 'us\u00e9r "quoted" \\ \u{1F389}';
      await joinPresence(s0[0], APP, channel, user, { name: '\u00fcn\u00efc\u00f8d\u00e9' });
      await joinPresence(s0[1], APP, channel, 'zero-b');
      await joinPresence(s1[0], APP, channel, 'one-a');
      await joinPresence(s1[1], APP, channel, 'one-b');
      const data = { text: 'line\nbreak "q" \\ </script> \u2028 \u{1F600}', n: [1, 2.5, null, true] };
      s0[0].send({ event: 'client-odd', channel, data });
      for (const c of [s0[1], s1[0], s1[1]]) await c.nextEvent('client-odd', { channel });
      await rx.waitEvent({ name: 'client_event', channel });
      await sleep(300);
      const got = rx.eventsFor(channel).filter((e) => e.name === 'client_event');
      assert.equal(got.length, 1, `one client_event for a whisper relayed on two shards: ${JSON.stringify(got)}`);
      assert.equal(got[0].user_id, user);
      assert.equal(got[0].socket_id, s0[0].socketId);
      assert.deepEqual(clientData(got[0]), data);
      const added = byName(rx.eventsFor(channel), 'member_added').map((e) => e.user_id);
      assert.deepEqual(added.sort(), [user, 'zero-b', 'one-a', 'one-b'].sort(), 'one member_added per user, names intact');
      assert.equal(byName(rx.eventsFor(channel), 'channel_occupied').length, 1);
    } finally {
      await closeAll(conns);
    }
  }));
  it('a batch of 40 whispers of 9 KB (a body of ~500 KB) arrives whole and correctly signed', T, wrap(async (t, server, rx) => {
    const senders = await openMany(server, 8);
    try {
      const channel = `private-${uniqueName('big')}`;
      for (const c of senders) await subscribeOk(c, APP, channel);
      const before = rx.requests.length;
      const blob = (k, n) => `${k}:${n}:` + 'x\u00e9"\\'.repeat(1250); // ~8.8 KB as sent, JSON-escaped (max_message_size 10000)
      for (let n = 0; n < 5; n += 1) {
        senders.forEach((c, k) => c.send({ event: 'client-big', channel, data: { blob: blob(k, n) } }));
      }
      await rx.waitEvents((evs) => evs.filter((e) => e.channel === channel && e.name === 'client_event').length >= 40, { timeout: 10000, label: '40 big client_events' });
      await sleep(300);
      const got = rx.eventsFor(channel).filter((e) => e.name === 'client_event');
      assert.equal(got.length, 40);
      const bodies = rx.requests.slice(before).filter((r) => r.events.some((e) => e.channel === channel));
      t.diagnostic(`40 client_events of 9 KB in ${bodies.length} POST(s), largest body ${Math.max(...bodies.map((r) => Buffer.byteLength(r.rawBody)))} bytes`);
      const seen = new Set(got.map((e) => clientData(e).blob));
      for (let k = 0; k < 8; k += 1) for (let n = 0; n < 5; n += 1) assert.ok(seen.has(blob(k, n)), `whisper ${k}:${n} arrived intact`);
      // Per channel, each sender's whispers in the order sent.
      for (const [k, c] of senders.entries()) {
        const mine = got.filter((e) => e.socket_id === c.socketId).map((e) => clientData(e).blob);
        assert.deepEqual(mine, [0, 1, 2, 3, 4].map((n) => blob(k, n)), `sender ${k}'s whispers in order`);
      }
    } finally {
      await closeAll(senders);
    }
  }));
});

describe('webhook filters, custom headers, camelCase names and batching', () => {
  const ctx = useHookServer([{}, {}, {}], ([starts, ends, all]) => ({
    apps: [{
      ...APP,
      webhooks: [
        // camelCase aliases
        { url: starts.url('/starts'), eventTypes: ['channel_occupied'], filter: { channelNameStartsWith: 'presence-' } },
        { url: ends.url('/ends?x=1'), event_types: ['channel_occupied'], filter: { channel_name_ends_with: '-end' } },
        { url: all.url('/all'), event_types: ['channel_occupied', 'channel_vacated'], headers: { 'X-Custom': '1', 'X-Other': 'two words' } },
      ],
    }],
    server: { webhooks: FAST },
  }));
  const wrap = (fn) => ctx.srv.wrap(async (t, server) => {
    await fn(t, server, ...ctx.rx);
    for (const r of ctx.rx) r.assertAllValid();
  });

  it('starts_with / ends_with filters pass only matching channels; an unfiltered target gets all, with its headers', T, wrap(async (t, server, starts, ends, all) => {
    const [a] = await openMany(server, 1);
    try {
      const id = uniqueName('f');
      const pres = `presence-${id}`;
      const tail = `${id}-end`;
      const plain = `${id}-plain`;
      const presTail = `presence-${id}-end`;
      await joinPresence(a, APP, pres, 'u');
      await subscribeOk(a, APP, tail);
      await subscribeOk(a, APP, plain);
      await joinPresence(a, APP, presTail, 'u');
      await all.waitEvents((evs) => [pres, tail, plain, presTail].every((c) => evs.some((e) => e.channel === c && e.name === 'channel_occupied')), { label: 'every channel at the unfiltered target' });
      await starts.waitEvent({ name: 'channel_occupied', channel: presTail });
      await ends.waitEvent({ name: 'channel_occupied', channel: presTail });
      await sleep(300);
      const mine = (rx) => rx.deliveredEvents().filter((e) => e.channel.includes(id)).map((e) => e.channel).sort();
      assert.deepEqual(mine(starts), [pres, presTail].sort(), 'channel_name_starts_with presence-');
      assert.deepEqual(mine(ends), [tail, presTail].sort(), 'channel_name_ends_with -end');
      assert.deepEqual(mine(all), [pres, tail, plain, presTail].sort(), 'no filter');
      assert.ok(ends.requests.every((r) => r.path === '/ends?x=1'), `the query string is kept: ${ends.requests.map((r) => r.path)}`);
      for (const r of all.requests) {
        assert.equal(r.path, '/all');
        assert.equal(r.headers['x-custom'], '1', 'custom header X-Custom');
        assert.equal(r.headers['x-other'], 'two words', 'custom header X-Other');
      }
      for (const r of starts.requests) assert.equal(r.headers['x-custom'], undefined, 'custom headers belong to their target only');
      assert.deepEqual(byName(starts.deliveredEvents(), 'channel_vacated'), [], 'event_types: only channel_occupied');
    } finally {
      await closeAll([a]);
    }
  }));

  it('events inside the batch window arrive in one POST', T, wrap(async (t, server, starts, ends, all) => {
    const [a] = await openMany(server, 1);
    try {
      const channels = Array.from({ length: 5 }, (_, i) => `${uniqueName('batch')}-${i}`);
      const before = all.requests.length;
      for (const c of channels) a.send({ event: 'pusher:subscribe', data: { channel: c } });
      for (const c of channels) await a.nextEvent('pusher_internal:subscription_succeeded', { channel: c });
      await all.waitEvents((evs) => channels.every((c) => evs.some((e) => e.channel === c)), { label: '5 channel_occupied' });
      await sleep(200);
      const reqs = all.requests.slice(before).filter((r) => r.events.some((e) => channels.includes(e.channel)));
      t.diagnostic(`5 occupied events in ${reqs.length} POST(s): ${reqs.map((r) => r.events.length).join(', ')} events each`);
      assert.equal(reqs.length, 1, `5 subscriptions within the ${FAST.batch_window_ms} ms window arrive in one POST`);
      // Order is only promised per channel: these are 5 channels (owned by either shard).
      assert.deepEqual(reqs[0].events.filter((e) => channels.includes(e.channel)).map((e) => e.channel).sort(), [...channels].sort(), 'each once');
    } finally {
      await closeAll([a]);
    }
  }));

  it('SIGHUP with a bad webhook keeps the running configuration and its webhooks', T, wrap(async (t, server, starts, ends, all) => {
    const good = JSON.parse(fs.readFileSync(server.configPath, 'utf8'));
    const bad = JSON.parse(JSON.stringify(good));
    bad.apps[0].webhooks[2].url = 'ftp://127.0.0.1/hook';
    const mark = server.log().length;
    fs.writeFileSync(server.configPath, JSON.stringify(bad, null, 2));
    process.kill(server.child.pid, 'SIGHUP');
    await waitUntil(() => /configuration has an error/.test(server.log().slice(mark)), { timeout: 5000, label: '"configuration has an error" in the log after SIGHUP' });
    const line = server.log().slice(mark).split('\n').find((l) => /configuration has an error/.test(l));
    t.diagnostic(`reload refused: ${line}`);
    assert.match(line, /webhooks\[2\]\.url/, 'the refusal names the field');
    fs.writeFileSync(server.configPath, JSON.stringify(good, null, 2));
    const [a] = await openMany(server, 1);
    try {
      const channel = uniqueName('after-bad-reload');
      await subscribeOk(a, APP, channel);
      await all.waitEvent({ name: 'channel_occupied', channel });
      assert.equal(all.requests[all.requests.length - 1].headers['x-custom'], '1');
    } finally {
      await closeAll([a]);
    }
  }));

  it('SIGHUP with a changed webhook target applies it to new events', T, wrap(async (t, server, starts, ends, all) => {
    const changed = JSON.parse(fs.readFileSync(server.configPath, 'utf8'));
    changed.apps[0].webhooks[2].url = all.url('/all-reloaded');
    changed.apps[0].webhooks[2].headers = { 'X-Custom': '2' };
    const mark = server.log().length;
    fs.writeFileSync(server.configPath, JSON.stringify(changed, null, 2));
    process.kill(server.child.pid, 'SIGHUP');
    await waitUntil(() => /configuration reloaded/.test(server.log().slice(mark)), { timeout: 5000, label: '"configuration reloaded" in the log after SIGHUP' });
    const [a] = await openMany(server, 1);
    try {
      const channel = uniqueName('after-good-reload');
      await subscribeOk(a, APP, channel);
      const e = await all.waitEvent({ name: 'channel_occupied', channel });
      const req = all.requests[e.request];
      assert.equal(req.path, '/all-reloaded', 'the reloaded URL');
      assert.equal(req.headers['x-custom'], '2', 'the reloaded header');
      assert.equal(req.headers['x-other'], undefined, 'a header removed by the reload');
    } finally {
      await closeAll([a]);
    }
  }));
});

describe('webhook batch_max_events', () => {
  const ctx = useHookServer([{}], ([rx]) => ({
    apps: [{ ...APP, webhooks: [target(rx, { event_types: ['channel_occupied'] })] }],
    server: { webhooks: { ...FAST, batch_max_events: 2, batch_window_ms: 200 } },
  }));

  it('5 events with batch_max_events 2 arrive in at least 3 POSTs of at most 2 events', T, ctx.srv.wrap(async (t, server) => {
    const rx = ctx.rx[0];
    const [a] = await openMany(server, 1);
    try {
      const channels = Array.from({ length: 5 }, (_, i) => `${uniqueName('max')}-${i}`);
      for (const c of channels) a.send({ event: 'pusher:subscribe', data: { channel: c } });
      await rx.waitEvents((evs) => channels.every((c) => evs.some((e) => e.channel === c)), { label: '5 channel_occupied' });
      await sleep(300);
      const reqs = rx.requests.filter((r) => r.events.some((e) => channels.includes(e.channel)));
      t.diagnostic(`POST sizes: ${reqs.map((r) => r.events.length).join(', ')}`);
      assert.ok(reqs.length >= 3, `${reqs.length} POSTs for 5 events`);
      for (const r of reqs) assert.ok(r.events.length <= 2, `a POST of ${r.events.length} events`);
      assert.deepEqual(rx.deliveredEvents().filter((e) => channels.includes(e.channel)).map((e) => e.channel).sort(), [...channels].sort(), 'each once');
      rx.assertAllValid();
    } finally {
      await closeAll([a]);
    }
  }));
});

describe('webhook retries', () => {
  const FAIL = { id: 'fail', key: 'fail-key', secret: 'fail-secret' };
  const HANG = { id: 'hang', key: 'hang-key', secret: 'hang-secret' };
  const NONE = { id: 'none', key: 'none-key', secret: 'none-secret' };
  const RESET = { id: 'reset', key: 'reset-key', secret: 'reset-secret' };
  let deadPort;
  before(async () => {
    deadPort = await freePort(); // nothing listens there
  });
  const ctx = useHookServer([{ app: FAIL }, { app: HANG }, { app: RESET }], ([fail, hang, reset]) => ({
    apps: [
      { ...FAIL, webhooks: [target(fail, { event_types: ['channel_occupied', 'channel_vacated'] })] },
      { ...HANG, webhooks: [target(hang, { event_types: ['channel_occupied'] })] },
      { ...NONE, webhooks: [{ url: `http://127.0.0.1:${deadPort}/hook`, event_types: ['channel_occupied'] }] },
      { ...RESET, webhooks: [target(reset, { event_types: ['channel_occupied'] })] },
    ],
    server: { webhooks: { ...FAST, retry_initial_ms: 100, retry_max_ms: 5000, retry_for_ms: 2000, request_timeout_ms: 300, connect_timeout_ms: 300 } },
    args: ['--debug'],
  }));

  async function occupy(server, app) {
    const c = await connectPusher(server.wsUrl(app.key));
    const channel = uniqueName(app.id);
    await subscribeOk(c, app, channel);
    return { c, channel };
  }

  it('500 three times: the same batch arrives 4 times with growing gaps, then 200 ends it', T, ctx.srv.wrap(async (t, server) => {
    const rx = ctx.rx[0];
    rx.setMode({ fail: 3, status: 500 });
    const { c, channel } = await occupy(server, FAIL);
    try {
      await rx.waitRequests(4, { timeout: 8000 });
      await sleep(1000);
      const reqs = rx.requests;
      assert.equal(reqs.length, 4, `4 attempts (3 answered 500, then 200): ${reqs.map((r) => r.answered)}`);
      assert.deepEqual(reqs.map((r) => r.answered), [500, 500, 500, 200]);
      for (const r of reqs) assert.equal(r.rawBody, reqs[0].rawBody, 'a retry sends the same body');
      assert.deepEqual(reqs[0].events, [{ name: 'channel_occupied', channel }]);
      const gaps = reqs.slice(1).map((r, i) => r.at - reqs[i].at);
      t.diagnostic(`gaps between attempts: ${gaps.join(', ')} ms (retry_initial_ms 100, doubling, jitter)`);
      assert.ok(gaps[0] >= 50, `first retry after ${gaps[0]} ms, retry_initial_ms is 100`);
      assert.ok(gaps[1] >= 1.3 * gaps[0], `gap 2 (${gaps[1]} ms) is not 1.3x gap 1 (${gaps[0]} ms)`);
      assert.ok(gaps[2] >= 1.3 * gaps[1], `gap 3 (${gaps[2]} ms) is not 1.3x gap 2 (${gaps[1]} ms)`);
      const attempts = logLines(server, /webhook/i).filter((l) => l.includes(String(rx.port)) || /\b500\b/.test(l));
      t.diagnostic(`--debug webhook lines: ${attempts.slice(0, 6).join(' | ')}`);
      assert.ok(logLines(server, /webhook/i).filter((l) => /\b500\b/.test(l)).length >= 3, 'the --debug log has a webhook attempt line with status 500 for each of the 3 failures');
      assert.ok(logLines(server, /webhook/i).some((l) => /\b200\b/.test(l)), 'the --debug log has a webhook attempt line with status 200');
      rx.assertAllValid();
    } finally {
      await closeAll([c]);
    }
  }));

  it('events of a channel stay in order while its earlier batch is being retried', T, ctx.srv.wrap(async (t, server) => {
    const rx = ctx.rx[0];
    rx.reset();
    rx.setMode({ fail: 3, status: 500 });
    const { c, channel } = await occupy(server, FAIL);
    try {
      unsubscribe(c, channel); // channel_vacated is due after the debounce, before occupied got through
      await rx.waitEvent({ name: 'channel_vacated', channel }, { timeout: 8000 });
      await sleep(500);
      const delivered = rx.deliveredEvents().filter((e) => e.channel === channel).map((e) => e.name);
      t.diagnostic(`attempts: ${rx.requests.map((r) => `${r.answered}:${r.events.map((e) => e.name).join('+')}`).join(', ')}`);
      assert.deepEqual(delivered, ['channel_occupied', 'channel_vacated'], 'delivered once each, occupied first');
      rx.assertAllValid();
    } finally {
      await closeAll([c]);
    }
  }));

  it('the retry jitter differs between two fresh server processes (they do not retry in lockstep)', T, async (t) => {
    // Two new servers with the same settings, each with its own receiver answering 500 five
    // times: the 5 gaps between attempts (100, 200, 400, 800, 1600 ms plus up to a quarter of
    // jitter here) must not be the same sequence in both. Random jitter gives 5 gaps all within
    // 8 ms of the other process's about once in 10^4 runs (timing noise here is up to ~5 ms; it
    // can only make a lockstep pair look different, never a random pair look alike).
    const rxs = await Promise.all([WebhookReceiver.start(FAIL), WebhookReceiver.start(FAIL)]);
    const servers = [];
    const conns = [];
    try {
      for (const rx of rxs) {
        servers.push(await startServer({
          apps: [{ ...FAIL, webhooks: [target(rx, { event_types: ['channel_occupied'] })] }],
          server: { webhooks: { ...FAST, retry_initial_ms: 100, retry_max_ms: 5000, retry_for_ms: 10000 } },
        }));
      }
      const gapsOf = async (srv, rx) => {
        rx.setMode({ fail: 5, status: 500 });
        const o = await occupy(srv, FAIL);
        conns.push(o.c);
        await rx.waitRequests(6, { timeout: 10000 });
        return rx.requests.slice(1, 6).map((r, i) => r.at - rx.requests[i].at);
      };
      const [g1, g2] = await Promise.all([gapsOf(servers[0], rxs[0]), gapsOf(servers[1], rxs[1])]);
      t.diagnostic(`gaps: first server ${g1.join(', ')} ms; second server ${g2.join(', ')} ms`);
      const same = g1.every((g, i) => Math.abs(g - g2[i]) <= 8);
      assert.ok(!same, `two processes retried with the same gaps (${g1} vs ${g2} ms): the jitter is not random per process`);
      for (const rx of rxs) rx.assertAllValid();
    } finally {
      await closeAll(conns);
      for (const srv of servers) await srv.stop();
      await Promise.all(rxs.map((rx) => rx.close()));
    }
  });

  it('a receiver that never answers: retried after each request timeout, dropped with a warning after retry_for_ms', T, ctx.srv.wrap(async (t, server) => {
    const rx = ctx.rx[1];
    rx.setMode('hang');
    const mark = server.log().length;
    const { c, channel } = await occupy(server, HANG);
    try {
      const start = Date.now();
      await rx.waitRequests(2, { timeout: 5000, label: 'a second attempt at the hanging receiver' });
      await waitUntil(() => logLines(server, /dropped/i, mark).length > 0, {
        timeout: 10000,
        label: `a "dropped" log line for the hanging receiver (port ${rx.port})`,
      });
      const took = Date.now() - start;
      t.diagnostic(`dropped after ${took} ms and ${rx.requests.length} attempts: ${logLines(server, /dropped/i, mark).join(' | ')}`);
      assert.ok(took >= 1500, `dropped after ${took} ms, before retry_for_ms 2000`);
      for (const r of rx.requests) assert.deepEqual(r.events, [{ name: 'channel_occupied', channel }]);
      const n = rx.requests.length;
      await sleep(800);
      assert.equal(rx.requests.length, n, 'no attempt after the drop');
      rx.assertAllValid();
    } finally {
      await closeAll([c]);
    }
  }));

  it('nothing listening on the port: retried, then dropped, and the log says why', T, ctx.srv.wrap(async (t, server) => {
    const mark = server.log().length;
    const { c } = await occupy(server, NONE);
    try {
      await waitUntil(() => logLines(server, /dropped/i, mark).length > 0, { timeout: 10000, label: `a "dropped" line for the target on port ${deadPort}` });
      const lines = logLines(server, /webhook|dropped/i, mark);
      t.diagnostic(`webhook lines for the dead port: ${lines.slice(0, 8).join(' | ')}`);
      assert.ok(lines.some((l) => /refused|ECONNREFUSED|connect/i.test(l)), 'the log says the connection was refused');
      assert.ok(lines.filter((l) => !/dropped/i.test(l)).length >= 2, `retried (--debug attempt lines): ${lines.length} lines about the dead target`);
    } finally {
      await closeAll([c]);
    }
  }));

  it('a receiver that resets every connection: retried, then dropped', T, ctx.srv.wrap(async (t, server) => {
    const rx = ctx.rx[2];
    rx.setMode('reset');
    const mark = server.log().length;
    const { c } = await occupy(server, RESET);
    try {
      await rx.waitRequests(3, { timeout: 5000, label: '3 attempts at the resetting receiver' });
      await waitUntil(() => logLines(server, /dropped/i, mark).length > 0, {
        timeout: 10000,
        label: `a "dropped" log line for the resetting receiver (port ${rx.port})`,
      });
      t.diagnostic(`${rx.requests.length} attempts at the resetting receiver before the drop`);
      assert.ok(server.isAlive());
      rx.assertAllValid();
    } finally {
      await closeAll([c]);
    }
  }));
});

describe('webhook receivers of every kind', () => {
  const mk = (id) => ({ id, key: `${id}-key`, secret: `${id}-secret` });
  const KINDS = [
    { name: 'IPv6 [::1]', app: mk('v6'), spec: { host: '::1' } },
    { name: 'localhost by name', app: mk('localhost'), spec: {}, url: (rx) => `http://localhost:${rx.port}/hook` },
    { name: 'closing idle keep-alive connections after 200 ms', app: mk('stale'), spec: { idleCloseMs: 200 } },
    { name: 'answering chunked', app: mk('chunked'), spec: { chunked: true } },
    { name: 'answering 204 No Content', app: mk('nocontent'), spec: { okStatus: 204 } },
    { name: 'answering Connection: close', app: mk('close'), spec: { close: true } },
  ];
  const ctx = useHookServer(KINDS.map((k) => ({ app: k.app, ...k.spec })), (rxs) => ({
    apps: KINDS.map((k, i) => ({
      ...k.app,
      webhooks: [{ url: k.url ? k.url(rxs[i]) : rxs[i].url('/hook'), event_types: ['channel_occupied'] }],
    })),
    server: { webhooks: FAST },
  }));

  KINDS.forEach((kind, i) => {
    it(`a receiver ${kind.name}: 3 events 500 ms apart, each delivered once, never retried`, T, ctx.srv.wrap(async (t, server) => {
      const rx = ctx.rx[i];
      const mark = server.log().length;
      const c = await connectPusher(server.wsUrl(kind.app.key));
      try {
        for (let n = 0; n < 3; n += 1) {
          if (n) await sleep(500); // past the 200 ms keep-alive of the "stale" receiver
          const channel = uniqueName(kind.app.id);
          await subscribeOk(c, kind.app, channel);
          await rx.waitEvent({ name: 'channel_occupied', channel });
        }
        const failed = logLines(server, /webhook/i, mark);
        if (failed.length) t.diagnostic(`webhook log lines: ${failed.join(' | ')}`);
        t.diagnostic(`${rx.connections} TCP connection(s) for ${rx.requests.length} requests; ${rx.idleCloses} closed by the receiver for idleness`);
        if (kind.spec.idleCloseMs) assert.equal(rx.idleCloses, 2, 'the receiver closed the idle connection before the 2nd and the 3rd event');
        assert.equal(rx.requests.length, 3, `3 requests for 3 events: ${rx.requests.map((r) => r.status)}`);
        assert.deepEqual(logLines(server, /attempt \d+ failed|dropped/i, mark), [], 'no failed attempt');
        rx.assertAllValid();
      } finally {
        await closeAll([c]);
      }
    }));
  });
});

describe('webhooks over https', () => {
  const GOOD = { id: 'tls-good', key: 'tls-good-key', secret: 'tls-good-secret' };
  const BAD = { id: 'tls-bad', key: 'tls-bad-key', secret: 'tls-bad-secret' };
  let dir;
  let certs;
  let other;
  const rx = [];
  const options = {};
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringcast-webhook-tls-'));
    fs.mkdirSync(path.join(dir, 'a'));
    fs.mkdirSync(path.join(dir, 'b'));
    certs = await makeCertificates(path.join(dir, 'a'));
    other = await makeCertificates(path.join(dir, 'b')); // another CA: the server does not trust it
    rx.push(await WebhookReceiver.start(GOOD, { tls: { key: certs.key, cert: certs.cert } }));
    rx.push(await WebhookReceiver.start(BAD, { tls: { key: other.key, cert: other.cert } }));
    Object.assign(options, {
      apps: [
        { ...GOOD, webhooks: [target(rx[0], { event_types: ['channel_occupied'] })] },
        { ...BAD, webhooks: [target(rx[1], { event_types: ['channel_occupied'] })] },
      ],
      server: { webhooks: { ...FAST, ca_file: certs.caFile } },
      args: ['--debug'],
    });
  });
  const srv = useServer(options);
  after(async () => {
    await Promise.all(rx.map((r) => r.close()));
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a receiver whose certificate chains to ca_file gets valid webhooks', T, srv.wrap(async (t, server) => {
    const c = await connectPusher(server.wsUrl(GOOD.key));
    try {
      const channel = uniqueName('tls');
      await subscribeOk(c, GOOD, channel);
      await rx[0].waitEvent({ name: 'channel_occupied', channel });
      assert.ok(rx[0].url().startsWith('https://'));
      rx[0].assertAllValid();
    } finally {
      await closeAll([c]);
    }
  }));

  it('a certificate from another CA: nothing delivered, the log names the verify failure, and it is retried', T, srv.wrap(async (t, server) => {
    const mark = server.log().length;
    const c = await connectPusher(server.wsUrl(BAD.key));
    try {
      const channel = uniqueName('tls-bad');
      await subscribeOk(c, BAD, channel);
      await waitUntil(() => rx[1].connections >= 2, { timeout: 5000, label: `2 connections (a retry) at the untrusted receiver (have ${rx[1].connections})` });
      t.diagnostic(`${rx[1].connections} connections at the untrusted receiver; its TLS errors: ${[...new Set(rx[1].tlsErrors)].join(' | ')}`);
      await waitUntil(() => logLines(server, /certificate|verif/i, mark).length > 0, { timeout: 5000, label: 'a certificate/verify failure in the log' });
      t.diagnostic(`log: ${logLines(server, /certificate|verif/i, mark).slice(0, 3).join(' | ')}`);
      assert.equal(rx[1].requests.length, 0, 'no request reached the untrusted receiver');
    } finally {
      await closeAll([c]);
    }
  }));
});

describe('bad webhook configuration is refused at start', () => {
  let dir;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringcast-webhook-config-'));
  });
  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const good = { url: 'http://127.0.0.1:9/hook', event_types: ['channel_occupied'] };
  const OTHER = { id: 'other', key: 'other-key', secret: 'other-secret' };
  const cases = [
    { why: 'a malformed URL', apps: [{ ...APP, webhooks: [{ ...good, url: 'not a url' }] }], field: 'apps[0].webhooks[0].url' },
    { why: 'an ftp:// URL', apps: [{ ...APP, webhooks: [{ ...good, url: 'ftp://127.0.0.1/hook' }] }], field: 'apps[0].webhooks[0].url' },
    { why: 'an unknown event type', apps: [{ ...APP, webhooks: [{ ...good, event_types: ['channel_exploded'] }] }], field: 'apps[0].webhooks[0].event_types', word: 'channel_exploded' },
    { why: 'a header named X-Pusher-Signature', apps: [{ ...APP, webhooks: [{ ...good, headers: { 'X-Pusher-Signature': 'forged' } }] }], field: 'apps[0].webhooks[0].headers', word: 'X-Pusher-Signature' },
    { why: 'a header named x-pusher-key (any case)', apps: [{ ...APP, webhooks: [{ ...good, headers: { 'x-pusher-key': 'other' } }] }], field: 'apps[0].webhooks[0].headers', word: 'x-pusher-key' },
    { why: 'a header named Content-Type', apps: [{ ...APP, webhooks: [{ ...good, headers: { 'Content-Type': 'text/plain' } }] }], field: 'apps[0].webhooks[0].headers', word: 'Content-Type' },
    { why: 'a bad URL in the second target of the second app', apps: [APP, { ...OTHER, webhooks: [good, { ...good, url: 'http://' }] }], field: 'apps[1].webhooks[1].url' },
  ];
  for (const [i, c] of cases.entries()) {
    it(`exits 1 on ${c.why}, naming ${c.field}`, T, async (t) => {
      const file = path.join(dir, `config-${i}.json`);
      fs.writeFileSync(file, JSON.stringify({ apps: c.apps }, null, 2));
      const port = await freePort();
      const run = spawnSync(binaryPath(), ['start', '--host', '127.0.0.1', '--port', String(port), '--threads', '1', '--config', file], {
        env: { PATH: process.env.PATH }, timeout: 10000, encoding: 'utf8',
      });
      const out = `${run.stdout}${run.stderr}`;
      t.diagnostic(`exit ${run.status}: ${out.trim().split('\n').slice(-2).join(' | ')}`);
      assert.equal(run.status, 1, `exit status for ${c.why}; output:\n${out}`);
      assert.ok(out.includes(c.field), `the message names ${c.field}:\n${out}`);
      if (c.word) assert.ok(out.includes(c.word), `the message names ${c.word}:\n${out}`);
    });
  }

  it('accepts a good config (the same shape with a valid target) and serves', T, async () => {
    const server = await startServer({ apps: [{ ...APP, webhooks: [{ ...good, headers: { 'X-Custom': '1' }, filter: { channel_name_starts_with: 'presence-', channel_name_ends_with: '' } }] }], server: { webhooks: FAST } });
    try {
      assert.ok(server.isAlive());
    } finally {
      await server.stop();
    }
  });
});

describe('webhooks at shutdown and over max_pending_events', () => {
  it('SIGTERM sends a batch still in its window within shutdown_grace_ms, and exits 0', T, async () => {
    const rx = await WebhookReceiver.start(APP);
    let server;
    let c;
    try {
      server = await startServer({
        apps: [{ ...APP, webhooks: [target(rx, { event_types: ['channel_occupied'] })] }],
        server: { webhooks: { ...FAST, batch_window_ms: 400, shutdown_grace_ms: 2000 } },
      });
      c = await connectPusher(server.wsUrl());
      const channel = uniqueName('at-stop');
      await subscribeOk(c, APP, channel);
      const exit = await server.stop(); // inside the 400 ms window
      assert.equal(server.killedHard, undefined, 'the server needed SIGKILL');
      assert.deepEqual(exit, { code: 0, signal: null });
      assert.deepEqual(rx.deliveredEvents().filter((e) => e.channel === channel).map((e) => e.name), ['channel_occupied'], 'the pending batch was sent before exit');
      rx.assertAllValid();
    } finally {
      if (c) await c.shutdown();
      if (server) await server.stop();
      await rx.close();
    }
  });

  it('SIGTERM with a receiver that never answers exits after shutdown_grace_ms, not after the request timeout', T, async (t) => {
    const rx = await WebhookReceiver.start(APP);
    rx.setMode('hang');
    let server;
    let c;
    try {
      server = await startServer({
        apps: [{ ...APP, webhooks: [target(rx, { event_types: ['channel_occupied'] })] }],
        server: { webhooks: { ...FAST, request_timeout_ms: 20000, retry_for_ms: 300000, shutdown_grace_ms: 500 } },
      });
      c = await connectPusher(server.wsUrl());
      await subscribeOk(c, APP, uniqueName('hang-at-stop'));
      await rx.waitRequests(1);
      const start = Date.now();
      const exit = await server.stop();
      const took = Date.now() - start;
      t.diagnostic(`exited ${took} ms after SIGTERM (shutdown_grace_ms 500, request_timeout_ms 20000)`);
      assert.equal(server.killedHard, undefined, 'the server needed SIGKILL 5 s after SIGTERM');
      assert.deepEqual(exit, { code: 0, signal: null });
      assert.ok(took < 3000, `exit took ${took} ms`);
    } finally {
      if (c) await c.shutdown();
      if (server) await server.stop();
      await rx.close();
    }
  });

  it('beyond max_pending_events new events are dropped and logged; delivery resumes when the receiver is back', T, async (t) => {
    const rx = await WebhookReceiver.start(APP);
    rx.setMode('hang');
    let server;
    let c;
    try {
      server = await startServer({
        apps: [{ ...APP, webhooks: [target(rx, { event_types: ['channel_occupied'] })] }],
        server: { webhooks: { ...FAST, max_pending_events: 5, request_timeout_ms: 1000, retry_initial_ms: 100, retry_max_ms: 300, retry_for_ms: 60000 } },
      });
      c = await connectPusher(server.wsUrl());
      await subscribeOk(c, APP, uniqueName('first'));
      await rx.waitRequests(1);
      const channels = Array.from({ length: 30 }, (_, i) => `${uniqueName('backlog')}-${i}`);
      for (const ch of channels) c.send({ event: 'pusher:subscribe', data: { channel: ch } });
      for (const ch of channels) await c.nextEvent('pusher_internal:subscription_succeeded', { channel: ch });
      // The count is logged once per interval (10 s).
      await waitUntil(() => logLines(server, /dropped|max_pending/i).length > 0, { timeout: 12000, interval: 100, label: 'a log line about events dropped over max_pending_events' });
      t.diagnostic(`log: ${logLines(server, /dropped|max_pending/i).slice(0, 2).join(' | ')}`);
      rx.setMode('ok');
      // The kept events drain (the first batch's retry, then the backlog it had room for).
      await rx.waitEvents((evs) => evs.some((e) => channels.includes(e.channel)), { timeout: 8000, label: 'the kept backlog delivered' });
      await waitUntil(() => rx.requests.length > 0 && rx.requests[rx.requests.length - 1].answered === 200, { label: 'the last attempt answered' });
      const late = uniqueName('after-backlog');
      await subscribeOk(c, APP, late);
      await rx.waitEvent({ name: 'channel_occupied', channel: late }, { timeout: 8000 });
      const got = new Set(rx.deliveredEvents().map((e) => e.channel).filter((ch) => channels.includes(ch)));
      t.diagnostic(`${got.size} of 30 backlog events delivered (max_pending_events 5)`);
      assert.ok(got.size < 30, `all 30 events were kept over max_pending_events 5`);
      assert.ok(server.isAlive());
      rx.assertAllValid();
    } finally {
      if (c) await c.shutdown();
      if (server) await server.stop();
      await rx.close();
    }
  });
});

// scripts/test sets RINGCAST_E2E_SANITIZED=1 for its ASan + UBSan run (several times slower per
// connection); ASAN_OPTIONS or TSAN_OPTIONS (the ThreadSanitizer stage) mean the same. The
// fan-out is then smaller.
const SANITIZED = process.env.RINGCAST_E2E_SANITIZED === '1' || Boolean(process.env.ASAN_OPTIONS) || Boolean(process.env.TSAN_OPTIONS);
const FANOUT = SANITIZED ? { connections: 300, rate: 50 } : { connections: 1000, rate: 200 };

describe('fan-out under webhook load', { skip: benchMissing() }, () => {
  const ctx = useHookServer([{ app: BENCH_APP }], ([rx]) => ({
    threads: 2,
    apps: [{ ...BENCH_APP, webhooks: [target(rx)] }],
    server: { webhooks: { ...FAST, request_timeout_ms: 300, connect_timeout_ms: 300, retry_for_ms: 1500 } },
  }));

  function runBench(args) {
    const { execFile } = require('node:child_process');
    return new Promise((resolve) => {
      execFile(BENCH_BIN, args, { timeout: 40000 }, (error, stdout, stderr) => {
        resolve({ code: error ? (error.code ?? error.signal) : 0, stderr });
      });
    });
  }

  // Subscribe/unsubscribe on fresh channels (and a presence channel) while the bench runs, so
  // that webhooks keep being generated. Resolves with how many cycles ran.
  function churn(server, stop) {
    return (async () => {
      const conns = await openMany(server, 4, BENCH_APP.key);
      let cycles = 0;
      try {
        await Promise.all(conns.map(async (c, k) => {
          while (!stop.done) {
            const ch = uniqueName(`churn${k}`);
            const pres = `presence-churn-${k}-${cycles % 3}`;
            await subscribeOk(c, BENCH_APP, ch);
            await joinPresence(c, BENCH_APP, pres, `churner-${k}`);
            unsubscribe(c, ch);
            unsubscribe(c, pres);
            cycles += 1;
            await sleep(20);
          }
        }));
      } finally {
        await closeAll(conns);
      }
      return cycles;
    })();
  }

  let dir;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringcast-webhook-bench-'));
  });
  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const mode of ['ok', 'hang', 'reset']) {
    it(`${FANOUT.connections} subscribers lose nothing while the receiver is ${mode === 'ok' ? 'healthy' : mode === 'hang' ? 'never answering' : 'resetting'}`, { timeout: 45000 }, ctx.srv.wrap(async (t, server) => {
      const rx = ctx.rx[0];
      rx.setMode(mode);
      const before = rx.requests.length;
      const stop = { done: false };
      const churning = churn(server, stop);
      const file = path.join(dir, `fanout-${mode}.json`);
      let run;
      let cycles;
      try {
        run = await runBench([
          'fanout', '--port', String(server.port), '--threads', '1', '--connections', String(FANOUT.connections), '--rate', String(FANOUT.rate),
          '--duration', '3', '--drain', '3', '--quiet', '--server-pid', String(server.child.pid), '--json', file,
        ]);
      } finally {
        stop.done = true;
        cycles = await churning;
      }
      assert.ok(fs.existsSync(file), `no record from the bench (exit ${run.code}):\n${run.stderr}`);
      const record = JSON.parse(fs.readFileSync(file, 'utf8'));
      assert.equal(record.error, '', `${record.error}\n${run.stderr}`);
      assert.equal(record.complete, true, `the bench did not complete:\n${run.stderr}`);
      const f = record.figures;
      t.diagnostic(`receiver ${mode}: ${Math.round(f.deliveries_per_second)} deliveries/s, p99 ${f.latency_us.p99} us, lost ${f.lost}, duplicated ${f.duplicated}; ${cycles} churn cycles, ${rx.requests.length - before} webhook requests during the run`);
      assert.equal(f.lost, 0, 'events lost');
      assert.equal(f.duplicated, 0, 'events duplicated');
      assert.ok(f.deliveries_per_second > 0);
      assert.ok(cycles > 10, `the churn ran (${cycles} cycles)`);
      assert.ok(rx.requests.length - before > 0, 'webhooks were attempted during the run');
      if (mode === 'ok') rx.assertAllValid();
    }));
  }
});
