'use strict';

// The Pusher HTTP API beyond plain publishing: events/batch_events with info, channel listings,
// channel info (user_count, subscription_count, cache), presence users, terminate_connections,
// Reverb's /connections, errors (404/405/401/403), keep-alive with the SDK, and the PHP SDK's
// request shapes under a path prefix. Counts are checked exactly, with connections placed on
// both shards of a 2-thread server (read from the --debug log).

const assert = require('node:assert/strict');
const http = require('node:http');
const { describe, it, before, after } = require('node:test');
const { DEFAULT_APP, HOST } = require('./lib/server');
const { request } = require('./lib/http');
const { connectPusher, closeAll } = require('./lib/ws');
const { openOnShards } = require('./lib/shards');
const { createRestClient, PusherServer } = require('./lib/pusher');
const {
  subscribeOk,
  subscribeRaw,
  joinPresence,
  signinOk,
  assertAlive,
  expectPusherError,
  countEvents,
  waitAllHave,
  settle,
} = require('./lib/proto');
const { useServerReported: useServer, apiRequest, assertJsonError, assertJsonOk, sdk, expectRefusedWs, pollValue } = require('./lib/api');
const { uniqueName, waitUntil } = require('./lib/util');

const T = { timeout: 20000 };

const APP = { ...DEFAULT_APP, cache_ttl: 120 };
// An app used only by the /connections test, so that its count is exactly that test's sockets.
const COUNT_APP = { id: 'count-app', key: 'count-key', secret: 'count-secret' };
const OFF_APP = { id: 'off-app', key: 'off-key', secret: 'off-secret', enabled: false };

function eventsOn(client, channel, name) {
  return client.frames.filter((f) => f.json && f.json.channel === channel && (name === undefined || f.json.event === name)).map((f) => f.json);
}

describe('HTTP API', () => {
  const srv = useServer({ apps: [APP, COUNT_APP, OFF_APP], args: ['--debug'] });
  let rest;
  // 6 connections, 3 on each shard, subscribed to `pub` (public) and joined to `pres` as
  // users u1,u2,u3 (shard 0) and u1,u2,u4 (shard 1): 6 subscriptions, 4 distinct users.
  let conns = [];
  let byShard;
  const pub = uniqueName('api-pub');
  const pres = `presence-${uniqueName('api')}`;
  const USERS = ['u1', 'u2', 'u3', 'u1', 'u2', 'u4'];

  before(async () => {
    const server = srv.server;
    rest = createRestClient(server);
    byShard = await openOnShards(server, 3);
    conns = [...byShard[0], ...byShard[1]];
    for (let i = 0; i < conns.length; i += 1) {
      await subscribeOk(conns[i], APP, pub);
      await joinPresence(conns[i], APP, pres, USERS[i], { n: i });
    }
  });

  after(() => closeAll(conns));

  describe('POST /apps/{id}/events', () => {
    it('answers exactly 200 {} and delivers to subscribers on both shards', T, srv.wrap(async () => {
      const res = await sdk(rest.trigger(pub, 'plain', { v: 1 }));
      assertJsonOk(res, {}, 'trigger without info');
      assert.equal(res.body, '{}', 'the body must be exactly {}');
      await waitAllHave(conns, (j) => j.event === 'plain' && j.channel === pub, 1, { label: 'plain event on every connection' });
    }));

    it('with info=user_count,subscription_count answers the channels map: user_count for presence, subscription_count for others', T, srv.wrap(async () => {
      const empty = uniqueName('api-empty');
      const res = await sdk(rest.trigger([pub, pres, empty], 'with-info', 'x', { info: 'user_count,subscription_count' }));
      assertJsonOk(res, {
        channels: {
          [pub]: { subscription_count: 6 },
          [pres]: { user_count: 4 },
          [empty]: { subscription_count: 0 },
        },
      }, 'trigger with info on a public, a presence and an empty channel');
      await waitAllHave(conns, (j) => j.event === 'with-info' && j.channel === pres, 1, { label: 'with-info on presence' });
    }));

    it('with info=subscription_count on a presence channel gives it an empty hash; info=user_count on a public one likewise', T, srv.wrap(async () => {
      assertJsonOk(await sdk(rest.trigger(pres, 'info-sc', 'x', { info: 'subscription_count' })), { channels: { [pres]: {} } });
      assertJsonOk(await sdk(rest.trigger(pub, 'info-uc', 'x', { info: 'user_count' })), { channels: { [pub]: {} } });
    }));

    it('counts presence users once per user id (two connections of u1 and u2 across shards)', T, srv.wrap(async () => {
      const res = await sdk(rest.trigger(pres, 'uc', 'x', { info: 'user_count' }));
      assertJsonOk(res, { channels: { [pres]: { user_count: 4 } } });
    }));
  });

  describe('POST /apps/{id}/batch_events', () => {
    it('answers {} without info and delivers every entry (socket_id excludes per entry)', T, srv.wrap(async () => {
      const ch = uniqueName('batch');
      for (const c of conns) await subscribeOk(c, APP, ch);
      const res = await sdk(rest.triggerBatch([
        { channel: ch, name: 'b0', data: 'd0' },
        { channel: ch, name: 'b1', data: { o: 1 } },
        { channel: ch, name: 'b2', data: 'd2', socket_id: conns[0].socketId },
      ]));
      assertJsonOk(res, {}, 'batch without info');
      assert.equal(res.body, '{}');
      await waitAllHave(conns.slice(1), (j) => j.event === 'b2' && j.channel === ch, 1, { label: 'b2 on all but the excluded' });
      await waitAllHave(conns, (j) => j.event === 'b1' && j.channel === ch, 1, { label: 'b1 everywhere' });
      await settle(300);
      for (const c of conns) {
        const names = eventsOn(c, ch).filter((j) => /^b\d$/.test(j.event)).map((j) => `${j.event}:${j.data}`);
        const expected = c === conns[0] ? ['b0:d0', 'b1:{"o":1}'] : ['b0:d0', 'b1:{"o":1}', 'b2:d2'];
        assert.deepEqual(names, expected, `events on ${c.socketId} (shard ${c.shard})`);
      }
    }));

    it('with info on some entries answers {"batch":[...]} index-aligned ({} where no info)', T, srv.wrap(async () => {
      const empty = uniqueName('batch-empty');
      const res = await sdk(rest.triggerBatch([
        { channel: pub, name: 'bi0', data: 'x', info: 'subscription_count' },
        { channel: pres, name: 'bi1', data: 'x' },
        { channel: pres, name: 'bi2', data: 'x', info: 'user_count,subscription_count' },
        { channel: empty, name: 'bi3', data: 'x', info: 'subscription_count,user_count' },
        { channel: pub, name: 'bi4', data: 'x', info: 'user_count' },
      ]));
      assertJsonOk(res, {
        batch: [{ subscription_count: 6 }, {}, { user_count: 4 }, { subscription_count: 0 }, {}],
      }, 'batch with info');
    }));

    it('refuses more than max_batch_size (10) events with 400 naming the limit, and publishes none of them', T, srv.wrap(async (t, server) => {
      const ch = uniqueName('batch-big');
      const c = conns[0];
      await subscribeOk(c, APP, ch);
      const batch = Array.from({ length: 11 }, (_, i) => ({ channel: ch, name: `big${i}`, data: 'x' }));
      const res = await sdk(rest.triggerBatch(batch));
      assertJsonError(res, 400, '10', '11 events');
      assert.ok(/\b10\b/.test(res.json.error), `the message should name the limit 10: ${res.json.error}`);
      assertJsonOk(await sdk(rest.triggerBatch(batch.slice(0, 10))), {}, 'exactly 10 events');
      await waitUntilCount(c, ch, 10);
      await settle(200);
      assert.equal(eventsOn(c, ch).filter((j) => j.event.startsWith('big')).length, 10, 'only the accepted batch of 10 is delivered');
    }));

    it('refuses an invalid entry with 400 "batch[i]: ..." and publishes nothing of that batch', T, srv.wrap(async (t, server) => {
      const ch = uniqueName('batch-bad');
      const c = conns[1];
      await subscribeOk(c, APP, ch);
      const good = { channel: ch, name: 'ok', data: 'x' };
      const cases = [
        [2, [good, good, { channel: ch, data: 'no name' }]],
        [1, [good, { channel: ch, name: 'no-data' }]],
        [0, [{ name: 'no-channel', data: 'x' }]],
        [3, [good, good, good, 'not an object']],
        [1, [good, { channel: 'bad channel name!', name: 'x', data: 'x' }]],
      ];
      for (const [index, batch] of cases) {
        const res = await apiRequest(server.port, { method: 'POST', app: APP, endpoint: '/batch_events', body: { batch } });
        const msg = assertJsonError(res, 400, undefined, `batch ${JSON.stringify(batch)}`);
        assert.ok(msg.startsWith(`batch[${index}]: `), `message should start with "batch[${index}]: ": ${JSON.stringify(msg)}`);
      }
      const res = await apiRequest(server.port, { method: 'POST', app: APP, endpoint: '/batch_events', body: { events: [good] } });
      assertJsonError(res, 400, undefined, 'body without "batch"');
      await settle(300);
      assert.deepEqual(eventsOn(c, ch).filter((j) => j.event === 'ok'), [], 'nothing of a refused batch may be published');
    }));
  });

  describe('GET /apps/{id}/channels', () => {
    it('lists occupied channels only, with empty hashes, honouring filter_by_prefix; info=subscription_count counts across shards', T, srv.wrap(async () => {
      const prefix = uniqueName('lst');
      const a = `${prefix}-a`;
      const b = `${prefix}-b`;
      const unoccupied = `${prefix}-c`;
      for (const c of conns) await subscribeOk(c, APP, a);
      await subscribeOk(byShard[1][0], APP, b);
      assertJsonOk(await sdk(rest.trigger(unoccupied, 'nobody', 'x')), {});
      assertJsonOk(await sdk(rest.get({ path: '/channels', params: { filter_by_prefix: prefix } })), { channels: { [a]: {}, [b]: {} } }, 'filtered listing');
      assertJsonOk(
        await sdk(rest.get({ path: '/channels', params: { filter_by_prefix: prefix, info: 'subscription_count' } })),
        { channels: { [a]: { subscription_count: 6 }, [b]: { subscription_count: 1 } } },
        'filtered listing with subscription_count',
      );
      const all = assertJsonOk(await sdk(rest.get({ path: '/channels' })), undefined, 'unfiltered listing');
      assert.deepEqual(all.channels[a], {});
      assert.deepEqual(all.channels[pub], {});
      assert.deepEqual(all.channels[pres], {});
      assert.ok(!(unoccupied in all.channels), `an unoccupied channel is listed: ${JSON.stringify(all)}`);

      // After the last subscriber of b leaves, b is no longer listed.
      byShard[1][0].send({ event: 'pusher:unsubscribe', data: { channel: b } });
      const after = await pollValue(
        () => sdk(rest.get({ path: '/channels', params: { filter_by_prefix: prefix } })),
        (r) => r.json && r.json.channels && !(b in r.json.channels),
      );
      assertJsonOk(after, { channels: { [a]: {} } }, 'listing after the last subscriber of b left');
    }));

    it('info=user_count works with filter_by_prefix=presence- and is refused with 400 otherwise', T, srv.wrap(async () => {
      assertJsonOk(
        await sdk(rest.get({ path: '/channels', params: { filter_by_prefix: pres, info: 'user_count' } })),
        { channels: { [pres]: { user_count: 4 } } },
      );
      const listed = assertJsonOk(await sdk(rest.get({ path: '/channels', params: { filter_by_prefix: 'presence-', info: 'user_count' } })));
      assert.deepEqual(listed.channels[pres], { user_count: 4 });
      for (const params of [{ info: 'user_count' }, { info: 'user_count', filter_by_prefix: 'private-' }, { info: 'user_count', filter_by_prefix: pub }]) {
        assertJsonError(await sdk(rest.get({ path: '/channels', params })), 400, undefined, `GET /channels ${JSON.stringify(params)}`);
      }
    }));

    it('never lists #server-to-user-* channels', T, srv.wrap(async (t, server) => {
      const uid = uniqueName('s2u');
      const c = byShard[0][0];
      await signinOk(c, APP, { id: uid });
      const frame = await subscribeRaw(c, `#server-to-user-${uid}`);
      assert.equal(frame.event, 'pusher_internal:subscription_succeeded', JSON.stringify(frame));
      const all = assertJsonOk(await sdk(rest.get({ path: '/channels' })));
      const leaked = Object.keys(all.channels).filter((n) => n.startsWith('#'));
      assert.deepEqual(leaked, [], 'server-to-user channels must not be listed');
      const filtered = await apiRequest(server.port, { app: APP, endpoint: '/channels', params: { filter_by_prefix: '#server-to-user-' } });
      assertJsonOk(filtered, { channels: {} }, 'filter_by_prefix=#server-to-user-');
    }));
  });

  describe('GET /apps/{id}/channels/{name}', () => {
    it('answers occupied always, subscription_count for non-presence and user_count for presence channels', T, srv.wrap(async () => {
      assertJsonOk(await sdk(rest.get({ path: `/channels/${pub}` })), { occupied: true });
      assertJsonOk(await sdk(rest.get({ path: `/channels/${pub}`, params: { info: 'subscription_count' } })), { occupied: true, subscription_count: 6 });
      assertJsonOk(await sdk(rest.get({ path: `/channels/${pres}`, params: { info: 'user_count' } })), { occupied: true, user_count: 4 });
      const nobody = uniqueName('nobody');
      assertJsonOk(await sdk(rest.get({ path: `/channels/${nobody}` })), { occupied: false });
      assertJsonOk(await sdk(rest.get({ path: `/channels/${nobody}`, params: { info: 'subscription_count' } })), { occupied: false, subscription_count: 0 });
      assertJsonOk(await sdk(rest.get({ path: `/channels/presence-${nobody}`, params: { info: 'user_count' } })), { occupied: false, user_count: 0 });
    }));

    it('refuses attributes that do not apply with 400', T, srv.wrap(async () => {
      const cases = [
        [pres, 'subscription_count'],
        [pres, 'user_count,subscription_count'],
        [pub, 'user_count'],
        [pub, 'cache'],
        [pres, 'cache'],
        [`private-${uniqueName('p')}`, 'cache'],
        [pub, 'no_such_attribute'],
      ];
      for (const [channel, info] of cases) {
        assertJsonError(await sdk(rest.get({ path: `/channels/${channel}`, params: { info } })), 400, undefined, `${channel}?info=${info}`);
      }
    }));

    it('info=cache on a cache channel: absent before any event, then {"data": last data, "ttl": seconds left}', T, srv.wrap(async () => {
      const ch = `cache-${uniqueName('c')}`;
      await subscribeOk(conns[2], APP, ch);
      assertJsonOk(await sdk(rest.get({ path: `/channels/${ch}`, params: { info: 'cache' } })), { occupied: true }, 'before any event');
      assertJsonOk(await sdk(rest.trigger(ch, 'first', 'one')), {});
      assertJsonOk(await sdk(rest.trigger(ch, 'second', '{"two":2}')), {});
      const res = await pollValue(
        () => sdk(rest.get({ path: `/channels/${ch}`, params: { info: 'cache' } })),
        (r) => r.json && r.json.cache && r.json.cache.data === '{"two":2}',
      );
      const body = assertJsonOk(res, undefined, 'after two events');
      assert.deepEqual(Object.keys(body).sort(), ['cache', 'occupied'], res.body);
      assert.equal(body.occupied, true);
      assert.deepEqual(Object.keys(body.cache).sort(), ['data', 'ttl'], res.body);
      assert.equal(body.cache.data, '{"two":2}');
      assert.ok(Number.isInteger(body.cache.ttl) && body.cache.ttl <= 120 && body.cache.ttl >= 110, `ttl should be ~120 s left: ${res.body}`);
      // An unoccupied cache channel still reports its cached event.
      const lone = `cache-${uniqueName('lone')}`;
      assertJsonOk(await sdk(rest.trigger(lone, 'ev', 'kept')), {});
      const loneRes = await pollValue(
        () => sdk(rest.get({ path: `/channels/${lone}`, params: { info: 'cache' } })),
        (r) => r.json && r.json.cache,
      );
      const loneBody = assertJsonOk(loneRes, undefined, 'unoccupied cache channel');
      assert.equal(loneBody.occupied, false);
      assert.equal(loneBody.cache && loneBody.cache.data, 'kept', loneRes.body);
    }));

    it('works for names with every allowed punctuation character (=@,.;-_)', T, srv.wrap(async () => {
      const ch = `${uniqueName('p')}=a@b,c.d;e_f`;
      await subscribeOk(conns[3], APP, ch);
      assertJsonOk(await sdk(rest.get({ path: `/channels/${ch}`, params: { info: 'subscription_count' } })), { occupied: true, subscription_count: 1 });
    }));
  });

  describe('GET /apps/{id}/channels/{name}/users', () => {
    it('lists each presence user once, across shards', T, srv.wrap(async () => {
      const res = assertJsonOk(await sdk(rest.get({ path: `/channels/${pres}/users` })));
      assert.deepEqual(Object.keys(res), ['users']);
      const ids = res.users.map((u) => u.id).sort();
      assert.deepEqual(ids, ['u1', 'u2', 'u3', 'u4'], JSON.stringify(res));
      for (const u of res.users) assert.deepEqual(Object.keys(u), ['id'], JSON.stringify(u));
      assertJsonOk(await sdk(rest.get({ path: `/channels/presence-${uniqueName('empty')}/users` })), { users: [] });
    }));

    it('refuses non-presence channels with 400', T, srv.wrap(async () => {
      for (const ch of [pub, `private-${uniqueName('x')}`, `cache-${uniqueName('x')}`]) {
        assertJsonError(await sdk(rest.get({ path: `/channels/${ch}/users` })), 400, undefined, `users of ${ch}`);
      }
    }));
  });

  describe('POST /apps/{id}/users/{user_id}/terminate_connections', () => {
    it('closes every connection signed in as the user (pusher:error 4009 then close 4009) on both shards, and nothing else', T, srv.wrap(async (t, server) => {
      const shards = await openOnShards(server, 2);
      const all = [...shards[0], ...shards[1]];
      try {
        const uid = uniqueName('term');
        const [a0, b0] = shards[0];
        const [a1, b1] = shards[1];
        await signinOk(a0, APP, { id: uid });
        await signinOk(a1, APP, { id: uid });
        await signinOk(b0, APP, { id: `${uid}-other` });
        // Only a presence member under the same id, not signed in: stays.
        await joinPresence(b1, APP, `presence-${uid}`, uid);
        const res = await sdk(rest.terminateUserConnections(uid));
        assertJsonOk(res, {}, 'terminate');
        assert.equal(res.body, '{}');
        for (const c of [a0, a1]) {
          const err = await c.nextEvent('pusher:error', { timeout: 5000 });
          expectPusherError(err, 4009, `on ${c.socketId} (shard ${c.shard})`);
          const close = await c.waitClose(5000);
          assert.equal(close.code, 4009, `close code of ${c.socketId}: ${JSON.stringify(close)}`);
        }
        await assertAlive(b0, 'signed in as another user');
        await assertAlive(b1, 'presence member with the same user_id but not signed in');
        // Unknown users: still {}.
        assertJsonOk(await sdk(rest.terminateUserConnections(uniqueName('ghost'))), {});
      } finally {
        await closeAll(all);
      }
    }));
  });

  describe('GET /apps/{id}/connections', () => {
    it('counts the app\'s WebSocket connections on all shards exactly', T, srv.wrap(async (t, server) => {
      const countRest = createRestClient(server, { appId: COUNT_APP.id, key: COUNT_APP.key, secret: COUNT_APP.secret });
      const count = () => sdk(countRest.get({ path: '/connections' }));
      assertJsonOk(await count(), { connections: 0 }, 'before any connection');
      const shards = await openOnShards(server, 4, { key: COUNT_APP.key });
      const mine = [...shards[0], ...shards[1]];
      try {
        assertJsonOk(await pollValue(count, (r) => r.json && r.json.connections === 8), { connections: 8 }, '4 + 4 connections');
        await closeAll([shards[0][0], shards[1][0], shards[1][1]]);
        assertJsonOk(await pollValue(count, (r) => r.json && r.json.connections === 5), { connections: 5 }, 'after closing 3');
      } finally {
        await closeAll(mine);
      }
      assertJsonOk(await pollValue(count, (r) => r.json && r.json.connections === 0), { connections: 0 }, 'after closing all');
      // The other app's connections are not counted here, and vice versa.
      const main = assertJsonOk(await sdk(rest.get({ path: '/connections' })));
      assert.ok(main.connections >= conns.length, `app 1 has at least its ${conns.length} connections: ${JSON.stringify(main)}`);
    }));
  });

  describe('errors', () => {
    it('unknown app id: 404 JSON', T, srv.wrap(async (t, server) => {
      const ghost = { id: 'no-such-app', key: APP.key, secret: APP.secret };
      assertJsonError(await apiRequest(server.port, { app: ghost, endpoint: '/channels' }), 404, undefined, 'GET channels');
      assertJsonError(await apiRequest(server.port, { method: 'POST', app: ghost, endpoint: '/events', body: { name: 'x', channel: 'x', data: 'x' } }), 404, undefined, 'POST events');
      assertJsonError(await apiRequest(server.port, { app: ghost, endpoint: '/connections' }), 404, undefined, 'GET connections');
    }));

    it('wrong method: 405 JSON with Allow', T, srv.wrap(async (t, server) => {
      const cases = [
        ['GET', '/events', 'POST'],
        ['GET', '/batch_events', 'POST'],
        ['POST', '/channels', 'GET'],
        ['PUT', `/channels/${pub}`, 'GET'],
        ['DELETE', `/channels/${pres}/users`, 'GET'],
        ['GET', '/users/u1/terminate_connections', 'POST'],
        ['POST', '/connections', 'GET'],
      ];
      for (const [method, endpoint, allow] of cases) {
        const body = method === 'GET' || method === 'DELETE' ? undefined : {};
        const res = await apiRequest(server.port, { method, app: APP, endpoint, body });
        assertJsonError(res, 405, undefined, `${method} ${endpoint}`);
        assert.ok(res.headers.allow !== undefined, `${method} ${endpoint}: no Allow header`);
        assert.deepEqual(res.headers.allow.split(',').map((s) => s.trim()), [allow], `${method} ${endpoint}: Allow`);
      }
    }));

    it('unknown endpoint: 404 JSON', T, srv.wrap(async (t, server) => {
      for (const endpoint of ['/nope', '', '/', '/channels/a/b', '/channels/a/users/x', '/users/u1', '/users/u1/terminate', '/events/x']) {
        assertJsonError(await apiRequest(server.port, { app: APP, endpoint }), 404, undefined, `GET /apps/1${endpoint}`);
      }
    }));

    it('bad signature, wrong secret, stale or future timestamp, bad or missing body_md5, missing auth: 401 JSON, nothing published', T, srv.wrap(async (t, server) => {
      const ch = uniqueName('auth');
      const c = conns[4];
      await subscribeOk(c, APP, ch);
      const body = { name: 'must-not-arrive', channel: ch, data: 'x' };
      const now = Math.floor(Date.now() / 1000);
      const post = (opts) => apiRequest(server.port, { method: 'POST', app: APP, endpoint: '/events', body, ...opts });
      const cases = {
        'tampered signature': await post({ signatureOverride: 'a'.repeat(64) }),
        'wrong secret': await post({ secret: 'not-the-secret' }),
        'other key': await post({ key: 'count-key', secret: 'count-secret' }),
        'timestamp 700 s old': await post({ timestamp: now - 700 }),
        'timestamp 700 s ahead': await post({ timestamp: now + 700 }),
        'body_md5 of another body': await post({ bodyMd5: 'd41d8cd98f00b204e9800998ecf8427e' }),
        'body_md5 missing': await post({ bodyMd5: null }),
        'signed GET path used for POST': await post({ signPath: '/apps/1/channels' }),
        'GET with a tampered signature': await apiRequest(server.port, { app: APP, endpoint: '/channels', signatureOverride: 'b'.repeat(64) }),
      };
      for (const [what, res] of Object.entries(cases)) assertJsonError(res, 401, undefined, what);
      const missing = await request(server.port, { path: '/apps/1/channels' });
      assertJsonError(missing, 401, undefined, 'no auth parameters at all');
      // Within the 600 s window is fine.
      assertJsonOk(await post({ timestamp: now - 500, body: { ...body, name: 'in-window' } }), {}, 'timestamp 500 s old');
      await c.nextEvent('in-window', { channel: ch });
      assert.equal(countEvents(c, 'must-not-arrive', ch), 0, 'a refused request published its event');
    }));

    it('disabled app: 403 JSON on the API, WebSocket refused with 4003', T, srv.wrap(async (t, server) => {
      assertJsonError(await apiRequest(server.port, { app: OFF_APP, endpoint: '/channels' }), 403, undefined, 'GET channels');
      assertJsonError(await apiRequest(server.port, { app: OFF_APP, endpoint: '/connections' }), 403, undefined, 'GET connections');
      assertJsonError(await apiRequest(server.port, { method: 'POST', app: OFF_APP, endpoint: '/events', body: { name: 'x', channel: 'x', data: 'x' } }), 403, undefined, 'POST events');
      assertJsonError(await apiRequest(server.port, { method: 'POST', app: OFF_APP, endpoint: '/batch_events', body: { batch: [{ name: 'x', channel: 'x', data: 'x' }] } }), 403, undefined, 'POST batch_events');
      await expectRefusedWs(server.wsUrl(OFF_APP.key), 4003);
    }));

    it('malformed bodies: 400 JSON', T, srv.wrap(async (t, server) => {
      const cases = {
        'not JSON': '{"name":',
        'an array': '[]',
        'no data': { name: 'x', channel: 'x' },
        'no channel': { name: 'x', data: 'x' },
        'channels not an array': { name: 'x', data: 'x', channels: 'x' },
        'bad info attribute': { name: 'x', data: 'x', channel: 'x', info: 'bogus' },
      };
      for (const [what, body] of Object.entries(cases)) {
        assertJsonError(await apiRequest(server.port, { method: 'POST', app: APP, endpoint: '/events', body }), 400, undefined, what);
      }
    }));
  });

  describe('keep-alive', () => {
    it('serves several pusher SDK requests (POST and GET, every endpoint) on one TCP connection', T, srv.wrap(async (t, server) => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      let sockets = 0;
      const create = agent.createConnection.bind(agent);
      agent.createConnection = (...args) => {
        sockets += 1;
        return create(...args);
      };
      try {
        const client = new PusherServer({ appId: APP.id, key: APP.key, secret: APP.secret, host: HOST, port: server.port, useTLS: false, timeout: 5000, agent });
        const calls = [
          ['trigger', () => client.trigger(pub, 'ka', 'x')],
          ['get channels', () => client.get({ path: '/channels' })],
          ['triggerBatch', () => client.triggerBatch([{ channel: pub, name: 'ka2', data: 'x' }])],
          ['get channel', () => client.get({ path: `/channels/${pub}`, params: { info: 'subscription_count' } })],
          ['get users', () => client.get({ path: `/channels/${pres}/users` })],
          ['get connections', () => client.get({ path: '/connections' })],
          ['terminate', () => client.terminateUserConnections(uniqueName('nobody'))],
          ['trigger with info', () => client.trigger(pub, 'ka3', 'x', { info: 'subscription_count' })],
        ];
        for (const [what, call] of calls) {
          const res = await sdk(call());
          assert.equal(res.status, 200, `${what}: ${res.status} ${res.body}`);
        }
        assert.equal(sockets, 1, `${calls.length} sequential SDK requests opened ${sockets} TCP connections`);
      } finally {
        agent.destroy();
      }
    }));
  });
});

async function waitUntilCount(client, channel, n) {
  await waitUntil(() => eventsOn(client, channel).length >= n, { timeout: 5000, label: `${n} events on ${channel}` });
}

// The request shapes of pusher-http-php (what Laravel's broadcaster sends), written by hand:
// one "channel" string, the server path prefix in the URL but not in the signed path, GETs
// without body_md5, terminate_connections with a {} body.
describe('HTTP API: PHP SDK request shapes under a path prefix', () => {
  const PREFIX = '/prefix';
  const srv = useServer({ server: { path: PREFIX } });
  const PHP_HEADERS = { 'x-pusher-library': 'pusher-http-php 7.2.6' };
  let sub;
  const ch = uniqueName('php');

  before(async () => {
    sub = await connectPusher(srv.server.wsUrl());
    await subscribeOk(sub, APP, ch);
  });
  after(() => closeAll([sub]));

  const php = (server, opts) => apiRequest(server.port, { app: APP, prefix: PREFIX, headers: PHP_HEADERS, ...opts });

  it('POST events with a single "channel", signed without the prefix: 200 {} and delivered', T, srv.wrap(async (t, server) => {
    const res = await php(server, { method: 'POST', endpoint: '/events', body: { name: 'php-single', data: '{"a":1}', channel: ch } });
    assertJsonOk(res, {});
    assert.equal(res.body, '{}');
    const ev = await sub.nextEvent('php-single', { channel: ch });
    assert.equal(ev.data, '{"a":1}');
  }));

  it('POST events signed with the prefix (a generic client) is accepted too', T, srv.wrap(async (t, server) => {
    const res = await php(server, {
      method: 'POST', endpoint: '/events', signPath: `${PREFIX}/apps/${APP.id}/events`,
      body: { name: 'php-prefixed', data: 'p', channels: [ch] },
    });
    assertJsonOk(res, {});
    await sub.nextEvent('php-prefixed', { channel: ch });
  }));

  it('POST events with "channels" and info, socket_id excluded, and batch_events', T, srv.wrap(async (t, server) => {
    assertJsonOk(await php(server, { method: 'POST', endpoint: '/events', body: { name: 'php-info', data: 'x', channels: [ch], info: 'subscription_count' } }),
      { channels: { [ch]: { subscription_count: 1 } } });
    assertJsonOk(await php(server, { method: 'POST', endpoint: '/events', body: { name: 'php-excluded', data: 'x', channel: ch, socket_id: sub.socketId } }), {});
    assertJsonOk(await php(server, { method: 'POST', endpoint: '/batch_events', body: { batch: [{ channel: ch, name: 'php-batch', data: 'b' }] } }), {});
    await sub.nextEvent('php-batch', { channel: ch });
    await sub.nextEvent('php-info', { channel: ch });
    assert.equal(countEvents(sub, 'php-excluded', ch), 0, 'socket_id exclusion');
  }));

  it('GET requests without body_md5 (channels, channel, users, connections), signed without the prefix', T, srv.wrap(async (t, server) => {
    assertJsonOk(await php(server, { endpoint: '/channels', params: { filter_by_prefix: ch, info: 'subscription_count' } }), { channels: { [ch]: { subscription_count: 1 } } });
    assertJsonOk(await php(server, { endpoint: `/channels/${ch}`, params: { info: 'subscription_count' } }), { occupied: true, subscription_count: 1 });
    assertJsonOk(await php(server, { endpoint: `/channels/presence-${ch}/users` }), { users: [] });
    assertJsonOk(await php(server, { endpoint: '/connections' }), { connections: 1 });
    // Signed with the prefix as well.
    assertJsonOk(await php(server, { endpoint: '/connections', signPath: `${PREFIX}/apps/${APP.id}/connections` }), { connections: 1 });
  }));

  it('POST terminate_connections with a {} body: 200 {}', T, srv.wrap(async (t, server) => {
    const res = await php(server, { method: 'POST', endpoint: `/users/${uniqueName('u')}/terminate_connections`, body: '{}' });
    assertJsonOk(res, {});
  }));

  it('the API is only under the prefix; a wrong signature is still 401', T, srv.wrap(async (t, server) => {
    assertJsonError(await apiRequest(server.port, { method: 'POST', app: APP, endpoint: '/events', body: { name: 'x', data: 'x', channel: ch } }), 404, undefined, 'without the prefix');
    assertJsonError(await php(server, { endpoint: '/channels', signPath: '/other/apps/1/channels' }), 401, undefined, 'signed with another prefix');
  }));
});
