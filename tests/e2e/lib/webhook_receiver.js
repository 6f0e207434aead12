'use strict';

// A scriptable webhook receiver (plain http or https) on 127.0.0.1:<free port> for the webhook
// tests. It records every request (method, path, headers, raw body, arrival time) and checks
// each one twice: with the real `pusher` SDK (`webhook({headers, rawBody}).isValid()` and
// getEvents()) and the way a PHP app does it by hand (hex HMAC-SHA256 of the raw body with the
// secret equals X-Pusher-Signature, X-Pusher-Key equals the key). Anything that fails either
// check lands in `problems`; assertAllValid() fails a test on them.
//
//   const rx = await WebhookReceiver.start({ app });            // answers 200
//   rx.setMode({ fail: 3, status: 500 });   // 500 three times, then 200
//   rx.setMode('hang');                     // read the request, never answer
//   rx.setMode('reset');                    // read the request, then reset the connection
//   rx.url('/hook')                         // http://127.0.0.1:PORT/hook (https://... with tls)
//
// Options of start(): tls {key, cert}; host (default 127.0.0.1, e.g. '::1'); idleCloseMs (close
// (FIN) a keep-alive connection that stays idle this long after an answer; default: keep it
// 30 s, as Node's own keepAliveTimeout does not reliably close it); okStatus (the success status,
// default 200); chunked (answer with Transfer-Encoding: chunked); close (answer with
// Connection: close and close the connection).
//
// Certificates for the https receiver come from makeCertificates() (the openssl CLI, into a
// temporary directory: nothing is committed).

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const path = require('node:path');
const PusherServer = require('pusher');
const { HOST } = require('./server');
const { waitUntil } = require('./util');

class WebhookReceiver {
  constructor(app, { tls, host = HOST, idleCloseMs = 0, okStatus = 200, chunked = false, close = false } = {}) {
    this.app = app;
    this.tls = tls || null;
    this.host = host;
    this.idleCloseMs = idleCloseMs;
    this.idleCloses = 0; // connections this side closed for being idle
    this.okStatus = okStatus;
    this.chunked = chunked;
    this.closeAfter = close;
    this.sdk = new PusherServer({ appId: app.id, key: app.key, secret: app.secret });
    this.requests = []; // {method, path, headers, rawBody, at, body, events, answered}
    this.problems = [];
    this.mode = 'ok';
    this.failuresLeft = 0;
    this.failStatus = 500;
    this.sockets = new Set();
    this.server = null;
    this.port = 0;
  }

  static async start(app, options = {}) {
    const rx = new WebhookReceiver(app, options);
    await rx.listen();
    return rx;
  }

  listen() {
    const handler = (req, res) => this.onRequest(req, res);
    this.server = this.tls ? https.createServer({ key: this.tls.key, cert: this.tls.cert }, handler) : http.createServer(handler);
    this.server.keepAliveTimeout = 30000;
    // TCP connections accepted (a TLS handshake the client gives up on still counts here).
    this.connections = 0;
    this.server.on('connection', () => {
      this.connections += 1;
    });
    const connEvent = this.tls ? 'secureConnection' : 'connection';
    this.server.on(connEvent, (sock) => {
      this.sockets.add(sock);
      sock.on('close', () => this.sockets.delete(sock));
    });
    // TLS handshakes that failed on this side (a client refusing the certificate may also just
    // close the connection).
    this.tlsErrors = [];
    this.server.on('tlsClientError', (err) => this.tlsErrors.push(err.message));
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, this.host, () => {
        this.port = this.server.address().port;
        resolve();
      });
    });
  }

  url(urlPath = '/hook') {
    const host = this.host.includes(':') ? `[${this.host}]` : this.host;
    return `${this.tls ? 'https' : 'http'}://${host}:${this.port}${urlPath}`;
  }

  // 'ok' | 'hang' | 'reset' | {fail: N, status}
  setMode(mode) {
    if (typeof mode === 'object') {
      this.mode = 'fail';
      this.failuresLeft = mode.fail;
      this.failStatus = mode.status || 500;
    } else {
      this.mode = mode;
    }
  }

  onRequest(req, res) {
    const sock = req.socket;
    if (sock.idleTimer) clearTimeout(sock.idleTimer);
    if (this.idleCloseMs) {
      res.on('finish', () => {
        sock.idleTimer = setTimeout(() => {
          this.idleCloses += 1;
          sock.end();
        }, this.idleCloseMs);
      });
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const rec = {
        method: req.method,
        path: req.url,
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        rawBody,
        at: Date.now(),
        body: null,
        events: [],
        answered: null,
      };
      this.validate(rec);
      this.requests.push(rec);
      if (this.mode === 'hang') {
        rec.answered = 'hang';
        return;
      }
      if (this.mode === 'reset') {
        rec.answered = 'reset';
        if (typeof req.socket.resetAndDestroy === 'function') req.socket.resetAndDestroy();
        else req.socket.destroy();
        return;
      }
      let status = this.okStatus;
      if (this.mode === 'fail' && this.failuresLeft > 0) {
        this.failuresLeft -= 1;
        status = this.failStatus;
      }
      const ok = status === this.okStatus;
      // `answered` is 200 for every success, whatever okStatus is, so delivered() finds them.
      rec.answered = ok ? 200 : status;
      rec.status = status;
      const headers = { 'Content-Type': 'text/plain' };
      if (this.closeAfter) headers.Connection = 'close';
      if (status === 204) {
        res.writeHead(status, headers);
        res.end();
      } else if (this.chunked) {
        res.writeHead(status, headers); // no Content-Length: Node answers chunked
        res.write(ok ? 'o' : 'try ');
        setTimeout(() => res.end(ok ? 'k' : 'again'), 20);
      } else {
        res.writeHead(status, headers);
        res.end(ok ? 'ok' : 'try again');
      }
    });
  }

  problem(rec, text) {
    this.problems.push(`${rec.method} ${rec.path} at ${rec.at}: ${text}; headers ${JSON.stringify(rec.headers)} body ${rec.rawBody.slice(0, 300)}`);
  }

  validate(rec) {
    const { app } = this;
    if (rec.method !== 'POST') this.problem(rec, `method ${rec.method}, expected POST`);
    if (rec.headers['content-type'] !== 'application/json') this.problem(rec, `Content-Type ${rec.headers['content-type']}`);
    // By hand, the way a PHP app checks it.
    const expected = crypto.createHmac('sha256', app.secret).update(rec.rawBody, 'utf8').digest('hex');
    if (rec.headers['x-pusher-signature'] !== expected) {
      this.problem(rec, `X-Pusher-Signature ${rec.headers['x-pusher-signature']} is not hex HMAC-SHA256(body, secret) ${expected}`);
    }
    if (rec.headers['x-pusher-key'] !== app.key) this.problem(rec, `X-Pusher-Key ${rec.headers['x-pusher-key']}, expected ${app.key}`);
    // With the real SDK.
    let hook;
    try {
      hook = this.sdk.webhook({ headers: rec.headers, rawBody: rec.rawBody });
    } catch (err) {
      this.problem(rec, `pusher.webhook() threw ${err.message}`);
      return;
    }
    if (!hook.isValid()) {
      this.problem(rec, 'pusher.webhook().isValid() is false');
      return;
    }
    try {
      rec.events = hook.getEvents();
      rec.body = hook.getData();
      rec.timeMs = hook.getTime().getTime();
    } catch (err) {
      this.problem(rec, `getEvents()/getData() threw ${err.message}`);
      return;
    }
    const body = rec.body;
    if (typeof body.time_ms !== 'number' || Math.abs(body.time_ms - rec.at) > 60000) {
      this.problem(rec, `time_ms ${body.time_ms} is not a current time in ms`);
    }
    if (!Array.isArray(body.events) || body.events.length === 0) this.problem(rec, 'no events array');
    for (const e of rec.events) {
      if (typeof e.name !== 'string' || typeof e.channel !== 'string') this.problem(rec, `event without name/channel: ${JSON.stringify(e)}`);
    }
  }

  // Requests answered (or being answered) with success, i.e. deliveries.
  delivered() {
    return this.requests.filter((r) => r.answered === 200);
  }

  // Every event of every request (retries included), each with the index of its request.
  allEvents() {
    const out = [];
    this.requests.forEach((r, i) => {
      for (const e of r.events) out.push({ ...e, request: i });
    });
    return out;
  }

  // Events of the requests answered 200 only.
  deliveredEvents() {
    const out = [];
    this.requests.forEach((r, i) => {
      if (r.answered !== 200) return;
      for (const e of r.events) out.push({ ...e, request: i });
    });
    return out;
  }

  eventsFor(channel, { all = false } = {}) {
    return (all ? this.allEvents() : this.deliveredEvents()).filter((e) => e.channel === channel);
  }

  // Waits until pred(deliveredEvents()) is truthy.
  async waitEvents(pred, { timeout = 5000, label = 'webhook events' } = {}) {
    try {
      return await waitUntil(() => pred(this.deliveredEvents()), { timeout, interval: 20, label });
    } catch (err) {
      err.message += `; received so far: ${JSON.stringify(this.allEvents()).slice(0, 2000)}`;
      throw err;
    }
  }

  // Waits until a delivered event matches every field of `fields`.
  waitEvent(fields, opts = {}) {
    const match = (e) => Object.entries(fields).every(([k, v]) => e[k] === v);
    return this.waitEvents((evs) => evs.find(match), { label: `webhook event ${JSON.stringify(fields)}`, ...opts });
  }

  async waitRequests(n, { timeout = 5000, label } = {}) {
    await waitUntil(() => this.requests.length >= n, { timeout, label: label || `${n} webhook requests (have ${this.requests.length})` });
    return this.requests;
  }

  assertAllValid() {
    assert.deepEqual(this.problems, [], 'every webhook request must pass the SDK and the raw signature check');
  }

  reset() {
    this.requests = [];
    this.problems = [];
    this.tlsErrors = [];
    this.connections = 0;
  }

  async close() {
    for (const s of this.sockets) s.destroy();
    if (this.server) await new Promise((resolve) => this.server.close(() => resolve()));
  }
}

function run(file, args) {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: 20000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(' ')} failed: ${error.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

// A CA and a server certificate it signs for 127.0.0.1 (subjectAltName IP:127.0.0.1), made with
// the openssl CLI into `dir`. Returns paths and contents.
async function makeCertificates(dir, openssl = 'openssl') {
  const p = (name) => path.join(dir, name);
  await run(openssl, [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '2', '-subj', '/CN=ringcast webhook test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await run(openssl, [
    'req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', p('server.key'), '-out', p('server.csr'), '-subj', '/CN=127.0.0.1',
  ]);
  fs.writeFileSync(p('ext.cnf'), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  await run(openssl, [
    'x509', '-req', '-in', p('server.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial',
    '-out', p('server.pem'), '-days', '2', '-extfile', p('ext.cnf'),
  ]);
  return {
    caFile: p('ca.pem'),
    certFile: p('server.pem'),
    keyFile: p('server.key'),
    cert: fs.readFileSync(p('server.pem')),
    key: fs.readFileSync(p('server.key')),
  };
}

module.exports = { WebhookReceiver, makeCertificates };
