'use strict';

// Per-app limits from the JSON config (each crossed, with the exact error), soketi's names for
// them, and the single app configured by Reverb's REVERB_* variables (environment and --env).

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { describe, it, before, after } = require('node:test');
const { useServerReported: useServer } = require('./lib/api');
const { connectPusher, closeAll } = require('./lib/ws');
const { shardOf, openOnShards } = require('./lib/shards');
const { createRestClient } = require('./lib/pusher');
const { presenceAuth, presenceChannelData } = require('./lib/auth');
const {
  subscribeOk,
  subscribeRaw,
  joinPresence,
  expectSubscriptionError,
  expectPusherError,
  assertAlive,
  countEvents,
  settle,
} = require('./lib/proto');
const { apiRequest, assertJsonError, assertJsonOk, sdk, expectRefusedWs, startOfSecond, pollValue } = require('./lib/api');
const { uniqueName, sleep } = require('./lib/util');

const T = { timeout: 20000 };

const ORIGIN_APP = { id: 'origins', key: 'origins-key', secret: 'origins-secret', allowed_origins: ['example.com', '*.example.org'] };
const CONN_APP = { id: 'conns', key: 'conns-key', secret: 'conns-secret', max_connections: 6 };
const API_APP = {
  id: 'api',
  key: 'api-key',
  secret: 'api-secret',
  max_event_payload_bytes: 100,
  max_event_channels: 3,
  max_event_name_length: 20,
  max_channel_name_length: 30,
  max_batch_size: 3,
};
const MSG_APP = { id: 'msg', key: 'msg-key', secret: 'msg-secret', max_message_size: 500 };
const SUBS_APP = { id: 'subs', key: 'subs-key', secret: 'subs-secret', max_subscriptions_per_connection: 5 };
const PRESENCE_APP = { id: 'presence', key: 'presence-key', secret: 'presence-secret', max_presence_members: 3, max_presence_member_size: 100 };
const CLIENT_APP = { id: 'client', key: 'client-key', secret: 'client-secret', max_client_events_per_second: 3 };
const NOCLIENT_APP = { id: 'noclient', key: 'noclient-key', secret: 'noclient-secret', accept_client_events_from: 'none' };
const BACKEND_APP = { id: 'backend', key: 'backend-key', secret: 'backend-secret', max_backend_events_per_second: 5 };
const READ_APP = { id: 'read', key: 'read-key', secret: 'read-secret', max_read_requests_per_second: 3 };
const RATE_APP = { id: 'rate', key: 'rate-key', secret: 'rate-secret', rate_limiting: { enabled: true, max_attempts: 3, decay_seconds: 60 } };
const RATE_TERM_APP = {
  id: 'rate-term',
  key: 'rate-term-key',
  secret: 'rate-term-secret',
  rate_limiting: { enabled: true, max_attempts: 3, decay_seconds: 60, terminate_on_limit: true },
};

// A pusher:ping message padded to exactly `size` bytes.
function paddedPing(size) {
  const empty = JSON.stringify({ event: 'pusher:ping', data: { pad: '' } });
  const msg = JSON.stringify({ event: 'pusher:ping', data: { pad: 'x'.repeat(size - empty.length) } });
  assert.equal(Buffer.byteLength(msg), size);
  return msg;
}

async function pingPong(c, why = '') {
  c.send({ event: 'pusher:ping', data: {} });
  const pong = await c.nextEvent('pusher:pong', { timeout: 3000 });
  assert.equal(pong.event, 'pusher:pong', why);
}

// Opens connections one at a time until exactly `perShard` sit on each of the 2 shards, closing
// any that land on a full shard (so that at most perShard*2 + 1 are ever open).
async function openBalanced(server, key, perShard, maxAttempts = 60) {
  const byShard = [[], []];
  for (let attempt = 0; byShard[0].length < perShard || byShard[1].length < perShard; attempt += 1) {
    if (attempt >= maxAttempts) {
      await closeAll(byShard.flat());
      throw new Error(`${maxAttempts} connections did not give ${perShard} per shard`);
    }
    const c = await connectAfterClose(server, key);
    c.shard = await shardOf(server, c.socketId);
    if (byShard[c.shard].length < perShard) byShard[c.shard].push(c);
    else await c.shutdown();
  }
  return byShard;
}

// connectPusher, for an app at its max_connections just after one of its connections was shut
// down here: the client sees the close before the server has counted it (the server frees the
// slot when the peer's FIN arrives), so a 4004 in that moment is retried for up to 3 s.
async function connectAfterClose(server, key) {
  const deadline = Date.now() + 3000;
  for (;;) {
    try {
      return await connectPusher(server.wsUrl(key));
    } catch (err) {
      if (!/4004/.test(String(err && err.message)) || Date.now() >= deadline) throw err;
      await sleep(50);
    }
  }
}

// Signs and sends a presence subscription for userId with userInfo; resolves with the answer.
function presenceSubscribe(c, app, channel, userId, userInfo) {
  const channelData = presenceChannelData(userId, userInfo);
  return subscribeRaw(c, channel, presenceAuth(app, c.socketId, channel, channelData));
}

describe('per-app limits (JSON config)', () => {
  const srv = useServer({
    apps: [ORIGIN_APP, CONN_APP, API_APP, MSG_APP, SUBS_APP, PRESENCE_APP, CLIENT_APP, NOCLIENT_APP, BACKEND_APP, READ_APP, RATE_APP, RATE_TERM_APP],
    args: ['--debug'],
  });

  describe('max_subscriptions_per_connection 5', () => {
    it('refuses the 6th channel with LimitReached (403), frees a place on unsubscribe, and a subscriber alongside gets every event', T, srv.wrap(async (t, server) => {
      const rest = createRestClient(server, { appId: SUBS_APP.id, key: SUBS_APP.key, secret: SUBS_APP.secret });
      const watched = uniqueName('watched');
      const healthy = await connectPusher(server.wsUrl(SUBS_APP.key));
      const greedy = await connectPusher(server.wsUrl(SUBS_APP.key));
      try {
        await healthy.subscribe(watched);
        const names = [];
        for (let i = 0; i < 5; i += 1) {
          names.push(uniqueName(`many-${i}`));
          await subscribeOk(greedy, SUBS_APP, names[i]);
        }
        const sixth = uniqueName('sixth');
        const refused = await subscribeRaw(greedy, sixth);
        expectSubscriptionError(refused, sixth, 'LimitReached', 403);
        assert.match(refused.data.error, /maximum of 5 channels/);
        greedy.send({ event: 'pusher:unsubscribe', data: { channel: names[0] } });
        await subscribeOk(greedy, SUBS_APP, sixth);
        await pingPong(greedy, 'the greedy connection stays open');
        await rest.trigger(watched, 'delivered', { n: 1 });
        await healthy.nextEvent('delivered', { channel: watched });
      } finally {
        await closeAll([healthy, greedy]);
      }
    }));
  });

  describe('allowed_origins ["example.com", "*.example.org"]', () => {
    it('refuses other origins with pusher:error 4009 "Origin not allowed" and close 4009', T, srv.wrap(async (t, server) => {
      for (const origin of ['https://evil.com', 'https://example.org', 'https://example.com.evil.com', 'https://notexample.com', 'https://app.example.org.evil.net']) {
        const { error } = await expectRefusedWs(server.wsUrl(ORIGIN_APP.key), 4009, { headers: { Origin: origin }, match: 'Origin not allowed' });
        assert.ok(error, origin);
      }
    }));

    it('accepts matching origins (any scheme and port) and connections without an Origin header', T, srv.wrap(async (t, server) => {
      const ok = [];
      try {
        for (const origin of ['https://app.example.org', 'http://example.com:8080', 'https://example.com', 'http://a.b.example.org:3000', undefined]) {
          const c = await connectPusher(server.wsUrl(ORIGIN_APP.key), { headers: origin ? { Origin: origin } : undefined });
          ok.push(c);
          await assertAlive(c, `origin ${origin}`);
        }
      } finally {
        await closeAll(ok);
      }
    }));
  });

  describe('max_connections 6', () => {
    it('refuses the 7th connection across both shards with 4004; accepts a new one after one closes', T, srv.wrap(async (t, server) => {
      const rest = createRestClient(server, { appId: CONN_APP.id, key: CONN_APP.key, secret: CONN_APP.secret });
      const byShard = await openBalanced(server, CONN_APP.key, 3);
      const open = byShard.flat();
      try {
        assertJsonOk(await pollValue(() => sdk(rest.get({ path: '/connections' })), (r) => r.json && r.json.connections === 6), { connections: 6 });
        // Several attempts, so that both shards refuse (the kernel picks the shard).
        for (let i = 0; i < 4; i += 1) {
          const { error } = await expectRefusedWs(server.wsUrl(CONN_APP.key), 4004);
          assert.ok(error.data.message.length > 0);
        }
        for (const c of open) await assertAlive(c, 'existing connections are untouched by refusals');
        assertJsonOk(await sdk(rest.get({ path: '/connections' })), { connections: 6 }, 'refused connections are not counted');

        // Close one; a new connection is then accepted (allow the server a moment to count the close).
        const gone = byShard[0].shift();
        await gone.shutdown();
        open.splice(open.indexOf(gone), 1);
        let replacement = null;
        let lastError = null;
        const deadline = Date.now() + 3000;
        while (!replacement && Date.now() < deadline) {
          try {
            replacement = await connectPusher(server.wsUrl(CONN_APP.key));
          } catch (err) {
            lastError = err;
            await sleep(100);
          }
        }
        assert.ok(replacement, `no connection accepted after one of 6 closed: ${lastError && lastError.message}`);
        open.push(replacement);
        await expectRefusedWs(server.wsUrl(CONN_APP.key), 4004);
      } finally {
        await closeAll(open);
      }
    }));
  });

  describe('HTTP publish limits', () => {
    let rest;
    let sub;
    before(async () => {
      rest = createRestClient(srv.server, { appId: API_APP.id, key: API_APP.key, secret: API_APP.secret });
      sub = await connectPusher(srv.server.wsUrl(API_APP.key));
    });
    after(() => closeAll([sub]));

    it('max_event_payload_bytes 100: 100 bytes pass, 101 bytes (or 51 two-byte characters) answer 413', T, srv.wrap(async (t, server) => {
      const ch = uniqueName('pl');
      await subscribeOk(sub, API_APP, ch);
      assertJsonOk(await sdk(rest.trigger(ch, 'fits', 'x'.repeat(100))), {});
      assertJsonError(await sdk(rest.trigger(ch, 'big', 'x'.repeat(101))), 413, '100', '101 bytes');
      assertJsonError(await sdk(rest.trigger(ch, 'big', 'é'.repeat(51))), 413, '100', '51 x "é" = 102 bytes');
      const batch = await sdk(rest.triggerBatch([{ channel: ch, name: 'ok', data: 'x' }, { channel: ch, name: 'big', data: 'y'.repeat(101) }]));
      const msg = assertJsonError(batch, 413, '100', 'batch with one oversized event');
      assert.ok(msg.startsWith('batch[1]: '), msg);
      await sub.nextEvent('fits', { channel: ch });
      await settle(200);
      assert.equal(countEvents(sub, 'big', ch), 0);
      assert.equal(countEvents(sub, 'ok', ch), 0, 'nothing of a refused batch is published');
    }));

    it('max_event_channels 3: 3 channels pass, 4 answer 400', T, srv.wrap(async () => {
      const chs = [1, 2, 3, 4].map(() => uniqueName('ch'));
      assertJsonOk(await sdk(rest.trigger(chs.slice(0, 3), 'three', 'x')), {});
      assertJsonError(await sdk(rest.trigger(chs, 'four', 'x')), 400, '3', '4 channels');
    }));

    it('max_event_name_length 20: 20 characters pass, 21 answer 400', T, srv.wrap(async () => {
      const ch = uniqueName('nm');
      assertJsonOk(await sdk(rest.trigger(ch, 'e'.repeat(20), 'x')), {});
      assertJsonError(await sdk(rest.trigger(ch, 'e'.repeat(21), 'x')), 400, '20', '21-character name');
      const batch = await sdk(rest.triggerBatch([{ channel: ch, name: 'e'.repeat(21), data: 'x' }]));
      assert.ok(assertJsonError(batch, 400, '20', 'batch').startsWith('batch[0]: '));
    }));

    it('max_channel_name_length 30: subscribing to 31 characters is InvalidChannel, publishing to it 400', T, srv.wrap(async (t, server) => {
      const base = uniqueName('n').slice(0, 10);
      const ok = base + 'a'.repeat(30 - base.length);
      const long = base + 'a'.repeat(31 - base.length);
      assert.equal(ok.length, 30);
      assert.equal(long.length, 31);
      await subscribeOk(sub, API_APP, ok);
      const frame = await subscribeRaw(sub, long);
      expectSubscriptionError(frame, long, 'InvalidChannel', 400);
      await assertAlive(sub, 'after InvalidChannel');
      assertJsonOk(await sdk(rest.trigger(ok, 'ev', 'x')), {});
      await sub.nextEvent('ev', { channel: ok });
      assertJsonError(await sdk(rest.trigger(long, 'ev', 'x')), 400, undefined, 'publish to 31 characters');
      assertJsonError(await sdk(rest.trigger([ok, long], 'ev', 'x')), 400, undefined, 'publish to 30 and 31 characters');
      assertJsonError(await apiRequest(server.port, { method: 'POST', app: API_APP, endpoint: '/events', body: { name: 'ev', data: 'x', channel: long } }), 400, undefined, 'PHP shape');
    }));

    it('max_batch_size 3: 3 events pass, 4 answer 400 naming the limit', T, srv.wrap(async () => {
      const ch = uniqueName('bt');
      const ev = (i) => ({ channel: ch, name: `e${i}`, data: 'x' });
      assertJsonOk(await sdk(rest.triggerBatch([0, 1, 2].map(ev))), {});
      const msg = assertJsonError(await sdk(rest.triggerBatch([0, 1, 2, 3].map(ev))), 400, '3', '4 events');
      assert.ok(/\b3\b/.test(msg), msg);
    }));
  });

  describe('max_message_size 500', () => {
    it('answers a 500-byte message and closes with 1009 on 501 bytes', T, srv.wrap(async (t, server) => {
      const c = await connectPusher(server.wsUrl(MSG_APP.key));
      try {
        c.send(paddedPing(500));
        await c.nextEvent('pusher:pong', { timeout: 3000 });
        c.send(paddedPing(501));
        const close = await c.waitClose(5000);
        assert.equal(close.code, 1009, `close after a 501-byte message: ${JSON.stringify(close)}`);
      } finally {
        c.ws.terminate();
      }
    }));
  });

  describe('presence limits', () => {
    it('max_presence_members 3: a 4th user gets pusher:subscription_error LimitReached 403 (members on both shards)', T, srv.wrap(async (t, server) => {
      const byShard = await openOnShards(server, 2, { key: PRESENCE_APP.key });
      const [a, b] = byShard[0];
      const [c, d] = byShard[1];
      try {
        const ch = `presence-${uniqueName('max')}`;
        await joinPresence(a, PRESENCE_APP, ch, 'm1');
        await joinPresence(c, PRESENCE_APP, ch, 'm2');
        await joinPresence(b, PRESENCE_APP, ch, 'm3');
        const frame = await presenceSubscribe(d, PRESENCE_APP, ch, 'm4');
        expectSubscriptionError(frame, ch, 'LimitReached', 403);
        await assertAlive(d, 'after LimitReached');
        const rest = createRestClient(server, { appId: PRESENCE_APP.id, key: PRESENCE_APP.key, secret: PRESENCE_APP.secret });
        const users = assertJsonOk(await sdk(rest.get({ path: `/channels/${ch}/users` })));
        assert.deepEqual(users.users.map((u) => u.id).sort(), ['m1', 'm2', 'm3']);
        // A place frees up when a member leaves.
        b.send({ event: 'pusher:unsubscribe', data: { channel: ch } });
        const again = await pollValue(async () => {
          const f = await presenceSubscribe(d, PRESENCE_APP, ch, 'm4');
          return f;
        }, (f) => f.event === 'pusher_internal:subscription_succeeded', { timeout: 3000, interval: 100 });
        assert.equal(again.event, 'pusher_internal:subscription_succeeded', `after a member left: ${JSON.stringify(again)}`);
      } finally {
        await closeAll(byShard.flat());
      }
    }));

    it('max_presence_member_size 100: user_info of 100 bytes joins, 101 bytes is InvalidChannelData 400', T, srv.wrap(async (t, server) => {
      const c = await connectPusher(server.wsUrl(PRESENCE_APP.key));
      try {
        const ch = `presence-${uniqueName('size')}`;
        const info = (n) => ({ n: 'x'.repeat(n) });
        assert.equal(JSON.stringify(info(92)).length, 100);
        const ok = await presenceSubscribe(c, PRESENCE_APP, ch, 's1', info(92));
        assert.equal(ok.event, 'pusher_internal:subscription_succeeded', JSON.stringify(ok));
        const ch2 = `presence-${uniqueName('size')}`;
        const frame = await presenceSubscribe(c, PRESENCE_APP, ch2, 's1', info(93));
        expectSubscriptionError(frame, ch2, 'InvalidChannelData', 400);
      } finally {
        await closeAll([c]);
      }
    }));
  });

  describe('client events', () => {
    it('max_client_events_per_second 3: the 4th in a second gets pusher:error 4301 and is not relayed', T, srv.wrap(async (t, server) => {
      const [sender, receiver] = await Promise.all([connectPusher(server.wsUrl(CLIENT_APP.key)), connectPusher(server.wsUrl(CLIENT_APP.key))]);
      try {
        const ch = `private-${uniqueName('ce')}`;
        await subscribeOk(sender, CLIENT_APP, ch);
        await subscribeOk(receiver, CLIENT_APP, ch);
        await startOfSecond(300);
        for (let i = 0; i < 4; i += 1) sender.send({ event: 'client-burst', channel: ch, data: { i } });
        expectPusherError(await sender.nextEvent('pusher:error'), 4301, 'for the 4th client event');
        await settle(400);
        assert.equal(countEvents(receiver, 'client-burst', ch), 3, 'exactly 3 client events relayed');
        await assertAlive(sender, 'after 4301');
        await sleep(1100);
        sender.send({ event: 'client-later', channel: ch, data: {} });
        await receiver.nextEvent('client-later', { channel: ch });
      } finally {
        await closeAll([sender, receiver]);
      }
    }));

    it('accept_client_events_from "none": a client event gets pusher:error 4301 and is not relayed', T, srv.wrap(async (t, server) => {
      const [sender, receiver] = await Promise.all([connectPusher(server.wsUrl(NOCLIENT_APP.key)), connectPusher(server.wsUrl(NOCLIENT_APP.key))]);
      try {
        const ch = `private-${uniqueName('none')}`;
        await subscribeOk(sender, NOCLIENT_APP, ch);
        await subscribeOk(receiver, NOCLIENT_APP, ch);
        sender.send({ event: 'client-x', channel: ch, data: {} });
        expectPusherError(await sender.nextEvent('pusher:error'), 4301, 'for a client event');
        await settle(300);
        assert.equal(countEvents(receiver, 'client-x', ch), 0);
        await assertAlive(sender);
      } finally {
        await closeAll([sender, receiver]);
      }
    }));
  });

  describe('HTTP API rates', () => {
    it('max_backend_events_per_second 5: a 6th event in the same second (batch entries count) answers 429', T, srv.wrap(async (t, server) => {
      const rest = createRestClient(server, { appId: BACKEND_APP.id, key: BACKEND_APP.key, secret: BACKEND_APP.secret });
      const sub = await connectPusher(server.wsUrl(BACKEND_APP.key));
      try {
        const ch = uniqueName('be');
        await subscribeOk(sub, BACKEND_APP, ch);
        const ev = (name) => ({ channel: ch, name, data: 'x' });
        let second = await startOfSecond();
        const r1 = await sdk(rest.triggerBatch([ev('a1'), ev('a2'), ev('a3')]));
        const r2 = await sdk(rest.triggerBatch([ev('a4'), ev('a5')]));
        const r3 = await sdk(rest.trigger(ch, 'a6', 'x'));
        assert.equal(Math.floor(Date.now() / 1000), second, 'the requests did not fit in one second; rerun');
        assertJsonOk(r1, {}, '3 events');
        assertJsonOk(r2, {}, '2 more events (5 in the second)');
        assertJsonError(r3, 429, undefined, 'a 6th event in the same second');

        second = await startOfSecond(150, second);
        // 6 entries (within the default max_batch_size of 10) in one request are over the rate.
        const r4 = await sdk(rest.triggerBatch([ev('b1'), ev('b2'), ev('b3'), ev('b4'), ev('b5'), ev('b6')]));
        assert.equal(Math.floor(Date.now() / 1000), second, 'the request did not fit in one second; rerun');
        assertJsonError(r4, 429, undefined, 'a batch of 6 events in a fresh second');

        await startOfSecond(150, second);
        assertJsonOk(await sdk(rest.trigger(ch, 'c1', 'x')), {}, 'the next second');
        await sub.nextEvent('c1', { channel: ch });
        await settle(200);
        const got = sub.frames.filter((f) => f.json && f.json.channel === ch && /^[abc]\d$/.test(f.json.event)).map((f) => f.json.event);
        assert.deepEqual(got, ['a1', 'a2', 'a3', 'a4', 'a5', 'c1'], 'only accepted events are delivered');
      } finally {
        await closeAll([sub]);
      }
    }));

    it('max_read_requests_per_second 3: a 4th GET in the same second answers 429; POSTs do not count', T, srv.wrap(async (t, server) => {
      const rest = createRestClient(server, { appId: READ_APP.id, key: READ_APP.key, secret: READ_APP.secret });
      const second = await startOfSecond();
      const results = [
        await sdk(rest.get({ path: '/channels' })),
        await sdk(rest.trigger(uniqueName('r'), 'post', 'x')),
        await sdk(rest.get({ path: '/connections' })),
        await sdk(rest.get({ path: `/channels/${uniqueName('r')}` })),
        await sdk(rest.get({ path: '/channels' })),
        await sdk(rest.trigger(uniqueName('r'), 'post', 'x')),
      ];
      assert.equal(Math.floor(Date.now() / 1000), second, 'the requests did not fit in one second; rerun');
      assertJsonOk(results[0], { channels: {} }, 'GET 1');
      assertJsonOk(results[1], {}, 'POST');
      assertJsonOk(results[2], { connections: 0 }, 'GET 2');
      assertJsonOk(results[3], { occupied: false }, 'GET 3');
      assertJsonError(results[4], 429, undefined, 'GET 4');
      assertJsonOk(results[5], {}, 'POST after the GET limit');
      await startOfSecond(150, second);
      assertJsonOk(await sdk(rest.get({ path: '/connections' })), { connections: 0 }, 'GET in the next second');
    }));
  });

  describe('rate_limiting (Reverb)', () => {
    it('max_attempts 3: the 4th inbound message gets pusher:error 4301 "Rate limit exceeded"; the connection stays open', T, srv.wrap(async (t, server) => {
      const c = await connectPusher(server.wsUrl(RATE_APP.key));
      try {
        for (let i = 0; i < 3; i += 1) await pingPong(c, `ping ${i + 1}`);
        c.send({ event: 'pusher:ping', data: {} });
        const err = await c.nextEvent('pusher:error');
        const msg = expectPusherError(err, 4301, 'for the 4th message');
        assert.equal(msg, 'Rate limit exceeded');
        const pong = await c.noMessage((m) => m.json && m.json.event === 'pusher:pong', 400);
        assert.equal(pong, null, 'the limited message must not be handled');
        assert.ok(c.isOpen, `connection closed: ${JSON.stringify(c.closeInfo)}`);
        assert.equal(c.closeInfo, null);
      } finally {
        await closeAll([c]);
      }
    }));

    it('terminate_on_limit: the 4th inbound message closes the connection with 4301', T, srv.wrap(async (t, server) => {
      const c = await connectPusher(server.wsUrl(RATE_TERM_APP.key));
      try {
        for (let i = 0; i < 3; i += 1) await pingPong(c, `ping ${i + 1}`);
        c.send({ event: 'pusher:ping', data: {} });
        const close = await c.waitClose(5000);
        assert.equal(close.code, 4301, `close: ${JSON.stringify(close)}`);
      } finally {
        c.ws.terminate();
      }
    }));
  });
});

describe('per-app limits under soketi\'s names', () => {
  // camelCase (soketi's SQL/DynamoDB columns) on one app, soketi's snake_case on the other.
  const CAMEL = { id: 'camel', key: 'camel-key', secret: 'camel-secret', maxConnections: 2, enableClientMessages: false };
  const SNAKE = {
    id: 'snake',
    key: 'snake-key',
    secret: 'snake-secret',
    max_event_payload_in_kb: 1,
    max_presence_members_per_channel: 2,
    max_event_batch_size: 2,
    enable_client_messages: true,
  };
  const srv = useServer({ apps: [CAMEL, SNAKE] });

  it('maxConnections 2 refuses the 3rd connection with 4004; enableClientMessages false refuses client events with 4301', T, srv.wrap(async (t, server) => {
    const a = await connectPusher(server.wsUrl(CAMEL.key));
    const b = await connectPusher(server.wsUrl(CAMEL.key));
    try {
      await expectRefusedWs(server.wsUrl(CAMEL.key), 4004);
      const ch = `private-${uniqueName('camel')}`;
      await subscribeOk(a, CAMEL, ch);
      await subscribeOk(b, CAMEL, ch);
      a.send({ event: 'client-x', channel: ch, data: {} });
      expectPusherError(await a.nextEvent('pusher:error'), 4301, 'client event with enableClientMessages false');
      await settle(300);
      assert.equal(countEvents(b, 'client-x', ch), 0);
    } finally {
      await closeAll([a, b]);
    }
  }));

  it('max_event_payload_in_kb 1 (1024 bytes), max_presence_members_per_channel 2, max_event_batch_size 2, enable_client_messages true', T, srv.wrap(async (t, server) => {
    const rest = createRestClient(server, { appId: SNAKE.id, key: SNAKE.key, secret: SNAKE.secret });
    const ch = uniqueName('snake');
    assertJsonOk(await sdk(rest.trigger(ch, 'fits', 'x'.repeat(1024))), {}, '1024 bytes');
    assertJsonError(await sdk(rest.trigger(ch, 'big', 'x'.repeat(1025))), 413, undefined, '1025 bytes');
    assertJsonOk(await sdk(rest.triggerBatch([{ channel: ch, name: 'a', data: 'x' }, { channel: ch, name: 'b', data: 'x' }])), {}, 'batch of 2');
    assertJsonError(await sdk(rest.triggerBatch([1, 2, 3].map((i) => ({ channel: ch, name: `e${i}`, data: 'x' })))), 400, '2', 'batch of 3');
    const conns = await Promise.all([1, 2, 3].map(() => connectPusher(server.wsUrl(SNAKE.key))));
    try {
      const pres = `presence-${uniqueName('snake')}`;
      await joinPresence(conns[0], SNAKE, pres, 'p1');
      await joinPresence(conns[1], SNAKE, pres, 'p2');
      expectSubscriptionError(await presenceSubscribe(conns[2], SNAKE, pres, 'p3'), pres, 'LimitReached', 403);
      // Client events are on: a member's whisper reaches the other member.
      conns[0].send({ event: 'client-hi', channel: pres, data: {} });
      await conns[1].nextEvent('client-hi', { channel: pres });
    } finally {
      await closeAll(conns);
    }
  }));
});

// Reverb's single-app settings from REVERB_* variables, as a Laravel .env sets them.
const REVERB_ENV = {
  REVERB_APP_ID: '482913',
  REVERB_APP_KEY: 'kq1xyzenvkey0000abcd',
  REVERB_APP_SECRET: 'zq9envsecret0000wxyz',
  REVERB_APP_MAX_CONNECTIONS: '2',
  REVERB_APP_MAX_MESSAGE_SIZE: '300',
  REVERB_APP_ACCEPT_CLIENT_EVENTS_FROM: 'none',
  REVERB_APP_ACTIVITY_TIMEOUT: '42',
  REVERB_SERVER_PATH: '/reverb',
};
const ENV_APP = { id: REVERB_ENV.REVERB_APP_ID, key: REVERB_ENV.REVERB_APP_KEY, secret: REVERB_ENV.REVERB_APP_SECRET };

// The same checks for both ways of passing the variables.
async function checkReverbApp(server, { activityTimeout }) {
  const prefix = '/reverb';
  const url = server.wsUrl(ENV_APP.key, undefined, prefix);
  const a = await connectPusher(url);
  const b = await connectPusher(url);
  const open = [a, b];
  try {
    assert.equal(a.established.activity_timeout, activityTimeout, `connection_established: ${JSON.stringify(a.established)}`);
    // REVERB_APP_MAX_CONNECTIONS=2
    await expectRefusedWs(url, 4004);
    // The API answers under the path, for this app id, signed with this secret (PHP shape).
    const ch = `private-${uniqueName('env')}`;
    await subscribeOk(a, ENV_APP, ch);
    await subscribeOk(b, ENV_APP, ch);
    assertJsonOk(await apiRequest(server.port, { method: 'POST', app: ENV_APP, prefix, endpoint: '/events', body: { name: 'from-api', data: 'd', channel: ch } }), {}, 'publish');
    await a.nextEvent('from-api', { channel: ch });
    assertJsonOk(await apiRequest(server.port, { app: ENV_APP, prefix, endpoint: '/connections' }), { connections: 2 }, 'connections');
    assertJsonError(await apiRequest(server.port, { app: { id: 'app-id', key: 'app-key', secret: 'app-secret' }, prefix, endpoint: '/connections' }), 404, undefined, 'the development default app must not exist');
    // REVERB_APP_ACCEPT_CLIENT_EVENTS_FROM=none
    a.send({ event: 'client-x', channel: ch, data: {} });
    expectPusherError(await a.nextEvent('pusher:error'), 4301, 'client event with accept_client_events_from none');
    // REVERB_APP_MAX_MESSAGE_SIZE=300
    b.send(paddedPing(300));
    await b.nextEvent('pusher:pong', { timeout: 3000 });
    b.send(paddedPing(301));
    const close = await b.waitClose(5000);
    assert.equal(close.code, 1009, `close after 301 bytes: ${JSON.stringify(close)}`);
    // The closed connection frees its place.
    const c = await pollValue(async () => {
      try {
        return await connectPusher(url);
      } catch {
        return null;
      }
    }, (x) => x !== null, { timeout: 3000, interval: 100 });
    assert.ok(c, 'a new connection should be accepted after one of the two closed');
    open.push(c);
  } finally {
    await closeAll(open);
  }
}

describe('Reverb REVERB_* variables for the single app (no --config)', () => {
  const srv = useServer({ noConfig: true, env: REVERB_ENV, pathPrefix: '/reverb' });

  it('from the process environment: id/key/secret, max connections, max message size, client events, activity timeout, server path', T, srv.wrap(async (t, server) => {
    await checkReverbApp(server, { activityTimeout: 42 });
  }));
});

describe('Reverb REVERB_* variables from a .env file (--env FILE)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringcast-e2e-env-'));
  const envFile = path.join(dir, '.env');
  // A Laravel-style .env: comments, quotes, unrelated variables, and the client-side REVERB_HOST,
  // REVERB_PORT and REVERB_SCHEME, which the server must not bind to.
  fs.writeFileSync(envFile, [
    'APP_NAME=Laravel',
    'APP_ENV=local',
    '',
    '# Broadcasting',
    'BROADCAST_CONNECTION=reverb',
    ...Object.entries(REVERB_ENV).map(([k, v]) => (k === 'REVERB_APP_KEY' ? `${k}="${v}"` : `${k}=${v}`)),
    'REVERB_HOST="localhost"',
    'REVERB_PORT=8080',
    'REVERB_SCHEME=http',
    '',
    'VITE_REVERB_APP_KEY="${REVERB_APP_KEY}"',
    '',
  ].join('\n'));
  // The process environment wins over the file (as in Laravel): 55, not 42.
  const srv = useServer({ noConfig: true, args: ['--env', envFile], env: { REVERB_APP_ACTIVITY_TIMEOUT: '55' }, pathPrefix: '/reverb' });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads the same settings from the file; the process environment overrides it', T, srv.wrap(async (t, server) => {
    await checkReverbApp(server, { activityTimeout: 55 });
  }));
});
