'use strict';

// Several apps on one server: full isolation (events, client events, cache, channel listings,
// users, connection counts, signatures, terminate), and reloading the apps file on SIGHUP.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const { describe, it, before, after } = require('node:test');
const { connectPusher, closeAll } = require('./lib/ws');
const { openOnShards } = require('./lib/shards');
const { createRestClient } = require('./lib/pusher');
const { privateAuth } = require('./lib/auth');
const {
  subscribeOk,
  subscribeRaw,
  joinPresence,
  signinOk,
  assertAlive,
  expectSubscriptionError,
  expectPusherError,
  countEvents,
  waitAllHave,
  settle,
} = require('./lib/proto');
const { useServerReported, apiRequest, assertJsonError, assertJsonOk, sdk, expectRefusedWs, pollValue } = require('./lib/api');
const { uniqueName, sleep } = require('./lib/util');

const T = { timeout: 20000 };

const A = { id: 'app-a', key: 'key-a', secret: 'secret-a' };
const B = { id: 'app-b', key: 'key-b', secret: 'secret-b' };

function restFor(server, app) {
  return createRestClient(server, { appId: app.id, key: app.key, secret: app.secret });
}

function received(clients, event, channel) {
  return clients.map((c) => countEvents(c, event, channel));
}

describe('two apps on one server: isolation', () => {
  const srv = useServerReported({ apps: [A, B], args: ['--debug'] });
  let aConns = []; // 4: 2 per shard
  let bConns = []; // 6: 3 per shard
  let restA;
  let restB;
  const shared = uniqueName('shared');
  const priv = `private-${uniqueName('shared')}`;
  const pres = `presence-${uniqueName('shared')}`;
  const A_USERS = ['same', 'a1', 'a2', 'same'];
  const B_USERS = ['same', 'b1', 'b2', 'b3', 'b4', 'b1'];

  before(async () => {
    const server = srv.server;
    restA = restFor(server, A);
    restB = restFor(server, B);
    aConns = (await openOnShards(server, 2, { key: A.key })).flat();
    bConns = (await openOnShards(server, 3, { key: B.key })).flat();
    for (const [conns, app, users] of [[aConns, A, A_USERS], [bConns, B, B_USERS]]) {
      for (let i = 0; i < conns.length; i += 1) {
        await subscribeOk(conns[i], app, shared);
        await subscribeOk(conns[i], app, priv);
        await joinPresence(conns[i], app, pres, users[i]);
      }
    }
  });

  after(() => closeAll([...aConns, ...bConns]));

  it('events published to one app never reach the other app\'s subscribers of the same channel names', T, srv.wrap(async () => {
    assertJsonOk(await sdk(restA.trigger([shared, priv, pres], 'to-a', 'a')), {});
    assertJsonOk(await sdk(restB.triggerBatch([
      { channel: shared, name: 'to-b', data: 'b' },
      { channel: priv, name: 'to-b', data: 'b' },
      { channel: pres, name: 'to-b', data: 'b' },
    ])), {});
    for (const ch of [shared, priv, pres]) {
      await waitAllHave(aConns, (j) => j.event === 'to-a' && j.channel === ch, 1, { label: `to-a on ${ch} at A` });
      await waitAllHave(bConns, (j) => j.event === 'to-b' && j.channel === ch, 1, { label: `to-b on ${ch} at B` });
    }
    await settle(400);
    for (const ch of [shared, priv, pres]) {
      assert.deepEqual(received(aConns, 'to-a', ch), [1, 1, 1, 1], `A got to-a on ${ch} exactly once`);
      assert.deepEqual(received(bConns, 'to-a', ch), [0, 0, 0, 0, 0, 0], `B must not get A's event on ${ch}`);
      assert.deepEqual(received(aConns, 'to-b', ch), [0, 0, 0, 0], `A must not get B's event on ${ch}`);
    }
  }));

  it('client events and presence member events stay inside their app', T, srv.wrap(async (t, server) => {
    aConns[0].send({ event: 'client-whisper', channel: priv, data: { from: 'a' } });
    bConns[0].send({ event: 'client-whisper', channel: pres, data: { from: 'b' } });
    await waitAllHave(aConns.slice(1), (j) => j.event === 'client-whisper' && j.channel === priv, 1, { label: 'A whisper at A' });
    await waitAllHave(bConns.slice(1), (j) => j.event === 'client-whisper' && j.channel === pres, 1, { label: 'B whisper at B' });
    // A new member joining B's presence channel is announced to B only.
    const late = await connectPusher(server.wsUrl(B.key));
    try {
      await joinPresence(late, B, pres, 'b-late');
      await waitAllHave(bConns, (j) => j.event === 'pusher_internal:member_added' && j.channel === pres && JSON.parse(j.data).user_id === 'b-late', 1, { label: 'member_added at B' });
      await settle(400);
      assert.deepEqual(received(bConns, 'client-whisper', priv), [0, 0, 0, 0, 0, 0], 'B must not get A\'s whisper');
      assert.deepEqual(received(aConns, 'client-whisper', pres), [0, 0, 0, 0], 'A must not get B\'s whisper');
      const leaked = aConns.filter((c) => c.frames.some((f) => f.json && f.json.event === 'pusher_internal:member_added' && f.json.channel === pres && f.text.includes('b-late')));
      assert.equal(leaked.length, 0, 'A must not see B\'s member_added');
    } finally {
      await closeAll([late]);
    }
  }));

  it('a cache channel\'s last event is per app', T, srv.wrap(async (t, server) => {
    const ch = `cache-${uniqueName('iso')}`;
    assertJsonOk(await sdk(restA.trigger(ch, 'cached', 'from-a')), {});
    await pollValue(() => sdk(restA.get({ path: `/channels/${ch}`, params: { info: 'cache' } })), (r) => r.json && r.json.cache);
    const [a, b] = await Promise.all([connectPusher(server.wsUrl(A.key)), connectPusher(server.wsUrl(B.key))]);
    try {
      await subscribeOk(a, A, ch);
      await subscribeOk(b, B, ch);
      const replay = await a.nextEvent('cached', { channel: ch });
      assert.equal(replay.data, 'from-a');
      await b.nextEvent('pusher:cache_miss', { channel: ch });
      assert.equal(countEvents(b, 'cached', ch), 0);
      assertJsonOk(await sdk(restB.get({ path: `/channels/${ch}`, params: { info: 'cache' } })), { occupied: true }, 'B has no cached event');
    } finally {
      await closeAll([a, b]);
    }
  }));

  it('counts (info, /channels, /channels/{name}, /users, /connections) only cover the app asked', T, srv.wrap(async () => {
    assertJsonOk(await sdk(restA.trigger([shared, pres], 'count', 'x', { info: 'subscription_count,user_count' })),
      { channels: { [shared]: { subscription_count: 4 }, [pres]: { user_count: 3 } } }, 'A info');
    assertJsonOk(await sdk(restB.trigger([shared, pres], 'count', 'x', { info: 'subscription_count,user_count' })),
      { channels: { [shared]: { subscription_count: 6 }, [pres]: { user_count: 5 } } }, 'B info');

    const prefix = uniqueName('own');
    const aOnly = `${prefix}-a`;
    const bOnly = `${prefix}-b`;
    const both = `${prefix}-both`;
    await subscribeOk(aConns[1], A, aOnly);
    await subscribeOk(bConns[4], B, bOnly);
    await subscribeOk(aConns[2], A, both);
    await subscribeOk(aConns[3], A, both);
    await subscribeOk(bConns[0], B, both);
    assertJsonOk(await sdk(restA.get({ path: '/channels', params: { filter_by_prefix: prefix, info: 'subscription_count' } })),
      { channels: { [aOnly]: { subscription_count: 1 }, [both]: { subscription_count: 2 } } }, 'A listing');
    assertJsonOk(await sdk(restB.get({ path: '/channels', params: { filter_by_prefix: prefix, info: 'subscription_count' } })),
      { channels: { [bOnly]: { subscription_count: 1 }, [both]: { subscription_count: 1 } } }, 'B listing');
    assertJsonOk(await sdk(restA.get({ path: `/channels/${bOnly}`, params: { info: 'subscription_count' } })), { occupied: false, subscription_count: 0 }, 'B\'s channel seen from A');
    assertJsonOk(await sdk(restB.get({ path: `/channels/${aOnly}` })), { occupied: false }, 'A\'s channel seen from B');
    assertJsonOk(await sdk(restA.get({ path: `/channels/${pres}`, params: { info: 'user_count' } })), { occupied: true, user_count: 3 });

    const usersA = assertJsonOk(await sdk(restA.get({ path: `/channels/${pres}/users` })));
    const usersB = assertJsonOk(await sdk(restB.get({ path: `/channels/${pres}/users` })));
    assert.deepEqual(usersA.users.map((u) => u.id).sort(), ['a1', 'a2', 'same']);
    assert.deepEqual(usersB.users.map((u) => u.id).sort(), ['b1', 'b2', 'b3', 'b4', 'same']);

    assertJsonOk(await sdk(restA.get({ path: '/connections' })), { connections: 4 }, 'A connections');
    assertJsonOk(await sdk(restB.get({ path: '/connections' })), { connections: 6 }, 'B connections');
  }));

  it('one app\'s key or secret is refused by the other (REST 401, channel auth AuthError)', T, srv.wrap(async (t, server) => {
    const body = { name: 'forged', channel: shared, data: 'x' };
    const cases = {
      'A key + A secret on B': { appId: B.id, key: A.key, secret: A.secret },
      'B key + A secret on B': { appId: B.id, key: B.key, secret: A.secret },
      'A key + B secret on A': { appId: A.id, key: A.key, secret: B.secret },
    };
    for (const [what, creds] of Object.entries(cases)) {
      assertJsonError(await apiRequest(server.port, { method: 'POST', endpoint: '/events', body, ...creds }), 401, undefined, what);
      assertJsonError(await apiRequest(server.port, { endpoint: '/channels', ...creds }), 401, undefined, `${what} (GET)`);
    }
    assertJsonOk(await apiRequest(server.port, { method: 'POST', endpoint: '/events', body: { ...body, name: 'genuine' }, app: B }), {}, 'B with its own credentials');
    await waitAllHave(bConns, (j) => j.event === 'genuine' && j.channel === shared, 1, { label: 'genuine at B' });
    await settle(200);
    assert.equal([...aConns, ...bConns].filter((c) => countEvents(c, 'forged', shared) > 0).length, 0, 'a forged publish was delivered');
    assert.deepEqual(received(aConns, 'genuine', shared), [0, 0, 0, 0]);

    // A private-channel signature made with A's key and secret does not open B's channel.
    const b = await connectPusher(server.wsUrl(B.key));
    try {
      const ch = `private-${uniqueName('forge')}`;
      const frame = await subscribeRaw(b, ch, { auth: privateAuth(A, b.socketId, ch) });
      expectSubscriptionError(frame, ch, 'AuthError', 401);
      const frame2 = await subscribeRaw(b, ch, { auth: `${B.key}:${privateAuth(A, b.socketId, ch).split(':')[1]}` });
      expectSubscriptionError(frame2, ch, 'AuthError', 401);
      await subscribeOk(b, B, ch);
    } finally {
      await closeAll([b]);
    }
  }));

  it('terminate_connections on one app leaves the same user id signed in on the other app', T, srv.wrap(async (t, server) => {
    const uid = uniqueName('user');
    const [a, b] = await Promise.all([connectPusher(server.wsUrl(A.key)), connectPusher(server.wsUrl(B.key))]);
    try {
      await signinOk(a, A, { id: uid });
      await signinOk(b, B, { id: uid });
      assertJsonOk(await sdk(restB.terminateUserConnections(uid)), {});
      expectPusherError(await b.nextEvent('pusher:error'), 4009, 'terminated at B');
      assert.equal((await b.waitClose(5000)).code, 4009);
      await assertAlive(a, 'same user id on app A');
    } finally {
      await closeAll([a, b]);
    }
  }));
});

describe('SIGHUP reloads the apps file', () => {
  const KEEP = { id: 'keep', key: 'keep-key', secret: 'keep-secret' };
  const GONE = { id: 'gone', key: 'gone-key', secret: 'gone-secret' };
  const TUNE = { id: 'tune', key: 'tune-key', secret: 'tune-secret', max_event_payload_bytes: 1000 };
  const NEW = { id: 'new', key: 'new-key', secret: 'new-secret' };
  const srv = useServerReported({ apps: [KEEP, GONE, TUNE], args: ['--debug'] });

  it('adds, removes and changes apps; connections of kept apps stay and keep receiving', { timeout: 30000 }, srv.wrap(async (t, server) => {
    const keepConns = (await openOnShards(server, 2, { key: KEEP.key })).flat();
    const goneConns = (await openOnShards(server, 2, { key: GONE.key })).flat();
    const tuneConn = await connectPusher(server.wsUrl(TUNE.key));
    const all = [...keepConns, ...goneConns, tuneConn];
    try {
      const ch = uniqueName('reload');
      for (const c of keepConns) await subscribeOk(c, KEEP, ch);
      for (const c of goneConns) await subscribeOk(c, GONE, ch);
      await subscribeOk(tuneConn, TUNE, ch);

      // Before: the new app does not exist; TUNE takes 500-byte events.
      await expectRefusedWs(server.wsUrl(NEW.key), 4001);
      assertJsonError(await apiRequest(server.port, { app: NEW, endpoint: '/connections' }), 404, undefined, 'new app before the reload');
      assertJsonOk(await sdk(restFor(server, TUNE).trigger(ch, 'before', 'x'.repeat(500))), {}, 'TUNE 500 bytes before');

      fs.writeFileSync(server.configPath, JSON.stringify({ apps: [KEEP, { ...TUNE, max_event_payload_bytes: 100 }, NEW] }, null, 2));
      process.kill(server.child.pid, 'SIGHUP');

      // The new app accepts connections and API calls.
      const fresh = await pollValue(async () => {
        try {
          return await connectPusher(server.wsUrl(NEW.key));
        } catch {
          return null;
        }
      }, (c) => c !== null, { timeout: 5000, interval: 100 });
      assert.ok(fresh, 'the added app did not accept a connection within 5 s of SIGHUP');
      all.push(fresh);
      await subscribeOk(fresh, NEW, ch);
      assertJsonOk(await sdk(restFor(server, NEW).trigger(ch, 'hello-new', 'n')), {}, 'publish to the added app');
      await fresh.nextEvent('hello-new', { channel: ch });
      assertJsonOk(await apiRequest(server.port, { app: NEW, endpoint: '/connections' }), { connections: 1 }, 'connections of the added app');

      // The removed app's connections are closed with 4003, its API answers 404 and its key is refused.
      for (const c of goneConns) {
        const close = await c.waitClose(5000);
        assert.equal(close.code, 4003, `close of a removed app's connection (shard ${c.shard}): ${JSON.stringify(close)}`);
      }
      assertJsonError(await apiRequest(server.port, { app: GONE, endpoint: '/connections' }), 404, undefined, 'API of the removed app');
      assertJsonError(await apiRequest(server.port, { method: 'POST', app: GONE, endpoint: '/events', body: { name: 'x', channel: ch, data: 'x' } }), 404, undefined, 'publish to the removed app');
      const refused = await connectPusher(server.wsUrl(GONE.key)).then(
        (c) => {
          all.push(c);
          return null;
        },
        (err) => err,
      );
      assert.ok(refused, 'a new connection with the removed app\'s key was accepted');
      assert.match(refused.message, /pusher:error.*"code":400[13]/, `refusal of the removed key: ${refused.message}`);

      // The changed limit applies to new requests; TUNE's connection stays.
      assertJsonError(await sdk(restFor(server, TUNE).trigger(ch, 'big', 'x'.repeat(500))), 413, '100', 'TUNE 500 bytes after');
      assertJsonOk(await sdk(restFor(server, TUNE).trigger(ch, 'small', 'x'.repeat(100))), {}, 'TUNE 100 bytes after');
      await tuneConn.nextEvent('small', { channel: ch });

      // The kept app's connections are still there and still receive.
      for (const c of keepConns) await assertAlive(c, `kept app connection on shard ${c.shard}`);
      assertJsonOk(await sdk(restFor(server, KEEP).trigger(ch, 'after-reload', 'k')), {});
      await waitAllHave(keepConns, (j) => j.event === 'after-reload' && j.channel === ch, 1, { label: 'after-reload at the kept app' });
      assertJsonOk(await apiRequest(server.port, { app: KEEP, endpoint: '/connections' }), { connections: 4 }, 'kept app connection count');
      assert.equal(countEvents(fresh, 'after-reload', ch), 0, 'the kept app\'s event reached the added app');

      // A broken file on SIGHUP keeps the running apps.
      fs.writeFileSync(server.configPath, '{"apps": [ broken');
      process.kill(server.child.pid, 'SIGHUP');
      await sleep(500);
      assert.ok(server.isAlive(), 'the server exited on a broken config reload');
      for (const c of [...keepConns, fresh]) await assertAlive(c, 'after a failed reload');
      assertJsonOk(await apiRequest(server.port, { app: NEW, endpoint: '/connections' }), { connections: 1 }, 'added app after a failed reload');
      assertJsonError(await sdk(restFor(server, TUNE).trigger(ch, 'big', 'x'.repeat(500))), 413, undefined, 'TUNE limit after a failed reload');
    } finally {
      await closeAll(all);
    }
  }));
});
