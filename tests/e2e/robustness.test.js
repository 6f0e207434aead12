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

// Events numbered 0..n-1 in batches of 10 (batch_events), each carrying `size` bytes of data.
// With `pace`, each batch waits until pace() (events some reader has had) is at most `window`
// behind: that is what makes that reader "healthy" by definition, however loaded the machine.
async function publishNumbered(rest, channel, n, size, { pace, window = 0 } = {}) {
  const pad = 'x'.repeat(size);
  for (let i = 0; i < n; i += 10) {
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

describe('a subscriber that stops reading', () => {
  const srv = useServer({ threads: 2, server: { max_pending_write_bytes: BUDGET } });

  it('is closed with 4100 once over the budget; the others on the channel get everything', T, srv.wrap(async (t, server) => {
    const channel = uniqueName('slow');
    const rest = createRestClient(server);
    const healthy = await connectPusher(server.wsUrl());
    expectSucceeded(await subscribeRaw(healthy, channel), channel);
    const slow = await rawConnectPusher(server.port);
    slow.sendText(JSON.stringify({ event: 'pusher:subscribe', data: { channel } }));
    await slow.nextText((f) => f.json && f.json.event === 'pusher_internal:subscription_succeeded');
    slow.sock.pause(); // stops reading: the kernel buffers fill, then the server's queue

    // ~16 MB: more than loopback's socket buffers can hold, so the stalled reader's queue must
    // grow past the budget. The publisher is paced by the healthy reader (at most 20 events,
    // 180 KB, behind: under the 256 KiB budget even if none of it sat in kernel buffers), so a
    // loaded machine that runs this Node process slowly can never make a reading client look
    // stalled. Unpaced, a 16 MB burst against a 256 KiB budget closed the healthy reader too
    // whenever Node fell behind (4 of 8 runs on a loaded 2-core machine).
    const n = 1800;
    await publishNumbered(rest, channel, n, 9000, { pace: () => numbersReceived(healthy, channel).length, window: 20 });
    await waitUntil(() => numbersReceived(healthy, channel).length >= n, { timeout: 20000, label: 'healthy deliveries' });
    assertAllInOrder(numbersReceived(healthy, channel), n, 'the reading subscriber');
    assert.match(server.log(), /closing as a slow consumer/);

    // Reading again, the slow client finds its backlog and then the end of the connection:
    // the 4100 error and close frame when they still fit in the grace period, else just the FIN.
    slow.sock.resume();
    await withEnd(slow);
    const closes = slow.inbox.all.filter((f) => f.code !== undefined);
    if (closes.length) assert.equal(closes[0].code, 4100);
    const delivered = numbersReceived(slow, channel);
    t.diagnostic(`slow subscriber: ${delivered.length} of ${n} events, close frame ${closes.length ? closes[0].code : 'none'}`);
    assert.ok(delivered.length < n, 'the slow subscriber cannot have had everything');
    delivered.forEach((v, i) => assert.equal(v, i, 'what the slow subscriber got is a prefix, in order'));

    // The server is fine and the channel still works for everyone else.
    const after = await connectPusher(server.wsUrl());
    expectSucceeded(await subscribeRaw(after, channel), channel);
    await publishNumbered(rest, channel, 10, 10);
    await after.nextEvent('numbered', { channel });
    await closeAll([healthy, after]);
  }));
});

async function withEnd(raw) {
  const deadline = Date.now() + 15000;
  while (!raw.isEnded) {
    assert.ok(Date.now() < deadline, 'the server never closed the slow connection');
    await sleep(50);
  }
}

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
