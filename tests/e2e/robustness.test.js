'use strict';

// Bad behaviour from some clients must not cost other users anything: a subscriber that stops
// reading is closed as a slow consumer (4100) once its unsent bytes pass the server's budget,
// and a flood of garbage (random bytes before and after the WebSocket handshake, random frames,
// random JSON) gets errors and closes, never a crash. Meanwhile a well-behaved subscriber on the
// same channel receives every event, in order.

const assert = require('node:assert/strict');
const net = require('node:net');
const { describe, it } = require('node:test');
const { useServer, HOST } = require('./lib/server');
const { connectPusher, closeAll, RawWs, rawConnectPusher } = require('./lib/ws');
const { subscribeRaw, expectSucceeded } = require('./lib/proto');
const { createRestClient } = require('./lib/pusher');
const { uniqueName, waitUntil, sleep } = require('./lib/util');

const T = { timeout: 60000 };
const BUDGET = 256 * 1024; // the server's max_pending_write_bytes in these tests

// A small deterministic generator, so a failure can be replayed from the seed it prints.
function prng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomBytes(rand, n) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i += 1) b[i] = Math.floor(rand() * 256);
  return b;
}

// A random JSON-ish text: sometimes valid Pusher-shaped, sometimes wrong types, sometimes broken.
function randomMessage(rand) {
  const events = ['pusher:subscribe', 'pusher:unsubscribe', 'pusher:ping', 'pusher:signin', 'client-x', 'x', ''];
  const values = [null, 1, -1, 1e308, true, 'x', '', [], {}, [1, [2, [3]]], { channel: 7 }, { channel: '#bad' }];
  const pick = (list) => list[Math.floor(rand() * list.length)];
  switch (Math.floor(rand() * 6)) {
    case 0:
      return JSON.stringify({ event: pick(events), data: pick(values) });
    case 1:
      return JSON.stringify({ event: pick(values), channel: pick(values), data: pick(events) });
    case 2:
      return '['.repeat(1 + Math.floor(rand() * 2000)); // deep nesting, unterminated
    case 3:
      return JSON.stringify({ event: 'pusher:subscribe', data: { channel: `private-${'a'.repeat(Math.floor(rand() * 300))}`, auth: pick(values) } });
    case 4:
      return randomBytes(rand, 1 + Math.floor(rand() * 64)).toString('latin1');
    default:
      return `{"event":"${pick(events)}","data":${'{"a":'.repeat(50)}1${'}'.repeat(Math.floor(rand() * 60))}`;
  }
}

// Events numbered from..from+n-1 in batches of 10 (batch_events), each carrying `size` bytes of data.
// With `pace`, each batch waits until pace() (events some reader has had) is at most `window`
// behind: that is what makes that reader "healthy" by definition, however loaded the machine.
async function publishNumbered(rest, channel, n, size, { pace, window = 0, from = 0 } = {}) {
  const pad = 'x'.repeat(size);
  n += from;
  for (let i = from; i < n; i += 10) {
    if (pace) await waitUntil(() => pace() >= i - window, { timeout: 20000, label: `reader within ${window} events of ${i}` });
    const batch = [];
    for (let j = i; j < Math.min(n, i + 10); j += 1) {
      batch.push({ channel, name: 'numbered', data: JSON.stringify({ n: j, pad }) });
    }
    const res = await rest.triggerBatch(batch);
    assert.equal(res.status, 200, await res.text());
  }
}

function numbersReceived(client, channel) {
  return client.inbox.all
    .filter((f) => f.json && f.json.event === 'numbered' && f.json.channel === channel)
    .map((f) => JSON.parse(f.json.data).n);
}

function assertAllInOrder(numbers, n, who) {
  assert.equal(numbers.length, n, `${who} received ${numbers.length} of ${n} events`);
  numbers.forEach((v, i) => assert.equal(v, i, `${who}: event ${i} arrived as ${v}`));
}

// Numbered events of 9,000 bytes, paced by the healthy reader, until the server has closed the
// slow one (or `max` events, which is far more than any budget lets it fall behind).
async function publishUntilOverloaded(server, rest, channel, healthy, max = 4000) {
  let n = 0;
  const closes = () => (server.log().match(/closing as a slow consumer/g) || []).length;
  const before = closes(); // earlier tests on this server closed theirs
  const overloaded = () => closes() > before;
  while (n < max && !overloaded()) {
    await publishNumbered(rest, channel, 10, 9000, { from: n, pace: () => numbersReceived(healthy, channel).length, window: 20 });
    n += 10;
  }
  assert.ok(overloaded(), `the server never closed the slow subscriber as a slow consumer after ${n} events`);
  return n;
}

// Lets a socket read about `bytesPerSecond`: paused, and resumed every 100 ms until that slice's
// allowance has arrived (a read can overshoot by one chunk, so the average is what counts).
function throttle(sock, bytesPerSecond) {
  let allowance = 0;
  sock.pause();
  sock.on('data', (chunk) => {
    allowance -= chunk.length;
    if (allowance <= 0) sock.pause();
  });
  const timer = setInterval(() => {
    allowance = Math.min(allowance + bytesPerSecond / 10, bytesPerSecond / 10);
    if (allowance > 0) sock.resume();
  }, 100);
  timer.unref(); // a failed test must not keep the process alive
  return () => clearInterval(timer);
}

// What a slow subscriber must have read by the end: a prefix of the events, in order, then the
// pusher:error 4100 and the close frame 4100 that tell pusher-js to back off and reconnect.
function assertToldOverCapacity(t, slow, channel, published) {
  const delivered = numbersReceived(slow, channel);
  const errors = slow.inbox.all.filter((f) => f.json && f.json.event === 'pusher:error');
  const closes = slow.inbox.all.filter((f) => f.code !== undefined);
  t.diagnostic(`slow subscriber: ${delivered.length} of ${published} events, then ${errors.length} pusher:error, close ${closes.map((f) => f.code).join(',') || 'none'}`);
  assert.ok(delivered.length < published, 'the slow subscriber cannot have had everything');
  delivered.forEach((v, i) => assert.equal(v, i, 'what the slow subscriber got is a prefix, in order'));
  assert.equal(errors.length, 1, 'one pusher:error');
  assert.equal(errors[0].json.data.code, 4100);
  assert.equal(closes.length, 1, 'one close frame');
  assert.equal(closes[0].code, 4100);
  const last = slow.inbox.all.filter((f) => f.json || f.code !== undefined).slice(-2);
  assert.equal(last[0], errors[0], 'the error comes after every event it was sent');
  assert.equal(last[1], closes[0], 'and the close frame last');
}

async function withEnd(raw) {
  const deadline = Date.now() + 15000;
  while (!raw.isEnded) {
    assert.ok(Date.now() < deadline, 'the server never closed the slow connection');
    await sleep(50);
  }
}

describe('a subscriber that cannot keep up', () => {
  const srv = useServer({ threads: 2, server: { max_pending_write_bytes: BUDGET } });

  // The healthy reader sets the pace (at most 20 events, 180 KB, behind: under the 256 KiB
  // budget even if none of it sat in kernel buffers), so a loaded machine that runs this Node
  // process slowly can never make a reading client look stalled.
  async function run(t, server, makeSlow) {
    const channel = uniqueName('slow');
    const rest = createRestClient(server);
    const healthy = await connectPusher(server.wsUrl());
    expectSucceeded(await subscribeRaw(healthy, channel), channel);
    const slow = await rawConnectPusher(server.port);
    slow.sendText(JSON.stringify({ event: 'pusher:subscribe', data: { channel } }));
    await slow.nextText((f) => f.json && f.json.event === 'pusher_internal:subscription_succeeded');
    const done = makeSlow(slow);

    const published = await publishUntilOverloaded(server, rest, channel, healthy);
    await waitUntil(() => numbersReceived(healthy, channel).length >= published, { timeout: 20000, label: 'healthy deliveries' });
    assertAllInOrder(numbersReceived(healthy, channel), published, 'the reading subscriber');
    await done();
    await withEnd(slow);
    assertToldOverCapacity(t, slow, channel, published);

    // The server is fine and the channel still works for everyone else.
    const after = await connectPusher(server.wsUrl());
    expectSucceeded(await subscribeRaw(after, channel), channel);
    await publishNumbered(rest, channel, 10, 10);
    await after.nextEvent('numbered', { channel });
    await closeAll([healthy, after]);
  }

  it('that stopped reading reads 4100 when it reads again; the others get everything', T, srv.wrap(async (t, server) => {
    await run(t, server, (slow) => {
      slow.sock.pause(); // the kernel buffers fill, then the server's queue
      return async () => {
        await sleep(500);
        slow.sock.resume();
      };
    });
  }));

  it('that reads at 300 KB/s reads 4100; the others get everything', T, srv.wrap(async (t, server) => {
    await run(t, server, (slow) => {
      const stop = throttle(slow.sock, 300 * 1024);
      return async () => {
        await withEnd(slow); // still reading slowly through what the kernel holds
        stop();
      };
    });
  }));
});

describe('a flood of garbage from other clients', () => {
  const srv = useServer({ threads: 2 });

  it('gets errors and closes, never a crash; a good subscriber misses nothing', T, srv.wrap(async (t, server) => {
    const seed = Number(process.env.RINGCAST_FUZZ_SEED || Date.now() % 1000000);
    t.diagnostic(`fuzz seed ${seed} (replay with RINGCAST_FUZZ_SEED=${seed})`);
    const rand = prng(seed);
    const channel = uniqueName('flood');
    const rest = createRestClient(server);
    const healthy = await connectPusher(server.wsUrl());
    expectSucceeded(await subscribeRaw(healthy, channel), channel);

    const garbage = [];
    // Random bytes where an HTTP request should be.
    for (let i = 0; i < 20; i += 1) {
      garbage.push(
        new Promise((resolve) => {
          const sock = net.connect({ host: HOST, port: server.port }, () => {
            sock.write(i % 2 ? randomBytes(rand, 1 + Math.floor(rand() * 9000)) : `GET /app/app-key HTTP/1.1\r\n${randomBytes(rand, 500).toString('latin1')}\r\n\r\n`);
          });
          sock.on('error', () => {});
          sock.on('close', resolve);
          setTimeout(() => sock.destroy(), 3000);
        }),
      );
    }
    // After the handshake: random frames (any opcode, masked or not, bad lengths) and random JSON.
    const raws = [];
    for (let i = 0; i < 20; i += 1) raws.push(await RawWs.connect(server.port, '/app/app-key?protocol=7&client=js&version=8.4.0'));
    const publishing = publishNumbered(rest, channel, 200, 100);
    for (let round = 0; round < 30; round += 1) {
      for (const raw of raws) {
        if (raw.isEnded) continue;
        try {
          if (rand() < 0.5) {
            raw.sendText(randomMessage(rand));
          } else if (rand() < 0.5) {
            raw.sendFrame(Math.floor(rand() * 16), randomBytes(rand, Math.floor(rand() * 200)), {
              fin: rand() < 0.8,
              mask: rand() < 0.9,
            });
          } else {
            raw.sock.write(randomBytes(rand, 1 + Math.floor(rand() * 100)));
          }
        } catch {
          /* the server may already have closed it */
        }
      }
      await sleep(5);
    }
    await publishing;
    await Promise.all(garbage);

    await waitUntil(() => numbersReceived(healthy, channel).length >= 200, { timeout: 10000, label: 'healthy deliveries' });
    assertAllInOrder(numbersReceived(healthy, channel), 200, 'the good subscriber');
    assert.ok(server.isAlive(), 'ringcast died under the flood');
    // Every garbage connection either got an answer (an error or a close) or is still open and
    // usable; none may hang the server. A fresh client still gets a normal session.
    const fresh = await connectPusher(server.wsUrl());
    expectSucceeded(await subscribeRaw(fresh, channel), channel);
    for (const raw of raws) raw.destroy();
    await closeAll([healthy, fresh]);
  }));
});
