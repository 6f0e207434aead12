#!/usr/bin/env node
'use strict';

// A webhook target for scripts/bench: listens on 127.0.0.1, answers 200 to every POST, checks
// each request's X-Pusher-Key and X-Pusher-Signature (hex HMAC-SHA256 of the raw body with the
// app's secret), and counts requests, events and events by name. It does as little as it can per
// request, since it shares the machine with the server being measured.
//
//   node bench/webhook-receiver.js --port P --key KEY --secret SECRET [--out FILE]
//
// GET /stats answers the totals as JSON; on SIGTERM or SIGINT they are written to FILE (or to
// stdout) and the receiver exits. "listening on 127.0.0.1:P" on stdout says it is ready.
// Node's own modules only, so it runs wherever the e2e tests do.

const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');

function parseArgs(argv) {
  const o = { port: 0, key: '', secret: '', out: '' };
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--/, '');
    if (!(name in o) || i + 1 >= argv.length) {
      process.stderr.write('usage: webhook-receiver.js --port P --key KEY --secret SECRET [--out FILE]\n');
      process.exit(2);
    }
    o[name] = name === 'port' ? Number(argv[i + 1]) : argv[i + 1];
  }
  if (!o.secret) {
    process.stderr.write('webhook-receiver: --secret is required (signatures are checked)\n');
    process.exit(2);
  }
  return o;
}

const opts = parseArgs(process.argv.slice(2));
const startedMs = Date.now();
const stats = {
  requests: 0,
  events: 0,
  by_name: {},
  invalid_signature: 0,
  wrong_key: 0,
  unparsable: 0,
  not_post: 0,
  bytes: 0,
  max_events_per_request: 0,
  // Wall-clock times of the first and last POST (ms since the epoch), and the largest lag seen
  // between a batch's time_ms (when the server closed it) and its arrival here.
  first_request_ms: null,
  last_request_ms: null,
  max_batch_lag_ms: 0,
};

function totals() {
  return { ...stats, uptime_ms: Date.now() - startedMs };
}

function onPost(req, body) {
  const now = Date.now();
  stats.requests += 1;
  stats.bytes += body.length;
  if (stats.first_request_ms === null) stats.first_request_ms = now;
  stats.last_request_ms = now;
  const expected = crypto.createHmac('sha256', opts.secret).update(body).digest('hex');
  const got = String(req.headers['x-pusher-signature'] || '');
  // timingSafeEqual needs equal lengths; a wrong length is simply a wrong signature.
  if (got.length !== expected.length ||
      !crypto.timingSafeEqual(Buffer.from(got), Buffer.from(expected))) {
    stats.invalid_signature += 1;
  }
  if (opts.key && req.headers['x-pusher-key'] !== opts.key) stats.wrong_key += 1;
  let parsed;
  try {
    parsed = JSON.parse(body);
  } catch {
    stats.unparsable += 1;
    return;
  }
  const events = Array.isArray(parsed.events) ? parsed.events : [];
  if (!Array.isArray(parsed.events)) stats.unparsable += 1;
  stats.events += events.length;
  stats.max_events_per_request = Math.max(stats.max_events_per_request, events.length);
  if (typeof parsed.time_ms === 'number') {
    stats.max_batch_lag_ms = Math.max(stats.max_batch_lag_ms, now - parsed.time_ms);
  }
  for (const ev of events) {
    const name = ev && typeof ev.name === 'string' ? ev.name : '(none)';
    stats.by_name[name] = (stats.by_name[name] || 0) + 1;
  }
}

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(totals()) + '\n');
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    if (req.method === 'POST') {
      onPost(req, Buffer.concat(chunks));
    } else {
      stats.not_post += 1;
    }
    res.writeHead(200, { 'Content-Length': '0' });
    res.end();
  });
});
// The server keeps one connection per target open between batches; do not cut it sooner than
// its own idle handling would.
server.keepAliveTimeout = 120000;

function finish() {
  const text = JSON.stringify(totals(), null, 2) + '\n';
  if (opts.out) fs.writeFileSync(opts.out, text);
  else process.stdout.write(text);
  process.exit(0);
}
process.on('SIGTERM', finish);
process.on('SIGINT', finish);

server.listen(opts.port, '127.0.0.1', () => {
  process.stdout.write(`listening on 127.0.0.1:${server.address().port}\n`);
});
