'use strict';

// Client events (whispers, spec §1.10): relay on private and presence channels to every other
// subscriber on both shards, the exact relayed frame (user_id on presence), refusals, the
// per-connection rate limit, and Reverb's accept_client_events_from modes.

const assert = require('node:assert/strict');
const { describe, it } = require('node:test');
const { useServer, DEFAULT_APP } = require('./lib/server');
const { closeAll } = require('./lib/ws');
const { createClient, waitConnected, subscribe, disconnectAll, createRestClient, triggerOk } = require('./lib/pusher');
const { channelAuthHandler, privateAuth } = require('./lib/auth');
const {
  openMany,
  subscribeOk,
  subscribeRaw,
  expectSucceeded,
  joinPresence,
  signinOk,
  expectPusherError,
  assertAlive,
  framesWhere,
  waitAllHave,
  settle,
} = require('./lib/proto');
const { uniqueName, sleep, waitUntil, withTimeout } = require('./lib/util');
const { openOnShards } = require('./lib/shards');

const T = { timeout: 30000 };

const APP = DEFAULT_APP; // accept_client_events_from defaults to "members"
const ALL = { ...DEFAULT_APP, id: '2', key: 'all-key', secret: 'all-secret', accept_client_events_from: 'all' };
const NONE = { ...DEFAULT_APP, id: '3', key: 'none-key', secret: 'none-secret', accept_client_events_from: 'none' };
const SLOW = { ...DEFAULT_APP, id: '4', key: 'slow-key', secret: 'slow-secret', max_client_events_per_second: 2 };
const MEMBERS = { ...DEFAULT_APP, id: '5', key: 'members-key', secret: 'members-secret', accept_client_events_from: 'members' };

const NOT_SUBSCRIBED_PREFIX = 'Cannot broadcast client event (connection not subscribed to channel ';

function whisper(client, channel, event, data) {
  client.send({ event, channel, data });
}

function clientEventsOn(client, channel, event) {
  return framesWhere(client, (j) => j.event === event && j.channel === channel);
}

// The next pusher:error the client receives.
async function nextError(client) {
  return client.nextEvent('pusher:error', { timeout: 3000 });
}

describe('client events', () => {
  // --debug lets lib/shards.js place connections on chosen shards.
  const srv = useServer({ apps: [APP, ALL, NONE, SLOW, MEMBERS], args: ['--debug'] });

  it('a whisper on a private channel reaches every other subscriber on both shards exactly once, never the sender', T, srv.wrap(async (t, server) => {
    // The sender and 4 receivers on shard 0, 5 receivers on shard 1.
    const [shard0, shard1] = await openOnShards(server, 5);
    const conns = [...shard0, ...shard1];
    const [sender, ...receivers] = conns;
    try {
      const channel = `private-${uniqueName('chat')}`;
      for (const c of conns) await subscribeOk(c, APP, channel);
      whisper(sender, channel, 'client-typing', { userId: 1, name: 'Ann' });
      await waitAllHave(receivers, (j) => j.event === 'client-typing', 1, { label: 'whisper on every receiver' });
      await settle();
      for (const [i, r] of receivers.entries()) {
        const got = clientEventsOn(r, channel, 'client-typing');
        assert.equal(got.length, 1, `receiver ${i} got the whisper once`);
        assert.deepEqual(got[0], { event: 'client-typing', channel, data: { userId: 1, name: 'Ann' } });
      }
      assert.equal(clientEventsOn(sender, channel, 'client-typing').length, 0, 'the sender does not get its own whisper');
      assert.equal(framesWhere(sender, (j) => j.event === 'pusher:error').length, 0);
    } finally {
      await closeAll(conns);
    }
  }));

  it('relays data exactly as sent: strings stay strings, objects stay objects', T, srv.wrap(async (t, server) => {
    const [a, b] = await openMany(server, 2);
    try {
      const channel = `private-${uniqueName('data')}`;
      await subscribeOk(a, APP, channel);
      await subscribeOk(b, APP, channel);
      const payloads = [
        'plain text',
        '{"looks":"like json"}',
        { nested: { deep: [1, 2, { three: 'три' }] }, n: null, f: 1.5, t: true },
        [1, 'two'],
        42,
        '',
      ];
      for (const [i, data] of payloads.entries()) {
        whisper(a, channel, `client-p${i}`, data);
        const frame = await b.nextEvent(`client-p${i}`, { channel });
        assert.deepEqual(frame, { event: `client-p${i}`, channel, data }, `payload ${i}`);
      }
    } finally {
      await closeAll([a, b]);
    }
  }));

  it('on presence channels the relayed event carries the sender\'s user_id as a string', T, srv.wrap(async (t, server) => {
    const [shard0, shard1] = await openOnShards(server, 4);
    const conns = [...shard0, ...shard1];
    const [sender, ...others] = conns;
    try {
      const channel = `presence-${uniqueName('room')}`;
      await joinPresence(sender, APP, channel, 42, { name: 'Forty-two' });
      for (const [i, c] of others.entries()) await joinPresence(c, APP, channel, `o${i}`);
      whisper(sender, channel, 'client-typing', { typing: true });
      await waitAllHave(others, (j) => j.event === 'client-typing', 1, { label: 'presence whisper on every member' });
      for (const o of others) {
        assert.deepEqual(clientEventsOn(o, channel, 'client-typing')[0], {
          event: 'client-typing',
          channel,
          data: { typing: true },
          user_id: '42',
        });
      }
      await settle(200);
      assert.equal(clientEventsOn(sender, channel, 'client-typing').length, 0);
    } finally {
      await closeAll(conns);
    }
  }));

  it('a member who joined through signin (no channel_data) whispers under its signin id', T, srv.wrap(async (t, server) => {
    const [s, o] = await openMany(server, 2);
    try {
      const channel = `presence-${uniqueName('signed')}`;
      await joinPresence(o, APP, channel, 'observer');
      await signinOk(s, APP, { id: 'signed-5', user_info: {} });
      expectSucceeded(await subscribeRaw(s, channel, { auth: privateAuth(APP, s.socketId, channel) }), channel);
      whisper(s, channel, 'client-hi', 'hello');
      assert.deepEqual(await o.nextEvent('client-hi', { channel }), { event: 'client-hi', channel, data: 'hello', user_id: 'signed-5' });
    } finally {
      await closeAll([s, o]);
    }
  }));

  it('pusher-js trigger() and bind() with metadata.user_id on presence, as Echo\'s whisper uses them', T, srv.wrap(async (t, server) => {
    const mk = (id) => createClient(server, { channelAuthorization: { customHandler: channelAuthHandler(APP, { user: { id, info: { id } } }) } });
    const a = mk(1);
    const b = mk(2);
    try {
      await Promise.all([waitConnected(a), waitConnected(b)]);
      const presence = `presence-${uniqueName('pjs')}`;
      const priv = `private-${uniqueName('pjs')}`;
      await subscribe(a, presence);
      await subscribe(a, priv);
      const blogPresence = await subscribe(b, presence);
      const blogPrivate = await subscribe(b, priv);
      const got = new Promise((resolve) => b.channel(presence).bind('client-typing', (data, meta) => resolve({ data, meta })));
      a.channel(presence).trigger('client-typing', { name: 'one' });
      a.channel(priv).trigger('client-stopped', { id: 1 });
      const { data, meta } = await withTimeout(got, 5000, 'client-typing in pusher-js');
      assert.deepEqual(data, { name: 'one' });
      assert.deepEqual(meta, { user_id: '1' });
      const stopped = await blogPrivate.waitEvent('client-stopped');
      assert.deepEqual(stopped.data, { id: 1 });
      assert.equal(blogPresence.named('client-typing').length, 1);
    } finally {
      disconnectAll([a, b]);
    }
  }));

  it('refuses client events on public channels ("private and presence"), code null, connection stays open', T, srv.wrap(async (t, server) => {
    const [a, b] = await openMany(server, 2);
    try {
      for (const channel of [`public-${uniqueName('x')}`, `cache-${uniqueName('x')}`]) {
        await subscribeOk(a, APP, channel);
        await subscribeOk(b, APP, channel);
        whisper(a, channel, 'client-nope', { x: 1 });
        const message = expectPusherError(await nextError(a), null, `on ${channel}`);
        assert.ok(message.includes('private and presence'), `message: ${JSON.stringify(message)}`);
        await settle(200);
        assert.equal(clientEventsOn(b, channel, 'client-nope').length, 0, `not relayed on ${channel}`);
      }
      await assertAlive(a);
    } finally {
      await closeAll([a, b]);
    }
  }));

  it('refuses client events from a connection not subscribed to the channel (members mode, the default)', T, srv.wrap(async (t, server) => {
    for (const app of [APP, MEMBERS]) {
      const [outsider, member, member2] = await openMany(server, 3, app.key);
      try {
        const priv = `private-${uniqueName('closed')}`;
        const presence = `presence-${uniqueName('closed')}`;
        await subscribeOk(member, app, priv);
        await joinPresence(member2, app, presence, 'm');
        for (const channel of [priv, presence]) {
          whisper(outsider, channel, 'client-sneak', { x: 1 });
          const message = expectPusherError(await nextError(outsider), null, `on ${channel}`);
          assert.ok(message.startsWith(`${NOT_SUBSCRIBED_PREFIX}${channel}`), `message: ${JSON.stringify(message)}`);
        }
        // Subscribed to one channel does not allow another.
        await subscribeOk(outsider, app, `private-${uniqueName('other')}`);
        whisper(outsider, priv, 'client-sneak', { x: 2 });
        expectPusherError(await nextError(outsider), null);
        await settle(200);
        assert.equal(clientEventsOn(member, priv, 'client-sneak').length, 0);
        assert.equal(clientEventsOn(member2, presence, 'client-sneak').length, 0);
        await assertAlive(outsider);
      } finally {
        await closeAll([outsider, member, member2]);
      }
    }
  }));

  it('refuses client events on private-encrypted channels', T, srv.wrap(async (t, server) => {
    const [a, b] = await openMany(server, 2);
    try {
      for (const channel of [`private-encrypted-${uniqueName('e')}`, `private-encrypted-cache-${uniqueName('e')}`]) {
        await subscribeOk(a, APP, channel);
        await subscribeOk(b, APP, channel);
        whisper(a, channel, 'client-secret', { nonce: 'x', ciphertext: 'y' });
        const message = expectPusherError(await nextError(a), null, `on ${channel}`);
        assert.ok(message.includes('encrypted'), `message: ${JSON.stringify(message)}`);
        await settle(200);
        assert.equal(clientEventsOn(b, channel, 'client-secret').length, 0);
      }
      await assertAlive(a);
    } finally {
      await closeAll([a, b]);
    }
  }));

  it('accept_client_events_from "none": 4301 "The app does not have client messaging enabled."', T, srv.wrap(async (t, server) => {
    const [a, b] = await openMany(server, 2, NONE.key);
    try {
      const priv = `private-${uniqueName('none')}`;
      const presence = `presence-${uniqueName('none')}`;
      for (const c of [a, b]) await subscribeOk(c, NONE, priv);
      await joinPresence(a, NONE, presence, 'a');
      await joinPresence(b, NONE, presence, 'b');
      for (const channel of [priv, presence]) {
        whisper(a, channel, 'client-typing', {});
        const frame = await nextError(a);
        expectPusherError(frame, 4301);
        assert.equal(frame.data.message, 'The app does not have client messaging enabled.');
      }
      await settle(200);
      assert.equal(framesWhere(b, (j) => j.event === 'client-typing').length, 0);
      await assertAlive(a);
    } finally {
      await closeAll([a, b]);
    }
  }));

  it('accept_client_events_from "all": no subscription needed, still private and presence only', T, srv.wrap(async (t, server) => {
    const conns = await openMany(server, 8, ALL.key);
    const [outsider, ...members] = conns;
    try {
      const channel = `private-${uniqueName('all')}`;
      for (const m of members) await subscribeOk(m, ALL, channel);
      whisper(outsider, channel, 'client-from-outside', { ok: true });
      await waitAllHave(members, (j) => j.event === 'client-from-outside', 1, { label: 'whisper from a non-subscriber' });
      for (const m of members) {
        assert.deepEqual(clientEventsOn(m, channel, 'client-from-outside'), [{ event: 'client-from-outside', channel, data: { ok: true } }]);
      }
      assert.equal(framesWhere(outsider, (j) => j.event === 'pusher:error').length, 0);

      const pub = `public-${uniqueName('all')}`;
      await subscribeOk(members[0], ALL, pub);
      whisper(outsider, pub, 'client-public', {});
      const message = expectPusherError(await nextError(outsider), null);
      assert.ok(message.includes('private and presence'), message);
      await settle(200);
      assert.equal(clientEventsOn(members[0], pub, 'client-public').length, 0);
    } finally {
      await closeAll(conns);
    }
  }));

  it('rate limit: past 10 client events within a second each excess one gets 4301 and is dropped; the connection stays open', T, srv.wrap(async (t, server) => {
    const [a, b] = await openMany(server, 2);
    try {
      const channel = `private-${uniqueName('burst')}`;
      await subscribeOk(a, APP, channel);
      await subscribeOk(b, APP, channel);
      const BURST = 13;
      for (let i = 0; i < BURST; i += 1) whisper(a, channel, 'client-burst', { i });
      await waitUntil(() => framesWhere(a, (j) => j.event === 'pusher:error').length >= BURST - 10, {
        timeout: 3000,
        label: '4301 for each excess event',
      });
      await settle(300);
      const errors = framesWhere(a, (j) => j.event === 'pusher:error');
      assert.equal(errors.length, BURST - 10);
      for (const e of errors) {
        expectPusherError(e, 4301);
        assert.equal(e.data.message, 'Client event rejected due to rate limit');
      }
      const relayed = clientEventsOn(b, channel, 'client-burst').map((j) => j.data.i);
      assert.deepEqual(relayed, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'the first 10 are relayed, in order');
      await assertAlive(a, 'after rate limiting');

      await sleep(1100);
      whisper(a, channel, 'client-after', { later: true });
      assert.deepEqual(await b.nextEvent('client-after', { channel }), { event: 'client-after', channel, data: { later: true } });
    } finally {
      await closeAll([a, b]);
    }
  }));

  it('max_client_events_per_second is per app', T, srv.wrap(async (t, server) => {
    const [a, b] = await openMany(server, 2, SLOW.key);
    try {
      const channel = `private-${uniqueName('slow')}`;
      await subscribeOk(a, SLOW, channel);
      await subscribeOk(b, SLOW, channel);
      for (let i = 0; i < 4; i += 1) whisper(a, channel, 'client-burst', { i });
      await waitUntil(() => framesWhere(a, (j) => j.event === 'pusher:error').length >= 2, { timeout: 3000, label: '4301 x2' });
      await settle(300);
      for (const e of framesWhere(a, (j) => j.event === 'pusher:error')) expectPusherError(e, 4301);
      assert.equal(framesWhere(a, (j) => j.event === 'pusher:error').length, 2);
      assert.deepEqual(clientEventsOn(b, channel, 'client-burst').map((j) => j.data.i), [0, 1]);
    } finally {
      await closeAll([a, b]);
    }
  }));

  it('client events are never cached on cache channels', T, srv.wrap(async (t, server) => {
    const conns = await openMany(server, 4);
    const [a, b, late1, late2] = conns;
    try {
      const channel = `private-cache-${uniqueName('whisper')}`;
      await subscribeOk(a, APP, channel);
      await subscribeOk(b, APP, channel);
      whisper(a, channel, 'client-typing', { t: 1 });
      await b.nextEvent('client-typing', { channel });
      await subscribeOk(late1, APP, channel);
      assert.deepEqual(await late1.next((m) => m.json && m.json.channel === channel).then((m) => m.json), {
        event: 'pusher:cache_miss',
        channel,
      });

      await triggerOk(createRestClient(server), channel, 'server-event', { s: 1 });
      await b.nextEvent('server-event', { channel });
      whisper(a, channel, 'client-typing', { t: 2 });
      await b.nextEvent('client-typing', { channel });
      await subscribeOk(late2, APP, channel);
      // The cache still holds the server event, not the later client event. t:2 may still be on
      // its way to late2's shard or node (over Redis, b's node can have it first) when late2
      // subscribes there: then late2 also gets it live, which is delivery, not caching.
      const isClientEvent = (m) => m.json && m.json.event && m.json.event.startsWith('client-');
      const first = await late2.next((m) => m.json && m.json.channel === channel && !isClientEvent(m));
      assert.deepEqual(first.json, { event: 'server-event', channel, data: '{"s":1}' });
      await settle(200);
      const seen = clientEventsOn(late2, channel, 'client-typing').map((j) => j.data);
      assert.deepEqual(seen.filter((d) => d.t !== 2), [], 'an earlier client event reached a late subscriber');
    } finally {
      await closeAll(conns);
    }
  }));
});
