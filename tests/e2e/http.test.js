'use strict';

// Plain HTTP behaviour, the signed REST publish endpoint and its errors, and the path prefix.

const assert = require('node:assert/strict');
const { describe, it, before, after } = require('node:test');
const { spawnSync } = require('node:child_process');
const { useServer, startServer, DEFAULT_APP, binaryPath } = require('./lib/server');
const { request, rawExchange, postEvents, signedQuery, md5Hex } = require('./lib/http');
const { WsClient, connectPusher } = require('./lib/ws');
const { connectedClient, subscribe, disconnectAll, createRestClient, triggerOk } = require('./lib/pusher');
const { uniqueName, sleep } = require('./lib/util');

const T = { timeout: 20000 };

function assertJsonError(res, status) {
  assert.equal(res.status, status, `expected HTTP ${status}, got ${res.status} with body ${JSON.stringify(res.body)}`);
  assert.ok(res.json && typeof res.json === 'object', `error body is not JSON: ${JSON.stringify(res.body)}`);
  assert.equal(typeof res.json.error, 'string', `error body has no "error" string: ${res.body}`);
  assert.ok(res.json.error.length > 0, 'empty error message');
}

async function assertUp(port, prefix = '') {
  const res = await request(port, { path: `${prefix}/up` });
  assert.equal(res.status, 200, `GET ${prefix}/up answered ${res.status}: ${res.body}`);
  assert.deepEqual(res.json, { health: 'OK' });
}

function rawGet(path, extraHeaders = '') {
  return `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extraHeaders}\r\n`;
}

describe('HTTP server', () => {
  const srv = useServer();
  const live = uniqueName('live');
  let sub; // pusher-js subscriber that must survive every bad request in this file
  let subLog;

  before(async () => {
    sub = await connectedClient(srv.server);
    subLog = await subscribe(sub, live);
  });

  after(() => disconnectAll([sub]));

  describe('plain endpoints', () => {
    it('GET /up answers 200 {"health":"OK"}', T, srv.wrap(async (t, server) => {
      await assertUp(server.port);
    }));

    it('a plain GET on the WebSocket endpoint answers 426 with a JSON error', T, srv.wrap(async (t, server) => {
      assertJsonError(await request(server.port, { path: '/app/app-key' }), 426);
      assertJsonError(await request(server.port, { path: '/app/app-key?protocol=7&client=js&version=8.4.0' }), 426);
    }));

    it('an unknown path answers 404 with a JSON error', T, srv.wrap(async (t, server) => {
      assertJsonError(await request(server.port, { path: '/nope' }), 404);
      assertJsonError(await request(server.port, { path: '/definitely/not/here?x=1' }), 404);
    }));

    it('JSON responses carry Content-Type application/json', T, srv.wrap(async (t, server) => {
      const responses = {
        '/up': await request(server.port, { path: '/up' }),
        '/nope (404)': await request(server.port, { path: '/nope' }),
        '/app/app-key (426)': await request(server.port, { path: '/app/app-key' }),
        'POST events (200)': await postEvents(server.port, { body: { name: 'ct', channel: live, data: 'ct' } }),
      };
      for (const [what, res] of Object.entries(responses)) {
        assert.match(String(res.headers['content-type']), /^application\/json/, `${what}: ${res.headers['content-type']}`);
      }
    }));

    it('keeps the connection alive across requests (GET, signed POST, GET)', T, srv.wrap(async (t, server) => {
      const body = JSON.stringify({ name: 'keepalive', channel: live, data: 'ka' });
      const query = signedQuery({ signPath: '/apps/1/events', key: 'app-key', secret: 'app-secret', body });
      const post =
        `POST /apps/1/events?${query} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
      const res = await rawExchange(server.port, [rawGet('/up'), post, rawGet('/up')], { expect: 3 });
      assert.equal(res.responses.length, 3, `got ${res.responses.length} responses; raw: ${JSON.stringify(res.raw)}`);
      assert.deepEqual(res.responses.map((r) => r.status), [200, 200, 200]);
      assert.deepEqual(res.responses[0].json, { health: 'OK' });
      assert.deepEqual(res.responses[1].json, {});
      assert.deepEqual(res.responses[2].json, { health: 'OK' });
      assert.equal(res.closed, false, 'server closed a keep-alive connection');
      await subLog.waitEvent('keepalive');
    }));
  });

  describe('malformed HTTP', () => {
    const bad = [
      { what: 'a garbage request line', bytes: 'GARBAGE\r\n\r\n' },
      { what: 'a misspelled protocol', bytes: 'GET /up HTTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' },
      { what: 'a request line without method', bytes: ' /up HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' },
      { what: 'a header line without a colon', bytes: 'GET /up HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n' },
    ];
    for (const b of bad) {
      it(`answers ${b.what} with 400 JSON and closes the connection`, T, srv.wrap(async (t, server) => {
        const res = await rawExchange(server.port, b.bytes, { expect: 1, waitClose: true });
        assert.equal(res.responses.length, 1, `no complete HTTP response; raw: ${JSON.stringify(res.raw)}`);
        assertJsonError(res.responses[0], 400);
        assert.ok(res.closed, 'connection was not closed after the 400');
        await assertUp(server.port);
      }));
    }

    it('answers a single header over 16 KiB with 431 JSON', T, srv.wrap(async (t, server) => {
      const res = await rawExchange(server.port, rawGet('/up', `X-Big: ${'a'.repeat(17 * 1024)}\r\n`), {
        expect: 1,
        waitClose: false,
      });
      assert.equal(res.responses.length, 1, `no complete HTTP response; raw: ${JSON.stringify(res.raw.slice(0, 300))}`);
      assertJsonError(res.responses[0], 431);
      await assertUp(server.port);
    }));

    it('answers many headers totalling over 16 KiB with 431 JSON', T, srv.wrap(async (t, server) => {
      let headers = '';
      for (let i = 0; i < 40; i += 1) headers += `X-Pad-${i}: ${'b'.repeat(500)}\r\n`;
      const res = await rawExchange(server.port, rawGet('/up', headers), { expect: 1 });
      assert.equal(res.responses.length, 1, `no complete HTTP response; raw: ${JSON.stringify(res.raw.slice(0, 300))}`);
      assertJsonError(res.responses[0], 431);
      await assertUp(server.port);
    }));

    it('serves headers just under 16 KiB', T, srv.wrap(async (t, server) => {
      const res = await rawExchange(server.port, rawGet('/up', `X-Pad: ${'c'.repeat(15 * 1024)}\r\n`), { expect: 1 });
      assert.equal(res.responses.length, 1, `no complete HTTP response; raw: ${JSON.stringify(res.raw.slice(0, 300))}`);
      assert.equal(res.responses[0].status, 200);
      assert.deepEqual(res.responses[0].json, { health: 'OK' });
    }));
  });

  describe('POST /apps/{id}/events', () => {
    const now = () => Math.floor(Date.now() / 1000);
    const good = (name) => ({ name, channels: [live], data: JSON.stringify({ case: name }) });

    it('answers exactly 200 {} to a correctly signed request', T, srv.wrap(async (t, server) => {
      const res = await postEvents(server.port, { body: good('signed-ok') });
      assert.equal(res.status, 200, `body: ${res.body}`);
      assert.deepEqual(res.json, {});
      assert.deepEqual((await subLog.waitEvent('signed-ok')).data, { case: 'signed-ok' });
    }));

    const errors = [
      { what: 'a bad signature', status: 401, opts: { signatureOverride: 'ab'.repeat(32) } },
      { what: 'a signature made with the wrong secret', status: 401, opts: { secret: 'not-the-secret' } },
      { what: 'a timestamp 700 s old', status: 401, opts: { timestamp: now() - 700 } },
      { what: 'a timestamp 700 s in the future', status: 401, opts: { timestamp: now() + 700 } },
      { what: 'a wrong body_md5', status: 401, opts: { bodyMd5: md5Hex('something else') } },
      { what: 'an unknown app id', status: 404, opts: { appId: '999' } },
    ];
    for (const e of errors) {
      it(`answers ${e.what} with ${e.status} JSON and publishes nothing`, T, srv.wrap(async (t, server) => {
        const name = uniqueName('must-not-arrive');
        const res = await postEvents(server.port, { body: good(name), ...e.opts });
        assertJsonError(res, e.status);
      }));
    }

    it('answers an unsigned request with 401 JSON', T, srv.wrap(async (t, server) => {
      const res = await request(server.port, {
        method: 'POST',
        path: '/apps/1/events',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(good(uniqueName('must-not-arrive'))),
      });
      assertJsonError(res, 401);
    }));

    const invalid = [
      {
        what: 'data over 10240 bytes (11 KB)',
        status: 413,
        body: () => ({ name: uniqueName('must-not-arrive'), channels: [live], data: 'x'.repeat(11 * 1024) }),
      },
      { what: 'an invalid JSON body', status: 400, body: () => `{"name":"${uniqueName('must-not-arrive')}","data":` },
      { what: 'a missing name', status: 400, body: () => ({ channels: [live], data: 'no name' }) },
      {
        what: 'more than 100 channels',
        status: 400,
        body: () => ({
          name: uniqueName('must-not-arrive'),
          channels: [live, ...Array.from({ length: 100 }, (_, i) => `c-${i}`)],
          data: 'x',
        }),
      },
      {
        what: 'an event name over 200 characters',
        status: 400,
        body: () => ({ name: `must-not-arrive-${'n'.repeat(200)}`, channels: [live], data: 'x' }),
      },
    ];
    for (const v of invalid) {
      it(`answers ${v.what} with ${v.status} JSON`, T, srv.wrap(async (t, server) => {
        const res = await postEvents(server.port, { body: v.body() });
        assertJsonError(res, v.status);
      }));
    }

    const limits = [
      { what: 'data of exactly 10240 bytes', body: (n) => ({ name: n, channels: [live], data: 'd'.repeat(10240) }) },
      {
        what: 'exactly 100 channels',
        body: (n) => ({ name: n, channels: [live, ...Array.from({ length: 99 }, (_, i) => `c-${i}`)], data: 'x' }),
      },
    ];
    for (const l of limits) {
      it(`accepts ${l.what}`, T, srv.wrap(async (t, server) => {
        const name = uniqueName('limit');
        const res = await postEvents(server.port, { body: l.body(name) });
        assert.equal(res.status, 200, `body: ${res.body}`);
        assert.deepEqual(res.json, {});
        await subLog.waitEvent(name);
      }));
    }

    it('accepts an event name of exactly 200 characters', T, srv.wrap(async (t, server) => {
      const name = `limit-${'n'.repeat(194)}`;
      assert.equal(name.length, 200);
      const res = await postEvents(server.port, { body: { name, channel: live, data: 'x' } });
      assert.equal(res.status, 200, `body: ${res.body}`);
      assert.deepEqual(res.json, {});
      await subLog.waitEvent(name);
    }));
  });

  describe('after all the bad input', () => {
    it('still serves /up, and the live pusher-js subscriber still receives events', T, srv.wrap(async (t, server) => {
      await assertUp(server.port);
      assert.equal(sub.connection.state, 'connected');
      const rest = createRestClient(server);
      await triggerOk(rest, live, 'still-alive', { ok: true });
      assert.deepEqual((await subLog.waitEvent('still-alive')).data, { ok: true });
      const leaked = subLog.events.filter((e) => e.event.startsWith('must-not-arrive'));
      assert.deepEqual(leaked.map((e) => e.event), [], 'rejected requests were published anyway');
    }));
  });
});

describe('server path prefix ("server": {"path": "/ws-prefix"})', () => {
  const PREFIX = '/ws-prefix';
  const srv = useServer({ server: { path: PREFIX } });
  const channel = uniqueName('prefixed');
  let sub;
  let subLog;

  before(async () => {
    sub = await connectedClient(srv.server, { wsPath: PREFIX });
    subLog = await subscribe(sub, channel);
  });

  after(() => disconnectAll([sub]));

  it('serves /ws-prefix/up', T, srv.wrap(async (t, server) => {
    await assertUp(server.port, PREFIX);
  }));

  it('serves the WebSocket endpoint at /ws-prefix/app/{key}', T, srv.wrap(async (t, server) => {
    const c = await connectPusher(server.wsUrl('app-key', 'protocol=7&client=js&version=8.4.0', PREFIX));
    try {
      assert.match(c.socketId, /^\d+\.\d+$/);
      await c.subscribe(uniqueName('prefixed-raw'));
    } finally {
      await c.shutdown();
    }
  }));

  it('accepts a publish signed over /apps/1/events (PHP SDK style, prefix not signed)', T, srv.wrap(async (t, server) => {
    const res = await postEvents(server.port, {
      prefix: PREFIX,
      signPath: '/apps/1/events',
      body: { name: 'unsigned-prefix', channel, data: '{"n":1}' },
    });
    assert.equal(res.status, 200, `body: ${res.body}`);
    assert.deepEqual(res.json, {});
    assert.deepEqual((await subLog.waitEvent('unsigned-prefix')).data, { n: 1 });
  }));

  it('accepts a publish signed over the full /ws-prefix/apps/1/events path', T, srv.wrap(async (t, server) => {
    const res = await postEvents(server.port, {
      prefix: PREFIX,
      signPath: `${PREFIX}/apps/1/events`,
      body: { name: 'signed-prefix', channels: [channel], data: '{"n":2}' },
    });
    assert.equal(res.status, 200, `body: ${res.body}`);
    assert.deepEqual(res.json, {});
    assert.deepEqual((await subLog.waitEvent('signed-prefix')).data, { n: 2 });
  }));

  it('still rejects a bad signature under the prefix with 401', T, srv.wrap(async (t, server) => {
    const res = await postEvents(server.port, {
      prefix: PREFIX,
      secret: 'wrong-secret',
      body: { name: 'must-not-arrive', channel, data: 'x' },
    });
    assertJsonError(res, 401);
    await sleep(100);
    assert.equal(subLog.named('must-not-arrive').length, 0);
  }));
});

describe('process lifecycle', () => {
  it('stops on SIGTERM within 5 s with exit code 0, closing its clients', { timeout: 20000 }, async () => {
    const server = await startServer({ apps: [DEFAULT_APP] });
    let client;
    try {
      client = await WsClient.connect(server.wsUrl());
      await client.next();
      const exit = await server.stop();
      assert.equal(server.killedHard, undefined, 'server ignored SIGTERM for 5 s and was killed');
      assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null });
      const closed = await client.waitClose(3000);
      assert.ok(closed.code > 0);
    } catch (err) {
      server.dumpLog('lifecycle test failed');
      throw err;
    } finally {
      if (client) client.ws.terminate();
      await server.stop();
    }
  });
});

// SO_REUSEPORT would let a second server bind a port that is already served and take half its
// connections, so publishes and subscribers would land on different processes: it is refused.
describe('a second server on a port already served', () => {
  it('exits 1 with "Address already in use"; the first keeps serving', { timeout: 30000 }, async () => {
    const server = await startServer({ apps: [DEFAULT_APP] });
    try {
      for (const host of ['127.0.0.1', '0.0.0.0']) {
        // (--allow-dev-credentials: without a config the development app is refused on 0.0.0.0.)
        const second = spawnSync(binaryPath(), ['start', '--host', host, '--port', String(server.port), '--allow-dev-credentials'],
          { encoding: 'utf8', timeout: 10000 });
        const output = `${second.stdout}${second.stderr}`;
        assert.equal(second.status, 1, `second server on ${host}: status ${second.status}, signal ${second.signal}, output:\n${output}`);
        assert.match(output, new RegExp(`cannot listen on ${host.replace(/\./g, '\\.')}:${server.port}: Address already in use`));
      }
      await assertUp(server.port);
      const client = await connectedClient(server);
      const channel = uniqueName('one-server');
      await subscribe(client, channel);
      const got = new Promise((resolve) => client.channel(channel).bind('ping', resolve));
      await triggerOk(createRestClient(server), channel, 'ping', { n: 1 });
      assert.deepEqual(await got, { n: 1 });
      disconnectAll([client]);
    } catch (err) {
      server.dumpLog('second-server test failed');
      throw err;
    } finally {
      await server.stop();
    }
  });
});

// A request must be complete within the handshake timeout of its first byte: a slowloris peer
// trickling one header byte at a time gets 408 and the connection closes, as with nginx.
describe('slow requests', () => {
  let server;
  before(async () => {
    server = await startServer({ apps: [DEFAULT_APP], server: { handshake_timeout: 2 } });
  });
  after(async () => {
    if (server) await server.stop();
  });

  // Sends `prefix` at once, then one byte of filler header every 300 ms until the server
  // answers or closes; resolves with what came back and how long it took.
  function trickle(prefix) {
    const net = require('node:net');
    return new Promise((resolve, reject) => {
      const sock = net.connect(server.port, '127.0.0.1');
      let got = '';
      let timer;
      const started = Date.now();
      const finish = () => {
        clearInterval(timer);
        sock.destroy();
        resolve({ got, ms: Date.now() - started });
      };
      sock.on('connect', () => {
        sock.write(prefix);
        timer = setInterval(() => sock.write('X'), 300);
      });
      sock.on('data', (d) => { got += d.toString('latin1'); });
      sock.on('close', finish);
      sock.on('error', (err) => (err.code === 'ECONNRESET' || err.code === 'EPIPE' ? finish() : reject(err)));
      setTimeout(finish, 15000); // far past the 2 s limit: the old behaviour never answered
    });
  }

  it('a header sent one byte at a time gets 408 within the timeout of its first byte', { timeout: 30000 }, async () => {
    const { got, ms } = await trickle('GET /up HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    assert.match(got, /^HTTP\/1\.1 408 /, `answer after ${ms} ms: ${JSON.stringify(got.slice(0, 200))}`);
    assert.ok(ms < 14000, `the connection was still open after ${ms} ms`);
  });

  it('so does a second request trickled on a kept-alive connection', { timeout: 30000 }, async () => {
    const { got, ms } = await trickle('GET /up HTTP/1.1\r\nHost: x\r\n\r\nGET /up HTTP/1.1\r\nX-Slow: ');
    assert.match(got, /^HTTP\/1\.1 200 /, got.slice(0, 200));
    assert.match(got, /HTTP\/1\.1 408 /, `answer after ${ms} ms: ${JSON.stringify(got.slice(0, 400))}`);
    assert.ok(ms < 14000, `the connection was still open after ${ms} ms`);
  });
});
