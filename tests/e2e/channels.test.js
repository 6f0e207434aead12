'use strict';

// Private, private-encrypted, presence and cache channels (spec §1.6–§1.9, §1.13, §1.14):
// signatures, the exact success/error frames, presence membership across the two shards,
// presence limits, and the cache replay.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { describe, it } = require('node:test');
const { useServer, DEFAULT_APP, HOST } = require('./lib/server');
const { connectPusher, closeAll } = require('./lib/ws');
const { postEvents } = require('./lib/http');
const {
  createClient,
  waitConnected,
  subscribe,
  disconnectAll,
  createRestClient,
  triggerOk,
  PusherServer,
} = require('./lib/pusher');
const {
  privateAuth,
  presenceAuth,
  presenceChannelData,
  encryptedAuth,
  channelAuthHandler,
  userAuthHandler,
  hmacHex,
} = require('./lib/auth');
const {
  openMany,
  subscribeRaw,
  subscribeOk,
  expectSucceeded,
  joinPresence,
  signinOk,
  expectSubscriptionError,
  assertAlive,
  framesWhere,
  countEvents,
  waitAllHave,
  settle,
} = require('./lib/proto');
const { uniqueName, sleep, waitUntil, withTimeout, deferred } = require('./lib/util');
const { openOnShards } = require('./lib/shards');

const T = { timeout: 30000 };

const APP = DEFAULT_APP;
// Small limits and a 1 s cache TTL, to test the limits without hundreds of connections.
const SMALL = {
  ...DEFAULT_APP,
  id: '2',
  key: 'small-key',
  secret: 'small-secret',
  max_presence_members: 3,
  cache_ttl: 1,
};

const MASTER_KEY = crypto.createHash('sha256').update('ringcast e2e master key').digest(); // 32 bytes

const SUCCEEDED = 'pusher_internal:subscription_succeeded';
const MEMBER_ADDED = 'pusher_internal:member_added';
const MEMBER_REMOVED = 'pusher_internal:member_removed';

function sortedIds(presence) {
  return [...presence.ids].map(String).sort();
}

// The frames a client received after the subscription_succeeded for channel (in order).
function framesAfterSucceeded(client, channel) {
  const i = client.frames.findIndex((f) => f.json && f.json.event === SUCCEEDED && f.json.channel === channel);
  assert.ok(i >= 0, `no subscription_succeeded for ${channel}`);
  return client.frames.slice(i + 1);
}

// Waits for the first frame on `channel` after its subscription_succeeded and returns it.
async function firstFrameAfterSucceeded(client, channel, timeout = 3000) {
  await waitUntil(
    () => {
      const i = client.frames.findIndex((f) => f.json && f.json.event === SUCCEEDED && f.json.channel === channel);
      return i >= 0 && client.frames.slice(i + 1).some((f) => f.json && f.json.channel === channel);
    },
    { timeout, label: `first frame after subscription_succeeded on ${channel}` },
  );
  return framesAfterSucceeded(client, channel).find((f) => f.json && f.json.channel === channel);
}

function memberAddedOf(client, channel) {
  return framesWhere(client, (j) => j.event === MEMBER_ADDED && j.channel === channel).map((j) => JSON.parse(j.data));
}

function memberRemovedOf(client, channel) {
  return framesWhere(client, (j) => j.event === MEMBER_REMOVED && j.channel === channel).map((j) => JSON.parse(j.data));
}

describe('channels', () => {
  const srv = useServer({ apps: [APP, SMALL] });

  describe('private channels', () => {
    it('pusher-js subscribes with a Laravel-style signature and receives SDK events', T, srv.wrap(async (t, server) => {
      const calls = [];
      const client = createClient(server, { channelAuthorization: { customHandler: channelAuthHandler(APP, { calls }) } });
      try {
        const socketId = await waitConnected(client);
        const name = `private-${uniqueName('orders')}`;
        const log = await subscribe(client, name);
        assert.deepEqual(calls, [{ socketId, channelName: name }]);
        await triggerOk(createRestClient(server), name, 'OrderShipped', { id: 7, note: 'héllo' });
        const got = await log.waitEvent('OrderShipped');
        assert.deepEqual(got.data, { id: 7, note: 'héllo' });
      } finally {
        disconnectAll([client]);
      }
    }));

    it('answers a correct signature with exactly {"event":"pusher_internal:subscription_succeeded","channel":C,"data":"{}"}', T, srv.wrap(async (t, server) => {
      const c = await connectPusher(server.wsUrl());
      try {
        const channel = `private-${uniqueName('exact')}`;
        c.send({ event: 'pusher:subscribe', data: { channel, auth: privateAuth(APP, c.socketId, channel) } });
        const frame = await c.next((m) => m.json && m.json.channel === channel);
        assert.deepEqual(frame.json, { event: SUCCEEDED, channel, data: '{}' });
      } finally {
        await c.shutdown();
      }
    }));

    it('accepts the signature made by the pusher SDK\'s authorizeChannel', T, srv.wrap(async (t, server) => {
      const c = await connectPusher(server.wsUrl());
      try {
        const channel = `private-${uniqueName('sdk')}`;
        const { auth } = createRestClient(server).authorizeChannel(c.socketId, channel);
        expectSucceeded(await subscribeRaw(c, channel, { auth }), channel);
      } finally {
        await c.shutdown();
      }
    }));

    it('refuses a wrong signature with pusher:subscription_error AuthError 401 naming the string to sign, and keeps the connection', T, srv.wrap(async (t, server) => {
      const c = await connectPusher(server.wsUrl());
      try {
        const channel = `private-${uniqueName('badsig')}`;
        const cases = [
          ['signed with another secret', `${APP.key}:${hmacHex('not-the-secret', `${c.socketId}:${channel}`)}`],
          ['signed for another socket id', privateAuth(APP, '1234.5678', channel)],
          ['signed for another channel', privateAuth(APP, c.socketId, `${channel}-other`)],
          ['a truncated signature', privateAuth(APP, c.socketId, channel).slice(0, -2)],
        ];
        for (const [why, auth] of cases) {
          const frame = await subscribeRaw(c, channel, { auth });
          const message = expectSubscriptionError(frame, channel, 'AuthError', 401);
          const expected = `Invalid signature: Expected HMAC SHA256 hex digest of ${c.socketId}:${channel}`;
          assert.ok(message.startsWith(expected), `${why}: message ${JSON.stringify(message)} should start with ${JSON.stringify(expected)}`);
        }
        await assertAlive(c, 'after refused subscriptions');
        await subscribeOk(c, APP, channel);
      } finally {
        await c.shutdown();
      }
    }));

    it('refuses a signature under another key with "Invalid key in subscription auth data"', T, srv.wrap(async (t, server) => {
      const c = await connectPusher(server.wsUrl());
      try {
        const channel = `private-${uniqueName('badkey')}`;
        const good = privateAuth(APP, c.socketId, channel);
        for (const auth of [`INSERT_YOUR_KEY_HERE:${good.split(':')[1]}`, privateAuth(SMALL, c.socketId, channel)]) {
          const message = expectSubscriptionError(await subscribeRaw(c, channel, { auth }), channel, 'AuthError', 401);
          assert.ok(message.startsWith('Invalid key in subscription auth data'), `message: ${JSON.stringify(message)}`);
        }
        await assertAlive(c);
      } finally {
        await c.shutdown();
      }
    }));

    it('refuses missing or malformed auth with AuthError 401', T, srv.wrap(async (t, server) => {
      const c = await connectPusher(server.wsUrl());
      try {
        const base = uniqueName('noauth');
        const sig = hmacHex(APP.secret, `${c.socketId}:private-${base}`);
        const cases = [
          ['no auth field', undefined],
          ['empty auth', ''],
          ['no colon', `${APP.key}${sig}`],
          ['empty key', `:${sig}`],
          ['empty signature', `${APP.key}:`],
          ['non-string auth', 12345],
        ];
        for (const [why, auth] of cases) {
          const channel = `private-${base}`;
          const extra = auth === undefined ? {} : { auth };
          const frame = await subscribeRaw(c, channel, extra);
          assert.equal(frame.event, 'pusher:subscription_error', `${why}: ${JSON.stringify(frame)}`);
          expectSubscriptionError(frame, channel, 'AuthError', 401);
        }
        await assertAlive(c);
        await subscribeOk(c, APP, `private-${base}`);
      } finally {
        await c.shutdown();
      }
    }));

    it('pusher-js reports the server\'s refusal as pusher:subscription_error on the channel', T, srv.wrap(async (t, server) => {
      const client = createClient(server, {
        channelAuthorization: {
          customHandler: channelAuthHandler(APP, { tamper: (auth) => `${auth.slice(0, -4)}0000` }),
        },
      });
      try {
        await waitConnected(client);
        const name = `private-${uniqueName('pjs-refused')}`;
        const channel = client.subscribe(name);
        const got = deferred();
        channel.bind('pusher:subscription_error', (e) => got.resolve(e));
        channel.bind('pusher:subscription_succeeded', () => got.reject(new Error('subscription unexpectedly succeeded')));
        const err = await withTimeout(got.promise, 5000, 'pusher:subscription_error in pusher-js');
        assert.equal(err.type, 'AuthError');
        assert.equal(err.status, 401);
        assert.ok(err.error.startsWith('Invalid signature:'), JSON.stringify(err));
        assert.equal(client.connection.state, 'connected');
      } finally {
        disconnectAll([client]);
      }
    }));
  });

  describe('private-encrypted channels', () => {
    it('pusher-js decrypts what the SDK encrypted; the server relays the ciphertext untouched', T, srv.wrap(async (t, server) => {
      const client = createClient(server, {
        channelAuthorization: { customHandler: channelAuthHandler(APP, { masterKey: MASTER_KEY }) },
      });
      const raw = await connectPusher(server.wsUrl());
      try {
        await waitConnected(client);
        const name = `private-encrypted-${uniqueName('vault')}`;
        const log = await subscribe(client, name);
        await subscribeOk(raw, APP, name);
        const rest = new PusherServer({
          appId: APP.id,
          key: APP.key,
          secret: APP.secret,
          host: HOST,
          port: server.port,
          useTLS: false,
          encryptionMasterKeyBase64: MASTER_KEY.toString('base64'),
        });
        await triggerOk(rest, name, 'secret-event', { msg: 'only for you', n: 3 });
        const got = await log.waitEvent('secret-event');
        assert.deepEqual(got.data, { msg: 'only for you', n: 3 });
        const frame = await raw.nextEvent('secret-event', { channel: name });
        assert.equal(typeof frame.data, 'string');
        const box = JSON.parse(frame.data);
        assert.deepEqual(Object.keys(box).sort(), ['ciphertext', 'nonce']);
        assert.ok(!frame.data.includes('only for you'), 'the server must not see plaintext');
      } finally {
        disconnectAll([client]);
        await raw.shutdown();
      }
    }));

    it('relays any data byte for byte and checks the private signature', T, srv.wrap(async (t, server) => {
      const c = await connectPusher(server.wsUrl());
      try {
        const channel = `private-encrypted-${uniqueName('opaque')}`;
        const bad = await subscribeRaw(c, channel, { auth: privateAuth(APP, c.socketId, `${channel}x`) });
        expectSubscriptionError(bad, channel, 'AuthError', 401);
        const { auth, shared_secret: secret } = encryptedAuth(APP, c.socketId, channel, MASTER_KEY);
        assert.ok(secret);
        // The shared secret is never part of what the client sends (pusher-js deletes it).
        expectSucceeded(await subscribeRaw(c, channel, { auth }), channel);
        const data = '{"nonce":"bm90IHJlYWxseQ==","ciphertext":"c2VhbGVkIOKcqA=="}';
        const res = await postEvents(server.port, { body: { name: 'sealed', channel, data } });
        assert.equal(res.status, 200, res.body);
        const frame = await c.next((m) => m.json && m.json.event === 'sealed');
        assert.deepEqual(frame.json, { event: 'sealed', channel, data });
      } finally {
        await c.shutdown();
      }
    }));
  });

  describe('presence channels', () => {
    it('sends ids/hash/count on join, member_added to the others only, member_removed on leave, with the exact wire shapes', T, srv.wrap(async (t, server) => {
      const [a, b, c] = await openMany(server, 3);
      try {
        const channel = `presence-${uniqueName('room')}`;
        const pa = await joinPresence(a, APP, channel, '1', { name: 'Ann' });
        assert.deepEqual(pa, { ids: ['1'], hash: { 1: { name: 'Ann' } }, count: 1 });

        const pb = await joinPresence(b, APP, channel, 2, { name: 'Bob', tags: ['x'] });
        assert.deepEqual(sortedIds(pb), ['1', '2']);
        assert.deepEqual(pb.hash, { 1: { name: 'Ann' }, 2: { name: 'Bob', tags: ['x'] } });
        assert.equal(pb.count, 2);

        const added = await a.nextEvent(MEMBER_ADDED, { channel });
        assert.deepEqual(Object.keys(added).sort(), ['channel', 'data', 'event']);
        assert.equal(typeof added.data, 'string', 'member_added data must be a JSON string');
        assert.deepEqual(JSON.parse(added.data), { user_id: '2', user_info: { name: 'Bob', tags: ['x'] } });

        const pc = await joinPresence(c, APP, channel, '3');
        assert.equal(pc.count, 3);
        assert.equal(pc.hash['3'], null, 'a member without user_info is null in hash');
        for (const observer of [a, b]) {
          const f = await observer.nextEvent(MEMBER_ADDED, { channel });
          const d = JSON.parse(f.data);
          assert.equal(d.user_id, '3');
          assert.ok(d.user_info === undefined || d.user_info === null, JSON.stringify(d));
        }

        c.send({ event: 'pusher:unsubscribe', data: { channel } });
        for (const observer of [a, b]) {
          const f = await observer.nextEvent(MEMBER_REMOVED, { channel });
          assert.deepEqual(Object.keys(f).sort(), ['channel', 'data', 'event']);
          assert.equal(typeof f.data, 'string', 'member_removed data must be a JSON string');
          assert.deepEqual(JSON.parse(f.data), { user_id: '3' });
        }

        await b.shutdown();
        const gone = await a.nextEvent(MEMBER_REMOVED, { channel });
        assert.deepEqual(JSON.parse(gone.data), { user_id: '2' });

        await settle();
        for (const [who, client] of [['a', a], ['b', b], ['c', c]]) {
          const own = memberAddedOf(client, channel).filter((d) => d.user_id === { a: '1', b: '2', c: '3' }[who]);
          assert.equal(own.length, 0, `${who} must not get its own member_added`);
        }
        assert.equal(countEvents(a, MEMBER_ADDED, channel), 2);
        assert.equal(countEvents(a, MEMBER_REMOVED, channel), 2);
      } finally {
        await closeAll([a, b, c]);
      }
    }));

    it('compares user ids as strings: numeric 42 and "42" are one member', T, srv.wrap(async (t, server) => {
      const [o, x, y] = await openMany(server, 3);
      try {
        const channel = `presence-${uniqueName('numeric')}`;
        await joinPresence(o, APP, channel, 'o');
        await joinPresence(x, APP, channel, 42, { n: 1 });
        const p = await joinPresence(y, APP, channel, '42', { n: 1 });
        assert.deepEqual(sortedIds(p), ['42', 'o']);
        assert.equal(p.count, 2);
        await settle();
        assert.deepEqual(memberAddedOf(o, channel).map((d) => d.user_id), ['42']);
        x.send({ event: 'pusher:unsubscribe', data: { channel } });
        await settle();
        assert.equal(countEvents(o, MEMBER_REMOVED, channel), 0);
        await y.shutdown();
        const f = await o.nextEvent(MEMBER_REMOVED, { channel });
        assert.deepEqual(JSON.parse(f.data), { user_id: '42' });
      } finally {
        await closeAll([o, x, y]);
      }
    }));

    it('verifies the signature over channel_data exactly as sent (PHP-style escapes) and names it on failure', T, srv.wrap(async (t, server) => {
      const [o, c] = await openMany(server, 2);
      try {
        const channel = `presence-${uniqueName('escapes')}`;
        await joinPresence(o, APP, channel, 'o');
        // What pusher-php's json_encode produces: escaped slashes and \u escapes.
        const channelData = '{"user_id":"7","user_info":{"name":"Jos\\u00e9","url":"https:\\/\\/example.test\\/u\\/7"}}';
        const reencoded = JSON.stringify(JSON.parse(channelData));
        assert.notEqual(reencoded, channelData);
        // Signed over the re-encoded bytes but sending the original: refused.
        const wrong = await subscribeRaw(c, channel, {
          auth: presenceAuth(APP, c.socketId, channel, reencoded).auth,
          channel_data: channelData,
        });
        const message = expectSubscriptionError(wrong, channel, 'AuthError', 401);
        const expected = `Invalid signature: Expected HMAC SHA256 hex digest of ${c.socketId}:${channel}:${channelData}`;
        assert.ok(message.startsWith(expected), `message ${JSON.stringify(message)} should start with ${JSON.stringify(expected)}`);
        // Signed over the private string (no channel_data): refused too.
        const priv = await subscribeRaw(c, channel, { auth: privateAuth(APP, c.socketId, channel), channel_data: channelData });
        expectSubscriptionError(priv, channel, 'AuthError', 401);
        await settle(200);
        assert.equal(countEvents(o, MEMBER_ADDED, channel), 0, 'a refused joiner is not announced');

        expectSucceeded(await subscribeRaw(c, channel, presenceAuth(APP, c.socketId, channel, channelData)), channel);
        const added = await o.nextEvent(MEMBER_ADDED, { channel });
        assert.deepEqual(JSON.parse(added.data), { user_id: '7', user_info: { name: 'José', url: 'https://example.test/u/7' } });
      } finally {
        await closeAll([o, c]);
      }
    }));

    it('refuses bad channel_data with InvalidChannelData 400 and accepts the limits exactly', T, srv.wrap(async (t, server) => {
      const [o, c] = await openMany(server, 2);
      try {
        const channel = `presence-${uniqueName('limits')}`;
        await joinPresence(o, APP, channel, 'o');
        // user_info JSON of exactly n bytes: {"p":"xxx"} is 8 bytes + the padding.
        const infoOfSize = (n) => ({ p: 'x'.repeat(n - 8) });
        assert.equal(JSON.stringify(infoOfSize(1024)).length, 1024);
        const bad = [
          ['user_info over 1 KB', presenceChannelData('big', infoOfSize(1025))],
          ['user_id over 128 characters', presenceChannelData('u'.repeat(129), {})],
          ['no user_id', JSON.stringify({ user_info: { name: 'nobody' } })],
          ['empty user_id', presenceChannelData('', {})],
          ['channel_data that is not JSON', '{"user_id":"1",'],
          ['channel_data that is a JSON string', '"1"'],
        ];
        for (const [why, channelData] of bad) {
          const frame = await subscribeRaw(c, channel, presenceAuth(APP, c.socketId, channel, channelData));
          assert.equal(frame.event, 'pusher:subscription_error', `${why}: ${JSON.stringify(frame)}`);
          expectSubscriptionError(frame, channel, 'InvalidChannelData', 400);
        }
        await assertAlive(c, 'after InvalidChannelData');
        await settle(200);
        assert.equal(countEvents(o, MEMBER_ADDED, channel), 0, 'refused joiners are not announced');

        // Exactly at the limits: accepted.
        const p = await joinPresence(c, APP, channel, 'u'.repeat(128), infoOfSize(1024));
        assert.equal(p.count, 2);
        const added = await o.nextEvent(MEMBER_ADDED, { channel });
        assert.equal(JSON.parse(added.data).user_id, 'u'.repeat(128));
      } finally {
        await closeAll([o, c]);
      }
    }));

    it('refuses a member past max_presence_members with LimitReached 403 (a member\'s second connection still joins)', T, srv.wrap(async (t, server) => {
      const conns = await openMany(server, 6, SMALL.key);
      const [a, b, c, d, b2, e] = conns;
      try {
        const channel = `presence-${uniqueName('full')}`;
        await joinPresence(a, SMALL, channel, 'a');
        await joinPresence(b, SMALL, channel, 'b');
        await joinPresence(c, SMALL, channel, 'c');
        const frame = await subscribeRaw(d, channel, presenceAuth(SMALL, d.socketId, channel, presenceChannelData('d', {})));
        expectSubscriptionError(frame, channel, 'LimitReached', 403);
        await assertAlive(d, 'after LimitReached');
        const again = await joinPresence(b2, SMALL, channel, 'b');
        assert.equal(again.count, 3);
        await settle(200);
        assert.ok(!memberAddedOf(a, channel).some((m) => m.user_id === 'd'), 'the refused member is not announced');

        c.send({ event: 'pusher:unsubscribe', data: { channel } });
        await a.nextEvent(MEMBER_REMOVED, { channel });
        const p = await joinPresence(e, SMALL, channel, 'd');
        assert.equal(p.count, 3);
      } finally {
        await closeAll(conns);
      }
    }));

    it('allows 100 members by default and refuses the 101st', { timeout: 60000 }, srv.wrap(async (t, server) => {
      const conns = await openMany(server, 101);
      try {
        const channel = `presence-${uniqueName('hundred')}`;
        for (let i = 0; i < 100; i += 1) {
          await joinPresence(conns[i], APP, channel, `m${i}`);
        }
        const last = conns[100];
        const frame = await subscribeRaw(last, channel, presenceAuth(APP, last.socketId, channel, presenceChannelData('m100')));
        expectSubscriptionError(frame, channel, 'LimitReached', 403);
      } finally {
        await closeAll(conns);
      }
    }));

    it('lets a signed-in connection join without channel_data; its member comes from the signin user_data', T, srv.wrap(async (t, server) => {
      const [o, s, anon] = await openMany(server, 3);
      try {
        const channel = `presence-${uniqueName('signed')}`;
        await joinPresence(o, APP, channel, 'o');
        await signinOk(s, APP, { id: 'u-9', user_info: { name: 'Nine' } });
        const frame = await subscribeRaw(s, channel, { auth: privateAuth(APP, s.socketId, channel) });
        expectSucceeded(frame, channel);
        const p = JSON.parse(frame.data).presence;
        assert.deepEqual(sortedIds(p), ['o', 'u-9']);
        assert.deepEqual(p.hash['u-9'], { name: 'Nine' });
        const added = await o.nextEvent(MEMBER_ADDED, { channel });
        assert.deepEqual(JSON.parse(added.data), { user_id: 'u-9', user_info: { name: 'Nine' } });

        // Without a signin there is no member to take: refused.
        const refused = await subscribeRaw(anon, channel, { auth: privateAuth(APP, anon.socketId, channel) });
        assert.equal(refused.event, 'pusher:subscription_error', JSON.stringify(refused));
      } finally {
        await closeAll([o, s, anon]);
      }
    }));

    it('pusher-js: a signed-in client whose presence auth has no channel_data is a member under its user id', T, srv.wrap(async (t, server) => {
      const watcher = createClient(server, {
        channelAuthorization: { customHandler: channelAuthHandler(APP, { user: { id: 'w', info: { name: 'W' } } }) },
      });
      const member = createClient(server, {
        channelAuthorization: { customHandler: channelAuthHandler(APP, { noChannelData: true }) },
        userAuthentication: { customHandler: userAuthHandler(APP, { id: 'signed-77', user_info: { name: 'Seventy-seven' } }) },
      });
      try {
        await Promise.all([waitConnected(watcher), waitConnected(member)]);
        const channel = `presence-${uniqueName('pjs-signed')}`;
        const wlog = await subscribe(watcher, channel);
        member.signin();
        await subscribe(member, channel);
        const mchan = member.channel(channel);
        assert.equal(mchan.members.me.id, 'signed-77');
        assert.deepEqual(mchan.members.me.info, { name: 'Seventy-seven' });
        assert.equal(mchan.members.count, 2);
        const added = await wlog.waitEvent('pusher:member_added');
        assert.deepEqual(added.data, { id: 'signed-77', info: { name: 'Seventy-seven' } });
      } finally {
        disconnectAll([watcher, member]);
      }
    }));
  });

  describe('cache channels', () => {
    const PREFIXES = ['cache-', 'private-cache-', 'private-encrypted-cache-', 'presence-cache-'];

    async function subscribeAny(client, app, channel, userId) {
      if (channel.startsWith('presence-')) {
        await joinPresence(client, app, channel, userId || `u-${client.socketId}`);
      } else {
        await subscribeOk(client, app, channel);
      }
    }

    for (const prefix of PREFIXES) {
      it(`${prefix}: cache_miss first, then the last published event exactly as delivered`, T, srv.wrap(async (t, server) => {
        const conns = await openMany(server, 4);
        const [first, second, third] = conns;
        try {
          const channel = `${prefix}${uniqueName('cached')}`;
          await subscribeAny(first, APP, channel);
          const miss = await firstFrameAfterSucceeded(first, channel);
          assert.deepEqual(miss.json, { event: 'pusher:cache_miss', channel });

          // Hand-signed publishes: the SDK refuses encrypted channels without a master key,
          // and the server treats the data as opaque anyway.
          const publish = async (data) => {
            const res = await postEvents(server.port, { body: { name: 'price', channel, data } });
            assert.equal(res.status, 200, res.body);
          };
          await publish('{"price":101.5,"note":"первый"}');
          const live = await first.next((m) => m.json && m.json.event === 'price' && m.json.channel === channel);

          await subscribeAny(second, APP, channel);
          const replay = await firstFrameAfterSucceeded(second, channel);
          assert.deepEqual(replay.json, live.json, 'the replay is the delivered event');
          assert.deepEqual(Object.keys(replay.json).sort(), ['channel', 'data', 'event']);
          assert.equal(replay.text, live.text, 'the replay is byte-identical to the live delivery');

          // A newer publish replaces the cached one.
          await publish('{"price":99}');
          await first.next((m) => m.json && m.json.event === 'price' && m.json.data === '{"price":99}');
          await subscribeAny(third, APP, channel);
          const replay2 = await firstFrameAfterSucceeded(third, channel);
          assert.deepEqual(replay2.json, { event: 'price', channel, data: '{"price":99}' });
          await settle(200);
          assert.equal(framesAfterSucceeded(third, channel).filter((f) => f.json && f.json.channel === channel).length, 1,
            'exactly one replayed frame');
        } finally {
          await closeAll(conns);
        }
      }));
    }

    it('keeps the cache after the channel empties, and caches a publish to a channel nobody is subscribed to', T, srv.wrap(async (t, server) => {
      const rest = createRestClient(server);
      const a = await connectPusher(server.wsUrl());
      const channel = `cache-${uniqueName('empties')}`;
      let b;
      let c;
      try {
        await subscribeOk(a, APP, channel);
        await triggerOk(rest, channel, 'kept', { v: 1 });
        await a.nextEvent('kept', { channel });
        await a.shutdown();
        await sleep(200);
        b = await connectPusher(server.wsUrl());
        await subscribeOk(b, APP, channel);
        assert.deepEqual((await firstFrameAfterSucceeded(b, channel)).json, { event: 'kept', channel, data: '{"v":1}' });
        await b.shutdown();

        const lonely = `private-cache-${uniqueName('lonely')}`;
        await triggerOk(rest, lonely, 'while-empty', 'plain text');
        c = await connectPusher(server.wsUrl());
        await subscribeOk(c, APP, lonely);
        assert.deepEqual((await firstFrameAfterSucceeded(c, lonely)).json, { event: 'while-empty', channel: lonely, data: 'plain text' });
      } finally {
        await closeAll([a, b, c]);
      }
    }));

    it('expires the cached event after cache_ttl', T, srv.wrap(async (t, server) => {
      const rest = createRestClient(server, { appId: SMALL.id, key: SMALL.key, secret: SMALL.secret });
      const conns = await openMany(server, 2, SMALL.key);
      try {
        const channel = `cache-${uniqueName('ttl')}`;
        await triggerOk(rest, channel, 'short-lived', { v: 1 });
        await subscribeOk(conns[0], SMALL, channel);
        assert.equal((await firstFrameAfterSucceeded(conns[0], channel)).json.event, 'short-lived');
        await sleep(2300); // cache_ttl is 1 s
        await subscribeOk(conns[1], SMALL, channel);
        assert.deepEqual((await firstFrameAfterSucceeded(conns[1], channel)).json, { event: 'pusher:cache_miss', channel });
      } finally {
        await closeAll(conns);
      }
    }));

    it('replays per channel when one publish names several cache channels', T, srv.wrap(async (t, server) => {
      const c = await connectPusher(server.wsUrl());
      try {
        const one = `cache-${uniqueName('one')}`;
        const two = `cache-${uniqueName('two')}`;
        await triggerOk(createRestClient(server), [one, two], 'both', { x: 1 });
        await subscribeOk(c, APP, two);
        assert.deepEqual((await firstFrameAfterSucceeded(c, two)).json, { event: 'both', channel: two, data: '{"x":1}' });
        await subscribeOk(c, APP, one);
        assert.deepEqual((await firstFrameAfterSucceeded(c, one)).json, { event: 'both', channel: one, data: '{"x":1}' });
      } finally {
        await c.shutdown();
      }
    }));

    it('never replays on ordinary channels', T, srv.wrap(async (t, server) => {
      const c = await connectPusher(server.wsUrl());
      try {
        const channel = `plain-${uniqueName('nocache')}`;
        await triggerOk(createRestClient(server), channel, 'old', { x: 1 });
        await subscribeOk(c, APP, channel);
        await settle(300);
        assert.equal(framesAfterSucceeded(c, channel).length, 0, 'no frame after subscription_succeeded');
      } finally {
        await c.shutdown();
      }
    }));

    it('pusher-js emits pusher:cache_miss, and the cached event to a late subscriber\'s listeners', T, srv.wrap(async (t, server) => {
      const auth = { channelAuthorization: { customHandler: channelAuthHandler(APP) } };
      const first = createClient(server, auth);
      const late = createClient(server, auth);
      try {
        await Promise.all([waitConnected(first), waitConnected(late)]);
        const channel = `private-cache-${uniqueName('pjs')}`;
        const flog = await subscribe(first, channel);
        await flog.waitEvent('pusher:cache_miss');
        await triggerOk(createRestClient(server), channel, 'App\\Events\\PriceChanged', { price: 5 });
        await flog.waitEvent('App\\Events\\PriceChanged');
        const llog = await subscribe(late, channel);
        const got = await llog.waitEvent('App\\Events\\PriceChanged');
        assert.deepEqual(got.data, { price: 5 });
        assert.equal(llog.named('pusher:cache_miss').length, 0);
      } finally {
        disconnectAll([first, late]);
      }
    }));
  });
});

// A server with --debug, so the test can read which shard serves each connection.
describe('presence across shards (acceptance)', () => {
  const srvDebug = useServer({ apps: [APP], args: ['--debug'] });

  it('acceptance: two connections of one user on different shards give exactly one member_added and one member_removed', T, srvDebug.wrap(async (t, server) => {
    // 10 users, each with one connection on shard 0 and one on shard 1 (placed by reading
    // the --debug log); 2 raw observers on each shard and one pusher-js observer watch.
    const USERS = 10;
    const channel = `presence-${uniqueName('acceptance')}`;
    const [shard0, shard1] = await openOnShards(server, USERS + 2);
    const observers = [...shard0.slice(USERS), ...shard1.slice(USERS)];
    const firsts = Array.from({ length: USERS }, (_, i) => (i % 2 === 0 ? shard0[i] : shard1[i]));
    const seconds = Array.from({ length: USERS }, (_, i) => (i % 2 === 0 ? shard1[i] : shard0[i]));
    for (let i = 0; i < USERS; i += 1) assert.notEqual(firsts[i].shard, seconds[i].shard);
    const pjs = createClient(server, {
      channelAuthorization: { customHandler: channelAuthHandler(APP, { user: { id: 'pjs-observer', info: { name: 'P' } } }) },
    });
    try {
      for (let i = 0; i < observers.length; i += 1) {
        await joinPresence(observers[i], APP, channel, `observer-${i}`, { role: 'observer' });
      }
      await waitConnected(pjs);
      const pjsLog = await subscribe(pjs, channel);
      const pjsChannel = pjs.channel(channel);
      const userIds = Array.from({ length: USERS }, (_, i) => `user-${i}`);

      // Each user's first then second connection joins (users in parallel).
      await Promise.all(userIds.map(async (id, i) => {
        await joinPresence(firsts[i], APP, channel, id, { name: id });
        const second = await joinPresence(seconds[i], APP, channel, id, { name: id });
        assert.equal(second.ids.filter((x) => String(x) === id).length, 1, 'ids lists a user once');
      }));
      const isUserAdded = (j) => j.event === MEMBER_ADDED && j.channel === channel && JSON.parse(j.data).user_id.startsWith('user-');
      await waitAllHave(observers, isUserAdded, USERS, { label: 'member_added for every user' });
      await waitUntil(() => pjsChannel.members.count === 4 + 1 + USERS, { label: 'pusher-js members.count', timeout: 5000 });
      await settle();
      for (const [i, o] of observers.entries()) {
        const ids = memberAddedOf(o, channel).map((d) => d.user_id).filter((id) => id.startsWith('user-'));
        assert.deepEqual(ids.sort(), [...userIds].sort(), `observer ${i}: exactly one member_added per user`);
      }
      assert.equal(pjsLog.named('pusher:member_added').length, USERS);

      // The late joiner sees each user once.
      const late = await connectPusher(server.wsUrl());
      try {
        const p = await joinPresence(late, APP, channel, 'late', {});
        assert.equal(p.count, 4 + 1 + USERS + 1);
        assert.equal(new Set(p.ids.map(String)).size, p.ids.length, 'ids are unique');
        late.send({ event: 'pusher:unsubscribe', data: { channel } });
        await waitAllHave(observers, (j) => j.event === MEMBER_REMOVED && j.data.includes('"late"'), 1);
      } finally {
        await late.shutdown();
      }

      // First connections leave: half unsubscribe, half disconnect. Nobody is removed.
      for (let i = 0; i < USERS; i += 1) {
        if (i % 2 === 0) firsts[i].send({ event: 'pusher:unsubscribe', data: { channel } });
        else firsts[i].close();
      }
      await Promise.all(firsts.filter((_, i) => i % 2 === 1).map((c) => c.waitClose(3000).catch(() => null)));
      await settle(600);
      const isUserRemoved = (j) => j.event === MEMBER_REMOVED && j.channel === channel && JSON.parse(j.data).user_id.startsWith('user-');
      for (const [i, o] of observers.entries()) {
        assert.equal(framesWhere(o, isUserRemoved).length, 0, `observer ${i}: no member_removed while a connection remains`);
      }
      assert.equal(pjsChannel.members.count, 4 + 1 + USERS);

      // Second connections leave the other way round: now each user is removed exactly once.
      for (let i = 0; i < USERS; i += 1) {
        if (i % 2 === 1) seconds[i].send({ event: 'pusher:unsubscribe', data: { channel } });
        else seconds[i].close();
      }
      await waitAllHave(observers, isUserRemoved, USERS, { label: 'member_removed for every user' });
      await settle();
      for (const [i, o] of observers.entries()) {
        const ids = memberRemovedOf(o, channel).map((d) => d.user_id).filter((id) => id.startsWith('user-'));
        assert.deepEqual(ids.sort(), [...userIds].sort(), `observer ${i}: exactly one member_removed per user`);
      }
      assert.equal(pjsLog.named('pusher:member_removed').filter((e) => e.data.id.startsWith('user-')).length, USERS);
      assert.equal(pjsChannel.members.count, 4 + 1);
    } finally {
      disconnectAll([pjs]);
      await closeAll([...observers, ...firsts, ...seconds]);
    }
  }));
});
