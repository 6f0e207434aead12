'use strict';

// Users (spec §1.11, §1.12, §1.15): pusher:signin, #server-to-user-<id> delivery with the SDK's
// sendToUser, watchlists, the authorized-connections timeout, and subscription_count.

const assert = require('node:assert/strict');
const { describe, it } = require('node:test');
const { useServer, DEFAULT_APP } = require('./lib/server');
const { connectPusher, closeAll } = require('./lib/ws');
const { createClient, waitConnected, subscribe, disconnectAll, createRestClient } = require('./lib/pusher');
const { userAuth, userAuthHandler, privateAuth, hmacHex } = require('./lib/auth');
const {
  openMany,
  subscribeRaw,
  subscribeOk,
  expectSucceeded,
  joinPresence,
  signinRaw,
  signinOk,
  expectPusherError,
  expectSubscriptionError,
  assertAlive,
  framesWhere,
  waitAllHave,
  settle,
} = require('./lib/proto');
const { uniqueName, sleep, waitUntil, withTimeout, deferred } = require('./lib/util');
const { openOnShards } = require('./lib/shards');

const T = { timeout: 30000 };

const APP = DEFAULT_APP;
const AUTHZ = { ...DEFAULT_APP, id: '2', key: 'authz-key', secret: 'authz-secret', authorized_connections_timeout: 1 };
const COUNT = { ...DEFAULT_APP, id: '3', key: 'count-key', secret: 'count-secret', subscription_count: true };

const WATCHLIST = 'pusher_internal:watchlist_events';
const COUNT_EVENT = 'pusher_internal:subscription_count';

// Signs in and subscribes to #server-to-user-<id> as pusher-js does after signin_success.
async function signinAndSubscribeUser(client, app, user) {
  await signinOk(client, app, user);
  const channel = `#server-to-user-${user.id}`;
  expectSucceeded(await subscribeRaw(client, channel, { auth: '' }), channel);
  return channel;
}

// Merged watchlist status from every watchlist_events frame received so far:
// {online: Set, offline: Set, frames: [...]}.
function watchlistSeen(client) {
  const frames = framesWhere(client, (j) => j.event === WATCHLIST);
  const online = new Set();
  const offline = new Set();
  for (const f of frames) {
    assert.equal(typeof f.data, 'object', `watchlist_events data must be an object: ${JSON.stringify(f)}`);
    assert.ok(Array.isArray(f.data.events), JSON.stringify(f));
    for (const e of f.data.events) {
      assert.ok(e.name === 'online' || e.name === 'offline', JSON.stringify(f));
      assert.ok(Array.isArray(e.user_ids), JSON.stringify(f));
      for (const id of e.user_ids) (e.name === 'online' ? online : offline).add(id);
    }
  }
  return { online, offline, frames };
}

function countFrames(client, channel) {
  return framesWhere(client, (j) => j.event === COUNT_EVENT && j.channel === channel);
}

function lastCount(client, channel) {
  const frames = countFrames(client, channel);
  if (frames.length === 0) return undefined;
  const last = frames[frames.length - 1];
  return JSON.parse(last.data).subscription_count;
}

describe('users', () => {
  // --debug lets lib/shards.js place connections on chosen shards.
  const srv = useServer({ apps: [APP, AUTHZ, COUNT], args: ['--debug'] });

  describe('sign-in', () => {
    it('answers pusher:signin with exactly {"event":"pusher:signin_success","data":{"user_data":<the same string>}}', T, srv.wrap(async (t, server) => {
      const c = await connectPusher(server.wsUrl());
      try {
        const userData = JSON.stringify({ id: 'ann', user_info: { name: 'Ann', emoji: '🙂' } });
        c.send({ event: 'pusher:signin', data: userAuth(APP, c.socketId, userData) });
        const reply = await c.next((m) => m.json && (m.json.event === 'pusher:signin_success' || m.json.event === 'pusher:error'));
        assert.deepEqual(reply.json, { event: 'pusher:signin_success', data: { user_data: userData } });
      } finally {
        await c.shutdown();
      }
    }));

    it('pusher-js signs in (userAuthentication.customHandler) and receives the SDK\'s sendToUser on pusher.user', T, srv.wrap(async (t, server) => {
      const client = createClient(server, {
        userAuthentication: { customHandler: userAuthHandler(APP, { id: 'pjs-user', user_info: { name: 'P' } }) },
      });
      try {
        await waitConnected(client);
        client.signin();
        await withTimeout(client.user.signinDonePromise, 5000, 'pusher-js signin');
        assert.deepEqual(client.user.user_data, { id: 'pjs-user', user_info: { name: 'P' } });
        await waitUntil(() => client.user.serverToUserChannel && client.user.serverToUserChannel.subscribed, {
          label: 'pusher-js subscribed to #server-to-user-pjs-user',
        });
        const got = deferred();
        client.user.bind('App\\Notifications\\Ping', (data) => got.resolve(data));
        const res = await createRestClient(server).sendToUser('pjs-user', 'App\\Notifications\\Ping', { hello: 'you' });
        assert.equal(res.status, 200);
        assert.deepEqual(JSON.parse(await res.text()), {});
        assert.deepEqual(await withTimeout(got.promise, 5000, 'sendToUser event in pusher.user'), { hello: 'you' });
      } finally {
        disconnectAll([client]);
      }
    }));

    it('sendToUser reaches every connection of that user on both shards exactly once, and nobody else', T, srv.wrap(async (t, server) => {
      // The user on 4 connections per shard; another user and a stranger on both shards.
      const [s0, s1] = await openOnShards(server, 6);
      const aConns = [...s0.slice(0, 4), ...s1.slice(0, 4)];
      const bConns = [s0[4], s1[4]];
      const strangers = [s0[5], s1[5]];
      const all = [...aConns, ...bConns, ...strangers];
      try {
        const a = uniqueName('alice');
        const b = uniqueName('bob');
        for (const c of aConns) await signinAndSubscribeUser(c, APP, { id: a });
        for (const c of bConns) await signinAndSubscribeUser(c, APP, { id: b });
        const res = await createRestClient(server).sendToUser(a, 'private-note', { text: 'for alice' });
        assert.equal(res.status, 200);
        const channel = `#server-to-user-${a}`;
        await waitAllHave(aConns, (j) => j.event === 'private-note', 1, { label: 'sendToUser on every connection of the user' });
        await settle();
        for (const [i, c] of aConns.entries()) {
          assert.deepEqual(framesWhere(c, (j) => j.event === 'private-note'), [
            { event: 'private-note', channel, data: '{"text":"for alice"}' },
          ], `connection ${i} of the user`);
        }
        for (const c of [...bConns, ...strangers]) {
          assert.equal(framesWhere(c, (j) => j.event === 'private-note').length, 0, 'other users get nothing');
        }
      } finally {
        await closeAll(all);
      }
    }));

    it('refuses a bad signature or bad user_data with pusher:error 4009, then closes with 4009', T, srv.wrap(async (t, server) => {
      const good = JSON.stringify({ id: 'ok-user' });
      const cases = [
        ['signed with another secret', good, (c) => ({ auth: `${APP.key}:${hmacHex('wrong', `${c.socketId}::user::${good}`)}` })],
        ['signed for another socket', good, () => ({ auth: userAuth(APP, '1.2', good).auth })],
        ['another key', good, (c) => ({ auth: `other-key:${userAuth(APP, c.socketId, good).auth.split(':')[1]}` })],
        ['no auth', good, () => ({ auth: '' })],
        ['user_data not JSON', '{"id":', () => ({})],
        ['user_data without id', JSON.stringify({ user_info: { name: 'x' } }), () => ({})],
        ['empty id', JSON.stringify({ id: '' }), () => ({})],
        ['numeric id', JSON.stringify({ id: 5 }), () => ({})],
      ];
      for (const [why, userData, opts] of cases) {
        const c = await connectPusher(server.wsUrl());
        try {
          expectPusherError(await signinRaw(c, APP, userData, opts(c)), 4009, why);
          const close = await c.waitClose(4000);
          assert.equal(close.code, 4009, `${why}: close code after the error`);
        } finally {
          await c.shutdown();
        }
      }
      // Refusals cost nobody else anything: a good sign-in on a new connection works.
      const ok = await connectPusher(server.wsUrl());
      try {
        await signinOk(ok, APP, { id: 'ok-user' });
        await assertAlive(ok);
      } finally {
        await ok.shutdown();
      }
    }));

    it('refuses signing in as a second user with 4009 and closes; the user is then offline', T, srv.wrap(async (t, server) => {
      const c = await connectPusher(server.wsUrl());
      const watcher = await connectPusher(server.wsUrl());
      try {
        const first = uniqueName('first');
        const second = uniqueName('second');
        await signinOk(c, APP, { id: first });
        await signinOk(watcher, APP, { id: uniqueName('watcher'), watchlist: [first] });
        await waitUntil(() => watchlistSeen(watcher).online.has(first), { timeout: 4000, label: 'first user online' });
        expectPusherError(await signinRaw(c, APP, { id: second }), 4009, 'second user');
        assert.equal((await c.waitClose(4000)).code, 4009, 'close code after the error');
        // The closed connection signed its first identity out, so the watcher sees it go offline.
        await waitUntil(() => watchlistSeen(watcher).offline.has(first), { timeout: 4000, label: 'first user offline' });
      } finally {
        await closeAll([c, watcher]);
      }
    }));

    it('lets only the connection signed in as <id> subscribe to #server-to-user-<id> (AuthError 403 otherwise)', T, srv.wrap(async (t, server) => {
      const [anon, other, owner] = await openMany(server, 3);
      try {
        const id = uniqueName('owner');
        const channel = `#server-to-user-${id}`;
        expectSubscriptionError(await subscribeRaw(anon, channel, { auth: '' }), channel, 'AuthError', 403);
        // A signature does not help either.
        expectSubscriptionError(await subscribeRaw(anon, channel, { auth: privateAuth(APP, anon.socketId, channel) }), channel, 'AuthError', 403);
        await signinOk(other, APP, { id: `${id}-not` });
        expectSubscriptionError(await subscribeRaw(other, channel, { auth: '' }), channel, 'AuthError', 403);
        await signinOk(owner, APP, { id });
        expectSucceeded(await subscribeRaw(owner, channel, { auth: '' }), channel);

        await createRestClient(server).sendToUser(id, 'direct', { x: 1 });
        assert.deepEqual(await owner.nextEvent('direct', { channel }), { event: 'direct', channel, data: '{"x":1}' });
        await settle(200);
        for (const c of [anon, other]) assert.equal(framesWhere(c, (j) => j.event === 'direct').length, 0);
        await assertAlive(anon);
      } finally {
        await closeAll([anon, other, owner]);
      }
    }));
  });

  describe('watchlist', () => {
    it('sends the watched users\' status after signin, then one message per change (first sign-in online, last close offline)', T, srv.wrap(async (t, server) => {
      const onlineUser = uniqueName('on');
      const laterUser = uniqueName('later');
      const neverUser = uniqueName('never');
      // laterUser's four connections: two per shard.
      const [s0, s1] = await openOnShards(server, 3);
      const [pre, w, l1, l2, l3, l4] = [s0[0], s1[0], s0[1], s1[1], s0[2], s1[2]];
      try {
        await signinOk(pre, APP, { id: onlineUser });
        await signinOk(w, APP, { id: uniqueName('watcher'), watchlist: [onlineUser, laterUser, neverUser] });
        await waitUntil(() => {
          const s = watchlistSeen(w);
          return s.online.size + s.offline.size >= 3;
        }, { label: 'initial watchlist status', timeout: 3000 });
        const initial = watchlistSeen(w);
        assert.deepEqual([...initial.online], [onlineUser]);
        assert.deepEqual([...initial.offline].sort(), [laterUser, neverUser].sort());
        const initialFrames = initial.frames.length;

        // laterUser signs in on 4 connections (over both shards): one "online".
        for (const c of [l1, l2, l3, l4]) await signinOk(c, APP, { id: laterUser });
        await waitUntil(() => watchlistSeen(w).frames.length > initialFrames, { label: 'online change', timeout: 3000 });
        await settle();
        let frames = watchlistSeen(w).frames.slice(initialFrames);
        assert.deepEqual(frames, [{ event: WATCHLIST, data: { events: [{ name: 'online', user_ids: [laterUser] }] } }]);

        // Three of its connections close: still online. The last one closes: one "offline".
        await closeAll([l1, l2, l3]);
        await settle(500);
        assert.equal(watchlistSeen(w).frames.length, initialFrames + 1, 'no change while a signed-in connection remains');
        await l4.shutdown();
        await waitUntil(() => watchlistSeen(w).frames.length > initialFrames + 1, { label: 'offline change', timeout: 3000 });
        await settle();
        frames = watchlistSeen(w).frames.slice(initialFrames + 1);
        assert.deepEqual(frames, [{ event: WATCHLIST, data: { events: [{ name: 'offline', user_ids: [laterUser] }] } }]);

        await pre.shutdown();
        await waitUntil(() => watchlistSeen(w).frames.length > initialFrames + 2, { label: 'offline of the first user', timeout: 3000 });
        assert.deepEqual(watchlistSeen(w).frames.slice(initialFrames + 2), [
          { event: WATCHLIST, data: { events: [{ name: 'offline', user_ids: [onlineUser] }] } },
        ]);
      } finally {
        await closeAll([pre, w, l1, l2, l3, l4]);
      }
    }));

    it('a connection that is only a presence member is not "online"', T, srv.wrap(async (t, server) => {
      const [w, p] = await openMany(server, 2);
      try {
        const watched = uniqueName('presence-only');
        await signinOk(w, APP, { id: uniqueName('w'), watchlist: [watched] });
        await waitUntil(() => watchlistSeen(w).offline.has(watched), { label: 'initial offline', timeout: 3000 });
        const before = watchlistSeen(w).frames.length;
        await joinPresence(p, APP, `presence-${uniqueName('room')}`, watched);
        await settle(500);
        assert.equal(watchlistSeen(w).frames.length, before);
      } finally {
        await closeAll([w, p]);
      }
    }));

    it('pusher-js: pusher.user.watchlist emits online/offline with user_ids', T, srv.wrap(async (t, server) => {
      const watched = uniqueName('friend');
      const watcher = createClient(server, {
        userAuthentication: { customHandler: userAuthHandler(APP, { id: uniqueName('me'), watchlist: [watched] }) },
      });
      const friend = createClient(server, { userAuthentication: { customHandler: userAuthHandler(APP, { id: watched }) } });
      try {
        const online = [];
        const offline = [];
        watcher.user.watchlist.bind('online', (e) => online.push(e.user_ids));
        watcher.user.watchlist.bind('offline', (e) => offline.push(e.user_ids));
        await waitConnected(watcher);
        watcher.signin();
        await waitUntil(() => offline.some((ids) => ids.includes(watched)), { label: 'initial offline in pusher-js', timeout: 5000 });
        await waitConnected(friend);
        friend.signin();
        await waitUntil(() => online.some((ids) => ids.includes(watched)), { label: 'online in pusher-js', timeout: 5000 });
        const offlineBefore = offline.length;
        friend.disconnect();
        await waitUntil(() => offline.length > offlineBefore, { label: 'offline in pusher-js', timeout: 5000 });
        assert.deepEqual(offline[offline.length - 1], [watched]);
      } finally {
        disconnectAll([watcher, friend]);
      }
    }));

    it('keeps the first 100 watched ids of a longer list, signs in, and sends 4302', T, srv.wrap(async (t, server) => {
      const [w, last] = await openMany(server, 2);
      try {
        const ids = Array.from({ length: 101 }, (_, i) => `${uniqueName('wl')}-${i}`);
        await signinOk(last, APP, { id: ids[100] }); // the 101st is online but not watched
        const userData = JSON.stringify({ id: uniqueName('watcher'), watchlist: ids });
        w.send({ event: 'pusher:signin', data: userAuth(APP, w.socketId, userData) });
        const success = await w.nextEvent('pusher:signin_success');
        assert.deepEqual(success.data, { user_data: userData });
        const err = await w.nextEvent('pusher:error');
        expectPusherError(err, 4302);
        await waitUntil(() => {
          const s = watchlistSeen(w);
          return s.online.size + s.offline.size >= 100;
        }, { label: 'status of 100 watched ids', timeout: 3000 });
        await settle(300);
        const seen = watchlistSeen(w);
        assert.deepEqual([...seen.offline].sort(), ids.slice(0, 100).sort());
        assert.equal(seen.online.size, 0, 'the 101st id is not watched');
        await assertAlive(w);
      } finally {
        await closeAll([w, last]);
      }
    }));
  });

  describe('authorized connections timeout', () => {
    it('closes connections that neither sign in nor join a private/presence channel with 4009; keeps the others', T, srv.wrap(async (t, server) => {
      const [idle, publicOnly, signedIn, privateSub, presenceSub] = await openMany(server, 5, AUTHZ.key);
      const all = [idle, publicOnly, signedIn, privateSub, presenceSub];
      const opened = Date.now();
      try {
        await subscribeOk(publicOnly, AUTHZ, `public-${uniqueName('p')}`);
        await signinOk(signedIn, AUTHZ, { id: uniqueName('s') });
        await subscribeOk(privateSub, AUTHZ, `private-${uniqueName('p')}`);
        await joinPresence(presenceSub, AUTHZ, `presence-${uniqueName('p')}`, 'member');

        for (const [why, c] of [['idle', idle], ['public only', publicOnly]]) {
          const close = await c.waitClose(4000);
          assert.equal(close.code, 4009, `${why}: close code`);
          const err = framesWhere(c, (j) => j.event === 'pusher:error');
          assert.equal(err.length, 1, `${why}: one pusher:error before the close`);
          expectPusherError(err[0], 4009);
          assert.equal(err[0].data.message, 'Connection not authorized within timeout');
          assert.ok(Date.now() - opened >= 900, `${why}: not before the 1 s timeout`);
        }
        await sleep(Math.max(0, opened + 2500 - Date.now()));
        for (const [why, c] of [['signed in', signedIn], ['private', privateSub], ['presence', presenceSub]]) {
          await assertAlive(c, `(${why}) past the timeout`);
        }
      } finally {
        await closeAll(all);
      }
    }));

    it('pusher-js is disconnected without reconnecting (4009), unless it signs in', T, srv.wrap(async (t, server) => {
      const idle = createClient(server, { key: AUTHZ.key });
      const signed = createClient(server, {
        key: AUTHZ.key,
        userAuthentication: { customHandler: userAuthHandler(AUTHZ, { id: uniqueName('pjs') }) },
      });
      try {
        await Promise.all([waitConnected(idle), waitConnected(signed)]);
        signed.signin();
        await waitUntil(() => idle.connection.state === 'disconnected' || idle.connection.state === 'failed', {
          label: 'pusher-js dropped after the timeout',
          timeout: 4000,
        });
        await sleep(500);
        assert.notEqual(idle.connection.state, 'connected', 'pusher-js must not reconnect after 4009');
        assert.equal(signed.connection.state, 'connected');
      } finally {
        disconnectAll([idle, signed]);
      }
    }));

    it('is off by default (0)', T, srv.wrap(async (t, server) => {
      const c = await connectPusher(server.wsUrl());
      try {
        await sleep(1500);
        await assertAlive(c);
      } finally {
        await c.shutdown();
      }
    }));
  });

  describe('subscription_count', () => {
    for (const kind of ['public', 'private']) {
      it(`${kind}: every subscriber gets the count on each subscribe and unsubscribe, across shards`, T, srv.wrap(async (t, server) => {
        const [s0, s1] = await openOnShards(server, 4, { key: COUNT.key });
        // Alternate shards: subscribers 1, 3, 5, 7 on shard 0, 2, 4, 6, 8 on shard 1.
        const conns = [s0[0], s1[0], s0[1], s1[1], s0[2], s1[2], s0[3], s1[3]];
        try {
          const channel = kind === 'public' ? `counted-${uniqueName('c')}` : `private-${uniqueName('c')}`;
          for (let n = 1; n <= conns.length; n += 1) {
            await subscribeOk(conns[n - 1], COUNT, channel);
            const current = conns.slice(0, n);
            await waitUntil(() => current.every((c) => lastCount(c, channel) === n), {
              label: `subscription_count ${n} on all ${n} subscribers`,
              timeout: 3000,
            });
          }
          const f = countFrames(conns[0], channel)[0];
          assert.deepEqual(f, { event: COUNT_EVENT, channel, data: '{"subscription_count":1}' });
          assert.deepEqual(countFrames(conns[0], channel).map((x) => JSON.parse(x.data).subscription_count), [1, 2, 3, 4, 5, 6, 7, 8]);

          conns[7].send({ event: 'pusher:unsubscribe', data: { channel } });
          await waitUntil(() => conns.slice(0, 7).every((c) => lastCount(c, channel) === 7), { label: 'count after unsubscribe', timeout: 3000 });
          await conns[6].shutdown();
          await waitUntil(() => conns.slice(0, 6).every((c) => lastCount(c, channel) === 6), { label: 'count after disconnect', timeout: 3000 });
        } finally {
          await closeAll(conns);
        }
      }));
    }

    it('pusher-js: channel.bind("pusher:subscription_count") and channel.subscriptionCount', T, srv.wrap(async (t, server) => {
      const a = createClient(server, { key: COUNT.key });
      const b = createClient(server, { key: COUNT.key });
      try {
        await Promise.all([waitConnected(a), waitConnected(b)]);
        const name = `counted-${uniqueName('pjs')}`;
        const seen = [];
        a.subscribe(name).bind('pusher:subscription_count', (d) => seen.push(d.subscription_count));
        await waitUntil(() => seen.includes(1), { label: 'count 1', timeout: 3000 });
        await subscribe(b, name);
        await waitUntil(() => seen.includes(2), { label: 'count 2', timeout: 3000 });
        assert.equal(a.channel(name).subscriptionCount, 2);
      } finally {
        disconnectAll([a, b]);
      }
    }));

    it('is not sent for presence channels, nor when the option is off', T, srv.wrap(async (t, server) => {
      const [p1, p2] = await openMany(server, 2, COUNT.key);
      const [o1, o2] = await openMany(server, 2);
      try {
        const presence = `presence-${uniqueName('nocount')}`;
        await joinPresence(p1, COUNT, presence, 'a');
        await joinPresence(p2, COUNT, presence, 'b');
        const channel = `counted-${uniqueName('off')}`;
        await subscribeOk(o1, APP, channel);
        await subscribeOk(o2, APP, channel);
        await settle(500);
        for (const c of [p1, p2, o1, o2]) {
          assert.equal(framesWhere(c, (j) => j.event === COUNT_EVENT).length, 0);
        }
      } finally {
        await closeAll([p1, p2, o1, o2]);
      }
    }));

    it('over 100 subscribers: at most one count per subscriber every 5 s', { timeout: 60000 }, srv.wrap(async (t, server) => {
      const conns = await openMany(server, 106, COUNT.key);
      try {
        const channel = `big-${uniqueName('count')}`;
        for (let i = 0; i < 100; i += 1) await subscribeOk(conns[i], COUNT, channel);
        await waitUntil(() => conns.slice(0, 100).every((c) => lastCount(c, channel) === 100), {
          label: 'count 100 on the first 100 subscribers',
          timeout: 5000,
        });
        const marks = conns.slice(0, 100).map((c) => countFrames(c, channel).length);
        const start = Date.now();
        for (let i = 100; i < 106; i += 1) {
          await subscribeOk(conns[i], COUNT, channel);
          await sleep(100);
        }
        await sleep(Math.max(0, start + 4000 - Date.now()));
        const perSubscriber = conns.slice(0, 100).map((c, i) => countFrames(c, channel).length - marks[i]);
        const max = Math.max(...perSubscriber);
        assert.ok(max <= 1, `a subscriber got ${max} subscription_count events within 4 s over 100 subscribers`);
        // Throttled, not dropped: the final count arrives within the next 5 s window.
        await waitUntil(() => conns.every((c) => lastCount(c, channel) === 106), {
          label: 'the throttled count 106 on every subscriber',
          timeout: Math.max(1000, start + 9000 - Date.now()),
        });
        const total = conns.slice(0, 100).map((c, i) => countFrames(c, channel).length - marks[i]);
        assert.ok(Math.max(...total) <= 2, `at most 2 counts within ~${Math.round((Date.now() - start) / 1000)} s, got ${Math.max(...total)}`);
      } finally {
        await closeAll(conns);
      }
    }));
  });
});
