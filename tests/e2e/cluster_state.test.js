'use strict';

// Shared state across nodes (issue 12): three ringcast nodes over one real redis-server. Presence
// members with per-user connection counts across nodes (one member_added for a user's first
// connection anywhere, one member_removed after the last), member limits, subscription counts,
// channel info, /users, /connections and max_connections asked of any node, cache channels set on
// one node and read on another, watchlists, webhooks once for the cluster, the debug console on one
// node showing the others' connections and events, a SIGKILLed node's members
// expiring within the documented time, and the shared state rebuilt after Redis restarts empty.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startServer, DEFAULT_APP } = require('./lib/server');
const { connectPusher, closeAll } = require('./lib/ws');
const { subscribeOk, subscribeRaw, joinPresence, signinOk, framesWhere, waitAllHave, settle } = require('./lib/proto');
const { presenceAuth, presenceChannelData } = require('./lib/auth');
const { postEvents, request, signedQuery } = require('./lib/http');
const { expectRefusedWs } = require('./lib/api');
const { WebhookReceiver } = require('./lib/webhook_receiver');
const { waitUntil, uniqueName } = require('./lib/util');
const { HOST, RedisServer, freePort, up } = require('./lib/cluster');
const WebSocket = require('ws');

const T = { timeout: 30000 };
// The bridge's lease (bridge.h): a dead node's share is gone within lease + one heartbeat.
const LEASE_MS = 5000;
const HEARTBEAT_MS = 250;
const DEBOUNCE_MS = 200;

const APP = { ...DEFAULT_APP, accept_client_events_from: 'all', subscription_count: true };
const SMALL = { id: 'small', key: 'small-key', secret: 'small-secret', max_presence_members: 2, max_connections: 3 };
const HOOKED = { id: 'hooked', key: 'hooked-key', secret: 'hooked-secret' };
const CONSOLE_TOKEN = 'cluster-console-token-e2e';

function addedOf(client, channel) {
  return framesWhere(client, (j) => j.event === 'pusher_internal:member_added' && j.channel === channel).map((j) => JSON.parse(j.data).user_id);
}

function removedOf(client, channel) {
  return framesWhere(client, (j) => j.event === 'pusher_internal:member_removed' && j.channel === channel).map((j) => JSON.parse(j.data).user_id);
}

// Every watchlist change a client was told of, in order: "online:id" / "offline:id".
function watchlistChanges(client) {
  const out = [];
  for (const f of framesWhere(client, (j) => j.event === 'pusher_internal:watchlist_events')) {
    for (const e of f.data.events) for (const id of e.user_ids) out.push(`${e.name}:${id}`);
  }
  return out;
}

function unsubscribe(client, channel) {
  client.send({ event: 'pusher:unsubscribe', data: { channel } });
}

async function apiWith(node, path, params, app = APP) {
  const full = `/apps/${app.id}${path}`;
  const query = signedQuery({ method: 'GET', signPath: full, key: app.key, secret: app.secret, extraParams: params });
  const r = await request(node.port, { method: 'GET', path: `${full}?${query}` });
  return { status: r.status, json: JSON.parse(r.body.toString()) };
}

// Polls every node until each answers `path` with what `ok` accepts.
async function everyNodeSays(nodes, path, params, ok, label) {
  for (const n of nodes) {
    let last;
    await waitUntil(async () => {
      last = await apiWith(n, path, params);
      return last.status === 200 && ok(last.json);
    }, { timeout: 5000, label: `${label} on port ${n.port} (last: ${JSON.stringify(last && last.json)})` });
  }
}

describe('three nodes sharing state over Redis', () => {
  const redis = new RedisServer(0);
  const nodes = [];
  let rx;

  before(async () => {
    redis.port = await freePort();
    await redis.start();
    rx = await WebhookReceiver.start(HOOKED);
    const hooked = {
      ...HOOKED,
      webhooks: [{ url: rx.url('/hook'), event_types: ['channel_occupied', 'channel_vacated', 'member_added', 'member_removed'] }],
    };
    const server = {
      redis: { url: `redis://${HOST}:${redis.port}`, prefix: `rc-state-${process.pid}` },
      webhooks: { debounce_ms: DEBOUNCE_MS, batch_window_ms: 20, retry_for_ms: 2000, retry_initial_ms: 100 },
      console: { path: '/console', token: CONSOLE_TOKEN },
    };
    for (let i = 0; i < 3; i += 1) {
      nodes.push(await startServer({ apps: [APP, SMALL, hooked], server, threads: 2 }));
    }
    for (const n of nodes) {
      await waitUntil(async () => (await up(n)).redis === 'up', { timeout: 10000, label: 'every node connected to Redis' });
    }
  });

  after(async () => {
    for (const n of nodes) await n.stop();
    await redis.stop();
    if (rx) await rx.close();
  });

  it('presence: one member_added for a user\'s first connection anywhere, one member_removed after the last, lists from every node', T, async () => {
    const ch = uniqueName('presence-room');
    const a = await connectPusher(nodes[0].wsUrl());
    const b = await connectPusher(nodes[1].wsUrl());
    const c = await connectPusher(nodes[2].wsUrl());
    const a2 = await connectPusher(nodes[1].wsUrl());
    try {
      const first = await joinPresence(a, APP, ch, 'ann', { name: 'Ann' });
      assert.deepEqual(first.ids, ['ann']);
      const second = await joinPresence(b, APP, ch, 'bob', { name: 'Bob' });
      assert.deepEqual([...second.ids].sort(), ['ann', 'bob'], 'a joiner on another node sees the members of every node');
      assert.deepEqual(second.hash.ann, { name: 'Ann' });
      await waitAllHave([a], (j) => j.event === 'pusher_internal:member_added', 1, { label: 'member_added for bob on node 0' });
      // Ann's second connection, on another node: a member already, so nobody hears of it.
      const again = await joinPresence(a2, APP, ch, 'ann', { name: 'Ann' });
      assert.equal(again.count, 2);
      const third = await joinPresence(c, APP, ch, 'cid', {});
      assert.deepEqual([...third.ids].sort(), ['ann', 'bob', 'cid']);
      await waitAllHave([a, b, a2], (j) => j.event === 'pusher_internal:member_added' && JSON.parse(j.data).user_id === 'cid', 1, { label: 'member_added for cid everywhere' });
      await settle(300);
      assert.deepEqual(addedOf(a, ch), ['bob', 'cid']);
      assert.deepEqual(addedOf(b, ch), ['cid'], 'no member_added for ann\'s second connection');
      assert.deepEqual(addedOf(c, ch), [], 'the joiner hears nothing of itself');
      await everyNodeSays(nodes, `/channels/${ch}/users`, {}, (j) => j.users.map((u) => u.id).sort().join() === 'ann,bob,cid', '/users');
      await everyNodeSays(nodes, `/channels/${ch}`, { info: 'user_count' }, (j) => j.occupied && j.user_count === 3, 'user_count');
      // Ann leaves on node 0 but is still connected on node 1: still a member.
      unsubscribe(a, ch);
      await settle(400);
      assert.deepEqual(removedOf(b, ch), [], 'no member_removed while ann is connected on another node');
      unsubscribe(a2, ch);
      await waitAllHave([b, c], (j) => j.event === 'pusher_internal:member_removed', 1, { label: 'member_removed for ann after her last connection' });
      await settle(300);
      assert.deepEqual(removedOf(b, ch), ['ann']);
      assert.deepEqual(removedOf(c, ch), ['ann']);
    } finally {
      await closeAll([a, b, c, a2]);
    }
  });

  it('watchlists: online at a user\'s first sign-in anywhere, offline after its last connection anywhere', T, async () => {
    const early = uniqueName('early');
    const later = uniqueName('later');
    const pre = await connectPusher(nodes[1].wsUrl());
    const w = await connectPusher(nodes[0].wsUrl());
    const l1 = await connectPusher(nodes[1].wsUrl());
    const l2 = await connectPusher(nodes[2].wsUrl());
    try {
      await signinOk(pre, APP, { id: early });
      await signinOk(w, APP, { id: uniqueName('watcher'), watchlist: [early, later] });
      // A sign-in reaches Redis a moment after its signin_success: the watcher may first be told
      // "offline", then "online" once it does; what matters is where it settles.
      const last = (id) => watchlistChanges(w).filter((c) => c.endsWith(`:${id}`)).pop();
      await waitUntil(() => last(early) === `online:${early}` && last(later) === `offline:${later}`, { timeout: 5000, label: 'the initial status' });
      const mark = watchlistChanges(w).length;
      await signinOk(l1, APP, { id: later });
      await signinOk(l2, APP, { id: later });
      await waitUntil(() => watchlistChanges(w).length > mark, { timeout: 5000, label: 'online' });
      await closeAll([l1]);
      await settle(500);
      assert.deepEqual(watchlistChanges(w).slice(mark), [`online:${later}`], 'one online for two nodes; none while a connection remains');
      await closeAll([l2, pre]);
      await waitUntil(() => watchlistChanges(w).length >= mark + 3, { timeout: 5000, label: 'both offline' });
      await settle(300);
      assert.deepEqual(watchlistChanges(w).slice(mark + 1).sort(), [`offline:${early}`, `offline:${later}`]);
    } finally {
      await closeAll([pre, w, l1, l2]);
    }
  });

  it('the member limit holds for the cluster, not per node', T, async () => {
    const ch = uniqueName('presence-small');
    const clients = [await connectPusher(nodes[0].wsUrl(SMALL.key)), await connectPusher(nodes[1].wsUrl(SMALL.key)), await connectPusher(nodes[2].wsUrl(SMALL.key))];
    try {
      await joinPresence(clients[0], SMALL, ch, 'u1', {});
      await joinPresence(clients[1], SMALL, ch, 'u2', {});
      const data = presenceChannelData('u3', {});
      const refused = await subscribeRaw(clients[2], ch, presenceAuth(SMALL, clients[2].socketId, ch, data));
      assert.equal(refused.event, 'pusher:subscription_error', JSON.stringify(refused));
      assert.equal(refused.data.type, 'LimitReached');
    } finally {
      await closeAll(clients);
    }
  });

  it('max_connections counts every node\'s connections', T, async () => {
    // The previous test's connections are gone everywhere first (their closes reach Redis a
    // moment after the clients see them).
    for (const n of nodes) {
      await waitUntil(async () => (await apiWith(n, '/connections', {}, SMALL)).json.connections === 0, { timeout: 5000, label: 'no connections left' });
    }
    const open = [await connectPusher(nodes[0].wsUrl(SMALL.key)), await connectPusher(nodes[0].wsUrl(SMALL.key)), await connectPusher(nodes[1].wsUrl(SMALL.key))];
    try {
      // Each node learns the others' counts with its heartbeat.
      await waitUntil(async () => {
        const r = await apiWith(nodes[2], '/connections', {}, SMALL);
        return r.json.connections === 3;
      }, { timeout: 5000, label: '/connections on node 2 counts all three' });
      await new Promise((r) => setTimeout(r, 3 * HEARTBEAT_MS));
      await expectRefusedWs(nodes[2].wsUrl(SMALL.key), 4004);
    } finally {
      await closeAll(open);
    }
  });

  it('subscription counts, channel lists and info are the cluster\'s on every node', T, async () => {
    const ch = uniqueName('counted');
    const clients = [await connectPusher(nodes[0].wsUrl()), await connectPusher(nodes[0].wsUrl()), await connectPusher(nodes[1].wsUrl())];
    try {
      for (const c of clients) await subscribeOk(c, APP, ch);
      await everyNodeSays(nodes, `/channels/${ch}`, { info: 'subscription_count' }, (j) => j.occupied && j.subscription_count === 3, 'subscription_count 3');
      await everyNodeSays(nodes, '/channels', { filter_by_prefix: ch, info: 'subscription_count' }, (j) => j.channels[ch] && j.channels[ch].subscription_count === 3, 'the channel list');
      // subscription_count (an app setting) reaches subscribers with the cluster's total.
      await waitAllHave([clients[0]], (j) => j.event === 'pusher_internal:subscription_count' && JSON.parse(j.data).subscription_count === 3, 1, { label: 'subscription_count 3' });
      await closeAll(clients);
      await everyNodeSays(nodes, `/channels/${ch}`, {}, (j) => j.occupied === false, 'vacated everywhere');
      await everyNodeSays(nodes, '/channels', { filter_by_prefix: ch }, (j) => !j.channels[ch], 'gone from the list');
    } finally {
      await closeAll(clients);
    }
  });

  it('a cache channel set through one node is read on another', T, async () => {
    const ch = uniqueName('cache-news');
    const r = await postEvents(nodes[0].port, { body: { name: 'headline', channel: ch, data: 'hello' } });
    assert.equal(r.status, 200, r.body.toString());
    const late = await connectPusher(nodes[1].wsUrl());
    try {
      await subscribeOk(late, APP, ch);
      const got = await late.next((m) => m.json && m.json.channel === ch && !m.json.event.startsWith('pusher_internal'), { timeout: 5000, label: 'the cached event' });
      assert.equal(got.json.event, 'headline');
      assert.equal(got.json.data, 'hello');
      const info = await apiWith(nodes[2], `/channels/${ch}`, { info: 'cache' });
      assert.equal(info.json.cache.data, 'hello');
      assert.ok(info.json.cache.ttl > 0);
      const empty = uniqueName('cache-empty');
      await subscribeOk(late, APP, empty);
      await late.next((m) => m.json && m.json.event === 'pusher:cache_miss' && m.json.channel === empty, { timeout: 5000, label: 'cache_miss' });
    } finally {
      await closeAll([late]);
    }
  });

  it('the debug console on one node shows the other nodes\' connections, channels and events', T, async () => {
    const ch = uniqueName('console-room');
    const updates = [];
    const page = new WebSocket(`ws://${HOST}:${nodes[0].port}/console/stream?token=${CONSOLE_TOKEN}&app=${APP.id}`);
    page.on('message', (m) => updates.push(JSON.parse(m)));
    await new Promise((resolve, reject) => { page.once('open', resolve); page.once('error', reject); });
    let b;
    try {
      // The other nodes start recording once they hear of the page (within a second).
      await waitUntil(() => updates.filter((u) => u.type === 'update').length >= 2, { timeout: 10000, label: 'the page gets updates' });
      await settle(1500);
      b = await connectPusher(nodes[1].wsUrl());
      await subscribeOk(b, APP, ch);
      const r = await postEvents(nodes[2].port, { body: { name: 'from-node-2', channel: ch, data: 'hi' } });
      assert.equal(r.status, 200);
      const seen = (test) => updates.some((u) => u.type === 'update' && test(u));
      const events = () => updates.flatMap((u) => u.events || []);
      await waitUntil(() => seen((u) => u.connections.some((c) => c.socket_id === b.socketId && c.channels.includes(ch))),
        { timeout: 10000, label: `node 1's connection ${b.socketId} listed on node 0's console` });
      await waitUntil(() => seen((u) => u.channels.some((c) => c.name === ch && c.type === 'public' && c.subscriptions === 1)),
        { timeout: 10000, label: 'node 1\'s channel listed' });
      await waitUntil(() => events().some((e) => e.kind === 'subscribed' && e.socket_id === b.socketId && e.channel === ch),
        { timeout: 10000, label: 'node 1\'s subscription in the stream' });
      await waitUntil(() => events().some((e) => e.kind === 'api_event' && e.channel === ch && e.event === 'from-node-2' && e.data === 'hi'),
        { timeout: 10000, label: 'node 2\'s API publish in the stream' });
      assert.equal(events().filter((e) => e.kind === 'api_event' && e.channel === ch).length, 1, 'shown once');
    } finally {
      page.close();
      if (b) await closeAll([b]);
    }
  });

  it('webhooks go out once for the cluster, de-bounced across nodes', T, async () => {
    rx.reset();
    const ch = uniqueName('presence-hooked');
    const a = await connectPusher(nodes[0].wsUrl(HOOKED.key));
    const b = await connectPusher(nodes[1].wsUrl(HOOKED.key));
    try {
      await joinPresence(a, HOOKED, ch, 'same', {});
      await joinPresence(b, HOOKED, ch, 'same', {});
      await rx.waitEvent({ name: 'member_added', channel: ch });
      await closeAll([a, b]);
      await rx.waitEvent({ name: 'channel_vacated', channel: ch }, { timeout: 5000 });
      await settle(DEBOUNCE_MS + 3 * HEARTBEAT_MS);
      const names = rx.eventsFor(ch).map((e) => e.name);
      assert.deepEqual(names, ['channel_occupied', 'member_added', 'member_removed', 'channel_vacated'], 'each once, in order');
      rx.assertAllValid();
      // Leaving on one node and joining on another inside the de-bounce delay sends nothing.
      rx.reset();
      const c = await connectPusher(nodes[2].wsUrl(HOOKED.key));
      await joinPresence(c, HOOKED, ch, 'flip', {});
      await rx.waitEvent({ name: 'member_added', channel: ch });
      const d = await connectPusher(nodes[0].wsUrl(HOOKED.key));
      await closeAll([c]);
      await joinPresence(d, HOOKED, ch, 'flip', {});
      await settle(DEBOUNCE_MS + 4 * HEARTBEAT_MS);
      assert.deepEqual(rx.eventsFor(ch).map((e) => e.name), ['channel_occupied', 'member_added']);
      await closeAll([d]);
    } finally {
      await closeAll([a, b]);
    }
  });
});

describe('a node that dies, and a Redis that restarts empty', () => {
  const redis = new RedisServer(0);
  const nodes = [];
  let rx;
  let config;

  before(async () => {
    redis.port = await freePort();
    await redis.start();
    rx = await WebhookReceiver.start(APP);
    const watched = { ...APP, webhooks: [{ url: rx.url('/hook'), event_types: ['member_removed', 'channel_vacated'] }] };
    const server = {
      redis: { url: `redis://${HOST}:${redis.port}`, prefix: `rc-death-${process.pid}` },
      webhooks: { debounce_ms: DEBOUNCE_MS, batch_window_ms: 20 },
    };
    config = { apps: [watched], server, threads: 2 };
    for (let i = 0; i < 2; i += 1) {
      nodes.push(await startServer(config));
    }
    for (const n of nodes) {
      await waitUntil(async () => (await up(n)).redis === 'up', { timeout: 10000, label: 'both nodes connected to Redis' });
    }
  });

  after(async () => {
    for (const n of nodes) await n.stop();
    await redis.stop();
    if (rx) await rx.close();
  });

  it('a SIGKILLed node\'s members leave the others\' presence within the lease, once each', { timeout: 40000 }, async () => {
    const ch = uniqueName('presence-doomed');
    const pub = uniqueName('doomed-public');
    const victim = await startServer(config);
    await waitUntil(async () => (await up(victim)).redis === 'up', { timeout: 10000, label: 'the victim connected' });
    const watcher = await connectPusher(nodes[0].wsUrl());
    const doomed = [await connectPusher(victim.wsUrl()), await connectPusher(victim.wsUrl())];
    try {
      await joinPresence(watcher, APP, ch, 'watcher', {});
      await joinPresence(doomed[0], APP, ch, 'd1', {});
      await joinPresence(doomed[1], APP, ch, 'd2', {});
      await subscribeOk(doomed[0], APP, pub);
      await waitAllHave([watcher], (j) => j.event === 'pusher_internal:member_added', 2, { label: 'both doomed members added' });
      await everyNodeSays([nodes[1]], `/channels/${pub}`, { info: 'subscription_count' }, (j) => j.subscription_count === 1, 'the victim\'s subscriber counted');
      const killedAt = Date.now();
      victim.child.kill('SIGKILL');
      await victim.exited;
      await waitAllHave([watcher], (j) => j.event === 'pusher_internal:member_removed', 2, { timeout: LEASE_MS + 4000, label: 'member_removed for the dead node\'s members' });
      const took = Date.now() - killedAt;
      assert.ok(took <= LEASE_MS + 4000, `expired after ${took} ms`);
      await settle(3 * HEARTBEAT_MS);
      assert.deepEqual(removedOf(watcher, ch).sort(), ['d1', 'd2'], 'once each');
      await everyNodeSays(nodes, `/channels/${pub}`, {}, (j) => j.occupied === false, 'the dead node\'s subscriber is gone');
      await everyNodeSays(nodes, `/channels/${ch}/users`, {}, (j) => j.users.map((u) => u.id).join() === 'watcher', 'only the watcher is left');
      assert.match(nodes[0].log() + nodes[1].log(), /stopped renewing its lease/);
      // The webhooks of the dead node's share, once each, from whichever node reaped it.
      await rx.waitEvent({ name: 'channel_vacated', channel: pub }, { timeout: 5000 });
      await settle(DEBOUNCE_MS + 3 * HEARTBEAT_MS);
      assert.deepEqual(rx.eventsFor(ch).map((e) => `${e.name}:${e.user_id}`).sort(), ['member_removed:d1', 'member_removed:d2']);
      assert.deepEqual(rx.eventsFor(pub).map((e) => e.name), ['channel_vacated']);
      rx.assertAllValid();
    } finally {
      await closeAll([watcher, ...doomed]);
      await victim.stop();
    }
  });

  it('after Redis restarts empty, each node rebuilds its members and counts there, and presence lists converge', { timeout: 40000 }, async () => {
    const ch = uniqueName('presence-kept');
    const a = await connectPusher(nodes[0].wsUrl());
    const b = await connectPusher(nodes[1].wsUrl());
    const e = await connectPusher(nodes[1].wsUrl());
    let late;
    let during;
    try {
      await joinPresence(a, APP, ch, 'alice', {});
      await joinPresence(b, APP, ch, 'bert', {});
      await joinPresence(e, APP, ch, 'eve', {});
      await waitAllHave([a], (j) => j.event === 'pusher_internal:member_added', 2, { label: 'bert and eve on node 0' });
      await redis.stop();
      for (const n of nodes) await waitUntil(async () => (await up(n)).redis === 'down', { timeout: 10000, label: 'redis down' });
      // Eve leaves while node 0 cannot hear of it.
      e.send({ event: 'pusher:unsubscribe', data: { channel: ch } });
      await waitAllHave([b], (j) => j.event === 'pusher_internal:member_removed', 1, { label: 'node 1\'s own client hears eve leave' });
      // Meanwhile a join is answered by its node alone, with the members it last knew of.
      during = await connectPusher(nodes[0].wsUrl());
      const alone = await joinPresence(during, APP, ch, 'dora', {});
      assert.deepEqual([...alone.ids].sort(), ['alice', 'bert', 'dora', 'eve'], 'eve is still there as node 0 last knew');
      await waitAllHave([a], (j) => j.event === 'pusher_internal:member_added', 1, { label: 'the node\'s own client hears of dora' });
      const refused = await apiWith(nodes[1], `/channels/${ch}`, { info: 'user_count' });
      assert.equal(refused.status, 503, 'channel questions cannot be answered for the cluster');
      await redis.start();
      for (const n of nodes) await waitUntil(async () => (await up(n)).redis === 'up', { timeout: 15000, label: 'redis up again' });
      late = await connectPusher(nodes[1].wsUrl());
      let list;
      await waitUntil(async () => {
        const r = await apiWith(nodes[1], `/channels/${ch}/users`, {});
        list = r.json.users && r.json.users.map((u) => u.id).sort().join();
        return list === 'alice,bert,dora';
      }, { timeout: 5000, label: `members rebuilt (last: ${list})` });
      // The other node's clients hear of the member who joined during the outage.
      await waitAllHave([b], (j) => j.event === 'pusher_internal:member_added' && JSON.parse(j.data).user_id === 'dora', 1, { label: 'dora announced to node 1' });
      await settle(300);
      // Redis lost its data, so node 1 re-announced bert: its clients knew him, so nobody hears it.
      assert.deepEqual(addedOf(a, ch).sort(), ['bert', 'dora', 'eve'], 'each member announced once');
      assert.deepEqual(addedOf(b, ch), ['eve', 'dora'], 'each member announced once');
      const joined = await joinPresence(late, APP, ch, 'carl', {});
      assert.deepEqual([...joined.ids].sort(), ['alice', 'bert', 'carl', 'dora']);
      // Node 0's clients learn that eve left once every node has had time to rebuild its share
      // (lease + heartbeat after reconnecting).
      await waitAllHave([a, during], (j) => j.event === 'pusher_internal:member_removed' && JSON.parse(j.data).user_id === 'eve', 1, { timeout: LEASE_MS + 4000, label: 'eve gone on node 0 too' });
      await settle(300);
      assert.deepEqual(removedOf(a, ch), ['eve']);
      assert.deepEqual(removedOf(b, ch), ['eve']);
    } finally {
      await closeAll([a, b, e, late, during].filter(Boolean));
    }
  });
});
