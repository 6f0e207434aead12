'use strict';

// REST publish (pusher SDK and hand-made requests) delivered to pusher-js subscribers.

const assert = require('node:assert/strict');
const { describe, it, before, after } = require('node:test');
const { useServer } = require('./lib/server');
const { postEvents } = require('./lib/http');
const { connectPusher, closeAll } = require('./lib/ws');
const { connectedClient, subscribe, disconnectAll, createRestClient, triggerOk } = require('./lib/pusher');
const { uniqueName } = require('./lib/util');

const T = { timeout: 30000 };

// Strings that are NOT valid JSON stay strings in pusher-js; objects arrive JSON-decoded.
const QUOTES = 'He said "hi" \\ back\\slash\\\\ line1\nline2\r\n\ttab / slash \u0001 ctrl </script>';
const BIG = {
  kind: 'big',
  items: Array.from({ length: 120 }, (_, i) => ({ i, text: `item ${i} ünïcødé 😀 "q" \\ ${'z'.repeat(20)}` })),
};
const CASES = [
  { name: 'ascii', data: 'hello world, plain ASCII 0123456789 ~!@#$%^&*()_+' },
  { name: 'emoji', data: 'emoji 🎉🚀 family 👩‍👩‍👧‍👦 flag 🇺🇦 astral 𝄞' },
  { name: 'cyrillic', data: 'Привет, мир! Съешь же ещё этих мягких французских булок. Ёё' },
  { name: 'cjk', data: '你好，世界 こんにちは世界 안녕하세요 세계 漢字' },
  { name: 'quotes-backslashes-newlines', data: QUOTES },
  {
    name: 'object',
    data: { message: 'hi', n: 1.5, ok: true, nil: null, nested: { arr: [1, 'two', { three: 3 }], u: 'ü€😀', q: '"\\' } },
  },
  { name: 'json-looking-string', data: '{"already":"json","n":[1,2]}' },
  { name: 'big-9kb', data: BIG },
];

// What the SDK puts in the request's `data` field, hence what must appear verbatim on the wire.
function wireData(data) {
  return typeof data === 'string' ? data : JSON.stringify(data);
}

describe('REST publish to pusher-js subscribers', () => {
  const srv = useServer();
  let rest;
  let sub; // pusher-js subscriber
  let raw; // raw WebSocket subscriber on the same channel (sees the exact wire frame)
  let log;
  const channel = uniqueName('publish');

  before(async () => {
    const server = srv.server;
    rest = createRestClient(server);
    sub = await connectedClient(server);
    log = await subscribe(sub, channel);
    raw = await connectPusher(server.wsUrl());
    await raw.subscribe(channel);
  });

  after(async () => {
    disconnectAll([sub]);
    await closeAll([raw]);
  });

  it('the 9 KB case really is between 8 KB and the 10 KB limit', () => {
    const bytes = Buffer.byteLength(wireData(BIG));
    assert.ok(bytes > 8 * 1024 && bytes < 10240, `payload is ${bytes} bytes`);
  });

  for (const c of CASES) {
    it(`delivers ${c.name} data byte-for-byte`, T, srv.wrap(async () => {
      const event = `evt-${c.name}`;
      await triggerOk(rest, channel, event, c.data);

      // Exact wire frame: {"event","channel","data"} with data as the publisher's string.
      const frame = await raw.nextEvent(event, { channel });
      assert.deepEqual(Object.keys(frame).sort(), ['channel', 'data', 'event']);
      assert.equal(typeof frame.data, 'string', 'user event data must be a JSON string on the wire');
      assert.equal(frame.data, wireData(c.data));
      assert.equal(Buffer.compare(Buffer.from(frame.data), Buffer.from(wireData(c.data))), 0);

      // pusher-js view: strings that are not JSON stay strings; JSON is decoded.
      const got = await log.waitEvent(event);
      let expected = c.data;
      if (typeof c.data === 'string') {
        try {
          expected = JSON.parse(c.data);
        } catch {
          expected = c.data;
        }
      }
      assert.deepEqual(got.data, expected);
    }));
  }

  it('delivers one trigger to several channels', T, srv.wrap(async (t, server) => {
    const other = uniqueName('publish-other');
    const sub2 = await connectedClient(server);
    try {
      const log2 = await subscribe(sub2, other);
      await triggerOk(rest, [channel, other], 'multi', { both: true });
      assert.deepEqual((await log.waitEvent('multi')).data, { both: true });
      assert.deepEqual((await log2.waitEvent('multi')).data, { both: true });
    } finally {
      disconnectAll([sub2]);
    }
  }));

  it('accepts the PHP SDK shape with a single "channel" field', T, srv.wrap(async (t, server) => {
    const res = await postEvents(server.port, {
      body: { name: 'php-shape', channel, data: JSON.stringify({ from: 'php' }) },
    });
    assert.equal(res.status, 200, `body: ${res.body}`);
    assert.deepEqual(res.json, {});
    assert.deepEqual((await log.waitEvent('php-shape')).data, { from: 'php' });
    const frame = await raw.nextEvent('php-shape', { channel });
    assert.equal(frame.data, '{"from":"php"}');
  }));

  it('accepts a raw "channels" array of one', T, srv.wrap(async (t, server) => {
    const res = await postEvents(server.port, {
      body: { name: 'raw-channels', channels: [channel], data: 'plain text' },
    });
    assert.equal(res.status, 200, `body: ${res.body}`);
    assert.deepEqual(res.json, {});
    assert.equal((await log.waitEvent('raw-channels')).data, 'plain text');
  }));

  it('excludes the connection named by socket_id (toOthers) via the SDK', T, srv.wrap(async (t, server) => {
    const ch = uniqueName('to-others');
    const sender = await connectedClient(server);
    const other = await connectedClient(server);
    try {
      const senderLog = await subscribe(sender, ch);
      const otherLog = await subscribe(other, ch);
      const socketId = sender.connection.socket_id;
      assert.match(socketId, /^\d+\.\d+$/);

      await triggerOk(rest, ch, 'excluded', { n: 1 }, { socket_id: socketId });
      assert.deepEqual((await otherLog.waitEvent('excluded')).data, { n: 1 });
      // Barrier: a later, unexcluded event on the same channel reaches the sender...
      await triggerOk(rest, ch, 'after', { n: 2 });
      await senderLog.waitEvent('after');
      await otherLog.waitEvent('after');
      // ...and the excluded one never did.
      assert.equal(senderLog.named('excluded').length, 0, 'the excluded connection received the event');
      assert.equal(otherLog.named('excluded').length, 1);
    } finally {
      disconnectAll([sender, other]);
    }
  }));

  it('excludes socket_id with the PHP SDK shape ("channel" + "socket_id")', T, srv.wrap(async (t, server) => {
    const ch = uniqueName('to-others-php');
    const sender = await connectPusher(server.wsUrl());
    const other = await connectPusher(server.wsUrl());
    try {
      await sender.subscribe(ch);
      await other.subscribe(ch);
      const res = await postEvents(server.port, {
        body: { name: 'excluded', channel: ch, data: '{"n":1}', socket_id: sender.socketId },
      });
      assert.equal(res.status, 200, `body: ${res.body}`);
      assert.deepEqual(res.json, {});
      await other.nextEvent('excluded', { channel: ch });
      const res2 = await postEvents(server.port, { body: { name: 'after', channel: ch, data: '{"n":2}' } });
      assert.equal(res2.status, 200, `body: ${res2.body}`);
      await sender.nextEvent('after', { channel: ch });
      assert.equal(
        sender.frames.filter((f) => f.json && f.json.event === 'excluded').length,
        0,
        'the excluded connection received the event',
      );
    } finally {
      await closeAll([sender, other]);
    }
  }));

  it('publishing to a channel nobody is subscribed to still answers 200 {}', T, srv.wrap(async () => {
    await triggerOk(rest, uniqueName('empty'), 'nobody', { x: 1 });
  }));
});
