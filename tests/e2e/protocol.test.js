'use strict';

// The Pusher WebSocket protocol (v7) and the RFC 6455 layer under it.

const assert = require('node:assert/strict');
const { describe, it } = require('node:test');
const { useServer, DEFAULT_APP } = require('./lib/server');
const { WsClient, connectPusher, rawConnectPusher, closeAll, OP, SOCKET_ID_RE } = require('./lib/ws');
const { createRestClient, triggerOk } = require('./lib/pusher');
const { uniqueName, sleep, waitUntil } = require('./lib/util');

const T = { timeout: 20000 };

const PING_APP = {
  id: '2',
  key: 'ping-key',
  secret: 'ping-secret',
  ping_interval: 1,
  pong_timeout: 1,
  activity_timeout: 7,
  max_message_size: 10000,
  max_event_payload_bytes: 10240,
};

const PUSHER_PONG = { event: 'pusher:pong', data: '{}' };

// A pusher:ping message padded to exactly `size` bytes.
function paddedPing(size) {
  const empty = JSON.stringify({ event: 'pusher:ping', data: { pad: '' } });
  const msg = JSON.stringify({ event: 'pusher:ping', data: { pad: 'x'.repeat(size - empty.length) } });
  assert.equal(Buffer.byteLength(msg), size);
  return msg;
}

// Sends pusher:ping and expects exactly {"event":"pusher:pong","data":"{}"}.
async function assertPingPong(client, why = '') {
  client.send({ event: 'pusher:ping', data: {} });
  const pong = await client.nextEvent('pusher:pong', { timeout: 3000 });
  assert.deepEqual(pong, PUSHER_PONG, `pong ${why}`);
}

function assertPusherErrorWithCode(frame, code) {
  assert.ok(frame.json, `expected a JSON frame, got ${frame.text}`);
  assert.equal(frame.json.event, 'pusher:error', `expected pusher:error, got ${frame.text}`);
  const data = frame.json.data;
  assert.equal(typeof data, 'object', `pusher:error data must be an object: ${frame.text}`);
  assert.notEqual(data, null);
  assert.equal(data.code, code, `pusher:error code: ${frame.text}`);
  assert.equal(typeof data.message, 'string');
  assert.ok(data.message.length > 0, 'pusher:error message must not be empty');
}

describe('Pusher protocol over WebSocket', () => {
  const srv = useServer({ apps: [DEFAULT_APP, PING_APP] });

  describe('connection', () => {
    it('sends pusher:connection_established with a string data field', T, srv.wrap(async (t, server) => {
      const c = await WsClient.connect(server.wsUrl());
      try {
        const first = await c.next();
        assert.ok(first.json, `first frame is not JSON: ${first.text}`);
        assert.equal(first.json.event, 'pusher:connection_established');
        assert.deepEqual(Object.keys(first.json).sort(), ['data', 'event']);
        assert.equal(typeof first.json.data, 'string', 'data must be a JSON string (double encoding)');
        const data = JSON.parse(first.json.data);
        assert.deepEqual(Object.keys(data).sort(), ['activity_timeout', 'socket_id']);
        assert.match(data.socket_id, SOCKET_ID_RE);
        assert.equal(data.activity_timeout, 30);
      } finally {
        await c.shutdown();
      }
    }));

    it('reports the app\'s own activity_timeout and distinct socket ids', T, srv.wrap(async (t, server) => {
      const a = await connectPusher(server.wsUrl('ping-key'));
      const b = await connectPusher(server.wsUrl('ping-key'));
      try {
        assert.equal(a.established.activity_timeout, 7);
        assert.notEqual(a.socketId, b.socketId);
      } finally {
        await closeAll([a, b]);
      }
    }));

    for (const protocol of [5, 6, 7]) {
      it(`accepts protocol=${protocol}`, T, srv.wrap(async (t, server) => {
        const c = await connectPusher(server.wsUrl('app-key', `protocol=${protocol}&client=js&version=8.4.0`));
        try {
          assert.match(c.socketId, SOCKET_ID_RE);
          await assertPingPong(c);
        } finally {
          await c.shutdown();
        }
      }));
    }

    const refusals = [
      { what: 'an unknown app key', path: '/app/no-such-key?protocol=7&client=js&version=8.4.0', code: 4001 },
      { what: 'a path that is not /app/{key}', path: '/foo', code: 4005 },
      { what: 'another unknown path with a query', path: '/foo/bar?protocol=7', code: 4005 },
      { what: 'a query without protocol', path: '/app/app-key?client=js&version=8.4.0', code: 4008 },
      { what: 'no query string at all', path: '/app/app-key', code: 4008 },
      { what: 'protocol=abc', path: '/app/app-key?protocol=abc&client=js&version=8.4.0', code: 4006 },
      { what: 'protocol=3', path: '/app/app-key?protocol=3&client=js&version=8.4.0', code: 4007 },
      { what: 'protocol=8', path: '/app/app-key?protocol=8&client=js&version=8.4.0', code: 4007 },
    ];
    for (const r of refusals) {
      it(`upgrades, then sends pusher:error ${r.code} and closes with ${r.code} for ${r.what}`, T, srv.wrap(async (t, server) => {
        const c = await WsClient.connect(`ws://127.0.0.1:${server.port}${r.path}`);
        try {
          const first = await c.next(() => true, { label: 'pusher:error' });
          assertPusherErrorWithCode(first, r.code);
          const closed = await c.waitClose(5000);
          assert.equal(closed.code, r.code, `close code (reason: ${closed.reason})`);
        } finally {
          await c.shutdown();
        }
      }));
    }
  });

  describe('ping and pong', () => {
    it('answers pusher:ping with exactly {"event":"pusher:pong","data":"{}"}', T, srv.wrap(async (t, server) => {
      const c = await connectPusher(server.wsUrl());
      try {
        c.send({ event: 'pusher:ping', data: {} });
        const reply = await c.next();
        assert.deepEqual(reply.json, PUSHER_PONG, `got ${reply.text}`);
      } finally {
        await c.shutdown();
      }
    }));

    it('answers a WebSocket ping frame with a pong carrying the same payload', T, srv.wrap(async (t, server) => {
      const c = await connectPusher(server.wsUrl());
      try {
        c.ws.ping(Buffer.from('are-you-there'));
        const start = Date.now();
        while (c.pongs.length === 0 && Date.now() - start < 3000) await sleep(20);
        assert.equal(c.pongs.length, 1, 'no pong frame received');
        assert.equal(c.pongs[0].toString(), 'are-you-there');
        assert.ok(c.isOpen);
      } finally {
        await c.shutdown();
      }
    }));

    it('completes the closing handshake started by the client', T, srv.wrap(async (t, server) => {
      const c = await connectPusher(server.wsUrl());
      c.close(1000);
      const closed = await c.waitClose(5000);
      assert.equal(closed.code, 1000);
    }));
  });

  describe('subscribe and unsubscribe', () => {
    it('confirms a public subscription with exactly pusher_internal:subscription_succeeded', T, srv.wrap(async (t, server) => {
      const c = await connectPusher(server.wsUrl());
      try {
        c.send({ event: 'pusher:subscribe', data: { channel: 'my-channel', auth: '' } });
        const reply = await c.next();
        assert.deepEqual(
          reply.json,
          { event: 'pusher_internal:subscription_succeeded', channel: 'my-channel', data: '{}' },
          `got ${reply.text}`,
        );
      } finally {
        await c.shutdown();
      }
    }));

    it('stops delivery after pusher:unsubscribe and sends no reply to it', T, srv.wrap(async (t, server) => {
      const rest = createRestClient(server);
      const gone = uniqueName('unsub');
      const kept = uniqueName('kept');
      const c = await connectPusher(server.wsUrl());
      try {
        await c.subscribe(gone);
        await c.subscribe(kept);
        await triggerOk(rest, gone, 'before', { n: 1 });
        await c.nextEvent('before', { channel: gone });

        c.send({ event: 'pusher:unsubscribe', data: { channel: gone } });
        const reply = await c.noMessage(() => true, 300);
        assert.equal(reply, null, `unexpected reply to pusher:unsubscribe: ${reply && reply.text}`);

        await triggerOk(rest, gone, 'after', { n: 2 });
        await triggerOk(rest, kept, 'barrier', { n: 3 });
        await c.nextEvent('barrier', { channel: kept });
        const leaked = await c.noMessage((m) => m.json && m.json.channel === gone, 300);
        assert.equal(leaked, null, `event delivered after unsubscribe: ${leaked && leaked.text}`);
        await assertPingPong(c, 'after unsubscribe');
      } finally {
        await c.shutdown();
      }
    }));

    const validNames = [
      { what: '164 characters', name: 'a'.repeat(164) },
      { what: 'every allowed punctuation character', name: 'AZaz09_-=@,.;' },
      { what: 'a single character', name: 'x' },
    ];
    for (const v of validNames) {
      it(`accepts a channel name with ${v.what}`, T, srv.wrap(async (t, server) => {
        const rest = createRestClient(server);
        const c = await connectPusher(server.wsUrl());
        try {
          const ok = await c.subscribe(v.name);
          assert.deepEqual(ok, { event: 'pusher_internal:subscription_succeeded', channel: v.name, data: '{}' });
          await triggerOk(rest, v.name, 'hello', 'world');
          const ev = await c.nextEvent('hello', { channel: v.name });
          assert.equal(ev.data, 'world');
        } finally {
          await c.shutdown();
        }
      }));
    }

    const invalidNames = [
      { what: '165 characters', name: 'a'.repeat(165) },
      { what: 'a space', name: 'has space' },
      { what: 'a #', name: 'chan#hash' },
      { what: 'a slash', name: 'slash/name' },
      { what: 'a *', name: 'star*' },
      { what: 'a double quote', name: 'quote"d' },
      { what: 'non-ASCII letters', name: 'ünïcødé' },
      { what: 'a colon', name: 'a:b' },
    ];
    for (const v of invalidNames) {
      it(`rejects a channel name with ${v.what} (InvalidChannel) and stays usable`, T, srv.wrap(async (t, server) => {
        const c = await connectPusher(server.wsUrl());
        try {
          c.send({ event: 'pusher:subscribe', data: { channel: v.name, auth: '' } });
          const reply = await c.next();
          assert.ok(reply.json, `reply is not JSON: ${reply.text}`);
          assert.equal(reply.json.event, 'pusher:subscription_error', `got ${reply.text}`);
          assert.equal(reply.json.channel, v.name);
          assert.deepEqual(Object.keys(reply.json).sort(), ['channel', 'data', 'event']);
          const data = reply.json.data;
          assert.equal(typeof data, 'object', `data must be an object: ${reply.text}`);
          assert.deepEqual(Object.keys(data).sort(), ['error', 'status', 'type']);
          assert.equal(data.type, 'InvalidChannel');
          assert.equal(data.status, 400);
          assert.equal(typeof data.error, 'string');
          assert.ok(data.error.length > 0);
          assert.ok(c.isOpen);
          await assertPingPong(c, 'after a rejected subscription');
        } finally {
          await c.shutdown();
        }
      }));
    }
  });

  describe('malformed client messages', () => {
    const malformed = [
      { what: 'text that is not JSON', text: 'this is not json' },
      { what: 'truncated JSON', text: '{"event":"pusher:ping"' },
      { what: 'an empty message', text: '' },
      { what: 'JSON without an event', text: '{"data":{}}' },
      { what: 'pusher:subscribe without data', text: '{"event":"pusher:subscribe"}' },
      { what: 'pusher:subscribe without data.channel', text: '{"event":"pusher:subscribe","data":{"auth":""}}' },
      { what: 'a JSON array', text: '[1,2,3]' },
      { what: 'a JSON string', text: '"pusher:ping"' },
      { what: 'a JSON number', text: '42' },
      { what: 'JSON null', text: 'null' },
    ];
    for (const m of malformed) {
      it(`answers ${m.what} with pusher:error code null and keeps the connection`, T, srv.wrap(async (t, server) => {
        const c = await connectPusher(server.wsUrl());
        try {
          c.send(m.text);
          const reply = await c.next();
          assert.ok(reply.json, `reply is not JSON: ${reply.text}`);
          assert.equal(reply.json.event, 'pusher:error', `got ${reply.text}`);
          assert.deepEqual(Object.keys(reply.json).sort(), ['data', 'event']);
          assert.equal(typeof reply.json.data, 'object', `data must be an object: ${reply.text}`);
          assert.deepEqual(Object.keys(reply.json.data).sort(), ['code', 'message']);
          assert.equal(reply.json.data.code, null);
          assert.equal(typeof reply.json.data.message, 'string');
          assert.ok(reply.json.data.message.length > 0);
          assert.ok(c.isOpen);
          await assertPingPong(c, 'after a malformed message');
          await c.subscribe(uniqueName('still-usable'));
        } finally {
          await c.shutdown();
        }
      }));
    }
  });

  describe('RFC 6455 framing', () => {
    it('closes with 1002 when a client frame is not masked', T, srv.wrap(async (t, server) => {
      const raw = await rawConnectPusher(server.port);
      try {
        raw.sendText('{"event":"pusher:ping","data":{}}', { mask: false });
        const closed = await raw.waitClose();
        assert.equal(closed.code, 1002);
        assert.ok(closed.tcpClosed, 'TCP connection still open after the close frame');
      } finally {
        raw.destroy();
      }
    }));

    it('closes with 1003 on a binary message', T, srv.wrap(async (t, server) => {
      const c = await connectPusher(server.wsUrl());
      try {
        c.sendBinary(Buffer.from('{"event":"pusher:ping","data":{}}'));
        const closed = await c.waitClose();
        assert.equal(closed.code, 1003);
      } finally {
        await c.shutdown();
      }
    }));

    it('closes with 1007 on a text message that is not valid UTF-8', T, srv.wrap(async (t, server) => {
      const raw = await rawConnectPusher(server.port);
      try {
        // {"event":"<0xff 0xfe>"} — 0xff/0xfe never occur in UTF-8.
        const bytes = Buffer.concat([Buffer.from('{"event":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
        raw.sendFrame(OP.TEXT, bytes);
        const closed = await raw.waitClose();
        assert.equal(closed.code, 1007);
      } finally {
        raw.destroy();
      }
    }));

    it('closes with 1007 on an overlong UTF-8 encoding', T, srv.wrap(async (t, server) => {
      const raw = await rawConnectPusher(server.port);
      try {
        // 0xc0 0xaf is an overlong "/" — invalid UTF-8.
        const bytes = Buffer.concat([Buffer.from('{"event":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]);
        raw.sendFrame(OP.TEXT, bytes);
        const closed = await raw.waitClose();
        assert.equal(closed.code, 1007);
      } finally {
        raw.destroy();
      }
    }));

    // Hostile framing gets its close code, and a healthy subscriber alongside gets every event.
    async function withHealthyWatcher(server, hostile) {
      const rest = createRestClient(server);
      const channel = uniqueName('watched');
      const healthy = await connectPusher(server.wsUrl());
      try {
        await healthy.subscribe(channel);
        await triggerOk(rest, channel, 'before', { n: 1 });
        await hostile();
        await triggerOk(rest, channel, 'after', { n: 2 });
        await healthy.nextEvent('before', { channel });
        await healthy.nextEvent('after', { channel });
      } finally {
        await healthy.shutdown();
      }
    }

    it('closes with 1002 when a 64-bit frame length has its top bit set', T, srv.wrap(async (t, server) => {
      await withHealthyWatcher(server, async () => {
        const raw = await rawConnectPusher(server.port);
        try {
          raw.sock.write(Buffer.from([0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78]));
          const closed = await raw.waitClose();
          assert.equal(closed.code, 1002, `close: ${JSON.stringify(closed)}`);
        } finally {
          raw.destroy();
        }
      });
    }));

    it('closes with 1009 when one message goes on for more than 1000 frames', T, srv.wrap(async (t, server) => {
      await withHealthyWatcher(server, async () => {
        const raw = await rawConnectPusher(server.port);
        try {
          raw.sendFrame(OP.TEXT, '{"event":', { fin: false });
          for (let i = 0; i < 1000; ++i) raw.sendFrame(OP.CONT, '', { fin: false });
          const closed = await raw.waitClose();
          assert.equal(closed.code, 1009, `close: ${JSON.stringify(closed)}`);
        } finally {
          raw.destroy();
        }
      });
    }));

    it('reassembles a fragmented text message', T, srv.wrap(async (t, server) => {
      const raw = await rawConnectPusher(server.port);
      try {
        raw.sendFrame(OP.TEXT, '{"event":"pus', { fin: false });
        raw.sendFrame(OP.CONT, 'her:ping","da', { fin: false });
        raw.sendFrame(OP.PING, 'mid'); // control frames may be interleaved
        raw.sendFrame(OP.CONT, 'ta":{}}', { fin: true });
        const pong = await raw.nextFrame((f) => f.opcode === OP.PONG, 3000, 'pong frame');
        assert.equal(pong.payload.toString(), 'mid');
        const reply = await raw.nextText();
        assert.deepEqual(reply.json, PUSHER_PONG, `got ${reply.text}`);
      } finally {
        raw.destroy();
      }
    }));

    it('accepts a message of exactly max_message_size (10000 bytes)', T, srv.wrap(async (t, server) => {
      const c = await connectPusher(server.wsUrl());
      try {
        c.send(paddedPing(10000));
        const reply = await c.next(() => true, { timeout: 3000 });
        assert.deepEqual(reply.json, PUSHER_PONG, `got ${reply.text}`);
      } finally {
        await c.shutdown();
      }
    }));

    for (const size of [10001, 70000]) {
      it(`closes with 1009 on a ${size}-byte message (max_message_size 10000)`, T, srv.wrap(async (t, server) => {
        const c = await connectPusher(server.wsUrl());
        try {
          c.send(paddedPing(size));
          const closed = await c.waitClose();
          assert.equal(closed.code, 1009);
        } finally {
          await c.shutdown();
        }
      }));
    }
  });

  describe('liveness (app ping-key: ping_interval 1 s, pong_timeout 1 s)', () => {
    it('pings a silent client with pusher:ping and closes it with 4201 when no pong comes', T, srv.wrap(async (t, server) => {
      const started = Date.now();
      const c = await connectPusher(server.wsUrl('ping-key'), { autoPong: false });
      try {
        const ping = await c.nextEvent('pusher:ping', { timeout: 4000 });
        assert.deepEqual(ping, { event: 'pusher:ping', data: '{}' });
        const closed = await c.waitClose(Math.max(500, 6000 - (Date.now() - started)));
        assert.equal(closed.code, 4201, `close reason: ${closed.reason}`);
      } finally {
        await c.shutdown();
      }
    }));

    it('keeps a client that answers pusher:ping with pusher:pong', T, srv.wrap(async (t, server) => {
      const c = await connectPusher(server.wsUrl('ping-key'), { autoPong: false });
      let pings = 0;
      const answer = (data) => {
        try {
          const msg = JSON.parse(data.toString());
          if (msg.event === 'pusher:ping') {
            pings += 1;
            c.send({ event: 'pusher:pong', data: {} });
          }
        } catch {
          /* not JSON */
        }
      };
      c.ws.on('message', answer);
      try {
        // The timer wheel ticks once a second, so with a 1 s interval the pings come 1-2 s (and on
        // a loaded machine a little more) after the last pong: wait for two of them, not a time.
        await waitUntil(() => pings >= 2 || c.closeInfo !== null, { timeout: 9000, label: 'two pings' });
        assert.equal(c.closeInfo, null, `closed: ${JSON.stringify(c.closeInfo)}`);
        assert.ok(pings >= 2, `expected the server to keep pinging, got ${pings} pings`);
        await assertPingPong(c, 'after several liveness rounds');
      } finally {
        c.ws.off('message', answer);
        await c.shutdown();
      }
    }));
  });
});
