'use strict';

// Prometheus metrics: GET /metrics on the metrics port (--metrics-port; soketi's METRICS_ENABLED
// / METRICS_SERVER_PORT; the config file's server.metrics), parsed with a Prometheus text-format
// parser from npm. The counters move as a client connects, subscribes, fails an auth, receives
// a publish and leaves; /metrics is not served on the public port; the metrics port listens on
// 127.0.0.1 unless told otherwise.

const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const { describe, it, before, after } = require('node:test');
const parsePrometheus = require('parse-prometheus-text-format');
const { DEFAULT_APP, HOST, binaryPath, freePort, makeConfig, startServer } = require('./lib/server');
const { request } = require('./lib/http');
const { connectPusher } = require('./lib/ws');
const { subscribeOk, subscribeRaw } = require('./lib/proto');
const { createRestClient, triggerOk } = require('./lib/pusher');
const { uniqueName, waitUntil } = require('./lib/util');

const T = { timeout: 20000 };

// One scrape, parsed: {families: Map name -> family, text}.
async function scrape(port) {
  const res = await request(port, { path: '/metrics' });
  assert.equal(res.status, 200, `GET /metrics: ${res.status} ${res.body}`);
  assert.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  const families = new Map(parsePrometheus(res.body).map((f) => [f.name, f]));
  return { families, text: res.body };
}

// The sum of a family's samples whose labels include `labels` (0 when there are none).
function value(s, name, labels = {}) {
  const family = s.families.get(name);
  assert.ok(family, `no metric family ${name} in the scrape`);
  let total = 0;
  for (const m of family.metrics) {
    const l = m.labels || {};
    if (Object.entries(labels).every(([k, v]) => l[k] === v)) total += Number(m.value);
  }
  return total;
}

// Waits until every expectation {name, labels, delta} holds between `before` and a new scrape
// (subscription counts reach their owner shard by mail: a moment later, not at once).
async function expectDeltas(port, before, expectations) {
  let last;
  try {
    await waitUntil(
      async () => {
        last = await scrape(port);
        return expectations.every(({ name, labels, delta }) => value(last, name, labels) - value(before, name, labels) === delta);
      },
      { timeout: 5000, label: 'metrics to move' },
    );
  } catch (err) {
    for (const { name, labels, delta } of expectations) {
      const moved = value(last, name, labels) - value(before, name, labels);
      assert.equal(moved, delta, `${name}${JSON.stringify(labels || {})} moved by ${moved}, expected ${delta}`);
    }
    throw err;
  }
  return last;
}

// The local address of the TCP socket listening on `port` (from /proc/net/tcp).
function listeningAddress(port) {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const line of fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length > 3 && cols[3] === '0A' && cols[1].endsWith(`:${hexPort}`)) {
      const hex = cols[1].split(':')[0];
      return [3, 2, 1, 0].map((i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16)).join('.');
    }
  }
  return null;
}

function connectRefused(host, port) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.on('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.on('error', (err) => resolve(err.code === 'ECONNREFUSED'));
  });
}

describe('metrics', () => {
  let server;
  let metricsPort;
  const app = DEFAULT_APP;
  const labels = { app_id: app.id };

  before(async () => {
    metricsPort = await freePort();
    server = await startServer({ args: ['--metrics-port', String(metricsPort)] });
  });
  after(async () => {
    if (server) await server.stop();
  });

  it('counts a connection, its subscriptions, a failed auth and a publish, then its close', T, async () => {
    const rest = createRestClient(server);
    const channel = uniqueName('metrics');
    const s0 = await scrape(metricsPort);

    const client = await connectPusher(server.wsUrl());
    await subscribeOk(client, app, channel);
    const refused = await subscribeRaw(client, `private-${channel}`, { auth: `${app.key}:${'0'.repeat(64)}` });
    assert.equal(refused.event, 'pusher:subscription_error');
    const arrived = client.next((m) => m.json && m.json.event === 'metrics-test', { label: 'the published event' });
    await triggerOk(rest, channel, 'metrics-test', { n: 1 });
    await arrived;

    const s1 = await expectDeltas(metricsPort, s0, [
      { name: 'soketi_connected', labels, delta: 1 },
      { name: 'soketi_new_connections_total', labels, delta: 1 },
      { name: 'soketi_ws_messages_received', labels, delta: 2 }, // the two subscribes
      // connection_established, subscription_succeeded, subscription_error, the event
      { name: 'soketi_ws_messages_sent', labels, delta: 4 },
      { name: 'soketi_http_calls_received_total', labels, delta: 1 },
      { name: 'ringcast_subscriptions', labels: { type: 'public' }, delta: 1 },
      { name: 'ringcast_subscriptions_total', labels: { type: 'public' }, delta: 1 },
      { name: 'ringcast_channels', labels: { type: 'public' }, delta: 1 },
      { name: 'ringcast_auth_failures_total', labels: { reason: 'wrong_signature' }, delta: 1 },
      { name: 'ringcast_broadcasts_total', delta: 1 },
      { name: 'ringcast_deliveries_total', delta: 1 },
      { name: 'ringcast_http_requests_total', labels: { endpoint: 'events', status: '200' }, delta: 1 },
    ]);
    assert.ok(value(s1, 'soketi_socket_received_bytes', labels) > value(s0, 'soketi_socket_received_bytes', labels));
    assert.ok(value(s1, 'soketi_socket_transmitted_bytes', labels) > value(s0, 'soketi_socket_transmitted_bytes', labels));
    assert.ok(value(s1, 'soketi_http_received_bytes', labels) > value(s0, 'soketi_http_received_bytes', labels));
    assert.ok(value(s1, 'ringcast_received_bytes_total') > value(s0, 'ringcast_received_bytes_total'));
    assert.ok(value(s1, 'ringcast_sent_bytes_total') > value(s0, 'ringcast_sent_bytes_total'));
    // The parser keeps one label set of a histogram only; the line itself says enough.
    assert.match(s1.text, /^ringcast_http_request_duration_seconds_count\{endpoint="events"\} [1-9]/m);
    assert.match(s1.text, /^ringcast_http_request_duration_seconds_bucket\{endpoint="events",le="\+Inf"\} [1-9]/m);
    assert.equal(s1.families.get('ringcast_shard_cpu_seconds_total').metrics.length, 2, 'one series per shard');

    await client.shutdown();
    await expectDeltas(metricsPort, s1, [
      { name: 'soketi_connected', labels, delta: -1 },
      { name: 'soketi_new_disconnections_total', labels, delta: 1 },
      { name: 'ringcast_subscriptions', labels: { type: 'public' }, delta: -1 },
      { name: 'ringcast_channels', labels: { type: 'public' }, delta: -1 },
    ]);
  });

  it('counts client events refused, by reason', T, async () => {
    const client = await connectPusher(server.wsUrl());
    const s0 = await scrape(metricsPort);
    client.send({ event: 'client-typing', channel: uniqueName('public'), data: {} });
    await client.next((m) => m.json && m.json.event === 'pusher:error', { label: 'the refusal' });
    await expectDeltas(metricsPort, s0, [{ name: 'ringcast_client_events_rejected_total', labels: { reason: 'channel_kind' }, delta: 1 }]);
    await client.shutdown();
  });

  it('is not served on the public port', T, async () => {
    const res = await request(server.port, { path: '/metrics' });
    assert.equal(res.status, 404);
    assert.equal(typeof res.json.error, 'string');
  });

  it('answers only GET /metrics on the metrics port', T, async () => {
    const other = await request(metricsPort, { path: '/up' });
    assert.equal(other.status, 404);
    const post = await request(metricsPort, { method: 'POST', path: '/metrics', body: '' });
    assert.equal(post.status, 405);
  });

  it('listens on 127.0.0.1 by default', T, async () => {
    assert.equal(listeningAddress(metricsPort), '127.0.0.1');
    assert.equal(await connectRefused('127.0.0.2', metricsPort), true, 'another loopback address is refused');
  });
});

describe('metrics settings', () => {
  it("takes soketi's METRICS_ENABLED and METRICS_SERVER_PORT", T, async () => {
    const port = await freePort();
    const server = await startServer({ env: { METRICS_ENABLED: 'true', METRICS_SERVER_PORT: String(port) } });
    try {
      const s = await scrape(port);
      assert.equal(value(s, 'soketi_connected', { app_id: DEFAULT_APP.id }), 0);
    } finally {
      await server.stop();
    }
  });

  it('takes the config file\'s server.metrics and RINGCAST_METRICS_HOST', T, async () => {
    const port = await freePort();
    const server = await startServer({
      config: makeConfig({ server: { metrics: { port, host: '127.0.0.1' } } }),
      env: { RINGCAST_METRICS_HOST: '0.0.0.0' },
    });
    try {
      await scrape(port);
      assert.equal(listeningAddress(port), '0.0.0.0');
    } finally {
      await server.stop();
    }
  });

  it('refuses a metrics port that is the public port', T, async () => {
    const port = await freePort();
    const run = spawnSync(binaryPath(), ['start', '--host', HOST, '--port', String(port), '--metrics-port', String(port)], {
      env: { PATH: process.env.PATH },
      encoding: 'utf8',
      timeout: 10000,
    });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /metrics port \(\d+\) must differ/);
  });
});
