'use strict';

// WebSocket test clients.
//
// WsClient  — built on the `ws` package: records every text frame (parsed as JSON when
//             possible) and the close code, with timed waits.
// RawWs     — a hand-written RFC 6455 client on a bare TCP socket, for frames `ws` refuses to
//             send (unmasked frames, invalid UTF-8, hand-made fragmentation).

const crypto = require('node:crypto');
const net = require('node:net');
const WebSocket = require('ws');
const { withTimeout, sleep, deferred } = require('./util');
const { HOST } = require('./server');

const DEFAULT_TIMEOUT_MS = 5000;
const SOCKET_ID_RE = /^\d+\.\d+$/;

function parseMaybeJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

// A queue of received items with "wait for the first item matching pred" semantics.
// Items that do not match stay queued for later waits.
class Inbox {
  constructor() {
    this.items = [];
    this.waiters = [];
    this.all = [];
  }

  push(item) {
    this.all.push(item);
    for (let i = 0; i < this.waiters.length; i += 1) {
      const w = this.waiters[i];
      if (w.pred(item)) {
        this.waiters.splice(i, 1);
        w.resolve(item);
        return;
      }
    }
    this.items.push(item);
  }

  take(pred, timeout, label) {
    const idx = this.items.findIndex(pred);
    if (idx >= 0) return Promise.resolve(this.items.splice(idx, 1)[0]);
    const d = deferred();
    const waiter = { pred, resolve: d.resolve };
    this.waiters.push(waiter);
    return withTimeout(d.promise, timeout, label).catch((err) => {
      const i = this.waiters.indexOf(waiter);
      if (i >= 0) this.waiters.splice(i, 1);
      throw err;
    });
  }

  // Drops queued items (e.g. before asserting that nothing new arrives).
  clear() {
    this.items = [];
  }
}

class WsClient {
  constructor(ws, url) {
    this.ws = ws;
    this.url = url;
    this.inbox = new Inbox();
    this.frames = []; // every text message in arrival order: {text, json}
    this.binaryFrames = [];
    this.pongs = [];
    this.closeInfo = null;
    this.closed = deferred();
    this.socketId = null;
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        this.binaryFrames.push(data);
        return;
      }
      const text = data.toString('utf8');
      const msg = { text, json: parseMaybeJson(text) };
      this.frames.push(msg);
      this.inbox.push(msg);
    });
    ws.on('pong', (data) => this.pongs.push(data));
    ws.on('close', (code, reason) => {
      this.closeInfo = { code, reason: reason.toString('utf8') };
      this.closed.resolve(this.closeInfo);
    });
    ws.on('error', (err) => {
      this.lastError = err;
    });
  }

  // Opens a WebSocket. Rejects if the handshake fails (non-101 answer, reset, timeout).
  // ca: CA certificate(s) to verify a wss:// server against (nginx.test.js). tls: more options
  // for tls.connect (servername, cert, key, maxVersion...).
  static connect(url, { timeout = DEFAULT_TIMEOUT_MS, autoPong = true, headers, ca, tls } = {}) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, {
        perMessageDeflate: false,
        handshakeTimeout: timeout,
        autoPong,
        headers,
        ...(ca ? { ca } : {}),
        ...tls,
      });
      const client = new WsClient(ws, url);
      let settled = false;
      ws.once('open', () => {
        settled = true;
        resolve(client);
      });
      ws.once('unexpected-response', (req, res) => {
        settled = true;
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const err = new Error(
            `WebSocket upgrade to ${url} answered HTTP ${res.statusCode}: ${Buffer.concat(chunks).toString('utf8')}`,
          );
          err.status = res.statusCode;
          reject(err);
        });
        req.destroy();
      });
      ws.once('error', (err) => {
        if (!settled) {
          settled = true;
          reject(new Error(`WebSocket connect to ${url} failed: ${err.message}`));
        }
      });
    });
  }

  get isOpen() {
    return this.ws.readyState === WebSocket.OPEN;
  }

  send(msg) {
    this.ws.send(typeof msg === 'string' || Buffer.isBuffer(msg) ? msg : JSON.stringify(msg));
  }

  sendBinary(buf) {
    this.ws.send(buf, { binary: true });
  }

  // Next text frame (JSON-parsed into .json when possible) matching pred.
  next(pred = () => true, { timeout = DEFAULT_TIMEOUT_MS, label = 'WebSocket message' } = {}) {
    return this.inbox.take(pred, timeout, `${label} on ${this.url}`);
  }

  // Next frame whose JSON `event` (and optionally `channel`) match.
  nextEvent(event, { channel, timeout = DEFAULT_TIMEOUT_MS } = {}) {
    return this.next(
      (m) => m.json && m.json.event === event && (channel === undefined || m.json.channel === channel),
      { timeout, label: `event ${event}${channel ? ` on ${channel}` : ''}` },
    ).then((m) => m.json);
  }

  // Resolves {code, reason} when the connection closes.
  waitClose(timeout = DEFAULT_TIMEOUT_MS) {
    return withTimeout(this.closed.promise, timeout, `close of ${this.url}`);
  }

  // Asserts (by returning the offending frame, or null) that nothing matching pred arrives
  // within ms. Already-queued frames count too.
  async noMessage(pred = () => true, ms = 300) {
    const found = this.inbox.items.find(pred);
    if (found) return found;
    try {
      return await this.inbox.take(pred, ms, 'absence check');
    } catch {
      return null;
    }
  }

  // pusher:subscribe and wait for pusher_internal:subscription_succeeded (or fail fast on an
  // error answer). Returns the success frame.
  async subscribe(channel, { timeout = DEFAULT_TIMEOUT_MS } = {}) {
    this.send({ event: 'pusher:subscribe', data: { channel, auth: '' } });
    const reply = await this.next(
      (m) =>
        m.json &&
        ((m.json.event === 'pusher_internal:subscription_succeeded' && m.json.channel === channel) ||
          (m.json.event === 'pusher:subscription_error' && m.json.channel === channel) ||
          m.json.event === 'pusher:error'),
      { timeout, label: `subscription to ${channel}` },
    );
    if (reply.json.event !== 'pusher_internal:subscription_succeeded') {
      throw new Error(`subscribe to ${channel} failed: ${reply.text}`);
    }
    return reply.json;
  }

  close(code = 1000) {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      try {
        this.ws.close(code);
      } catch {
        this.ws.terminate();
      }
    }
  }

  // Closes and waits briefly for the close to complete; never throws.
  async shutdown(timeout = 2000) {
    if (this.closeInfo) return;
    this.close();
    try {
      await this.waitClose(timeout);
    } catch {
      this.ws.terminate();
    }
  }
}

// Connects to the Pusher endpoint and consumes pusher:connection_established.
async function connectPusher(url, opts = {}) {
  const client = await WsClient.connect(url, opts);
  const first = await client.next(() => true, { timeout: opts.timeout || DEFAULT_TIMEOUT_MS, label: 'first frame' });
  client.firstFrame = first;
  if (!first.json || first.json.event !== 'pusher:connection_established') {
    client.ws.terminate();
    throw new Error(`expected pusher:connection_established as the first frame, got ${first.text}`);
  }
  const data = typeof first.json.data === 'string' ? parseMaybeJson(first.json.data) : first.json.data;
  client.established = data;
  client.socketId = data && data.socket_id;
  return client;
}

async function closeAll(clients) {
  await Promise.all(clients.filter(Boolean).map((c) => c.shutdown()));
}

// ---------------------------------------------------------------------------------------
// Raw RFC 6455 client.

const OP = { CONT: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa };

// Encodes one frame. Client frames are masked unless mask === false.
function encodeFrame(opcode, payload = Buffer.alloc(0), { fin = true, mask = true } = {}) {
  const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8');
  const len = data.length;
  let header;
  if (len < 126) {
    header = Buffer.alloc(2);
    header[1] = len;
  } else if (len < 65536) {
    header = Buffer.alloc(4);
    header[1] = 126;
    header.writeUInt16BE(len, 2);
  } else {
    header = Buffer.alloc(10);
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(len), 2);
  }
  header[0] = (fin ? 0x80 : 0) | opcode;
  if (!mask) return Buffer.concat([header, data]);
  header[1] |= 0x80;
  const key = crypto.randomBytes(4);
  const masked = Buffer.alloc(len);
  for (let i = 0; i < len; i += 1) masked[i] = data[i] ^ key[i & 3];
  return Buffer.concat([header, key, masked]);
}

// Decodes complete frames from buf. Returns {frames, rest}.
function decodeFrames(buf) {
  const frames = [];
  let off = 0;
  for (;;) {
    if (buf.length - off < 2) break;
    const b0 = buf[off];
    const b1 = buf[off + 1];
    let len = b1 & 0x7f;
    let p = off + 2;
    if (len === 126) {
      if (buf.length - p < 2) break;
      len = buf.readUInt16BE(p);
      p += 2;
    } else if (len === 127) {
      if (buf.length - p < 8) break;
      len = Number(buf.readBigUInt64BE(p));
      p += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    let key = null;
    if (masked) {
      if (buf.length - p < 4) break;
      key = buf.subarray(p, p + 4);
      p += 4;
    }
    if (buf.length - p < len) break;
    let payload = Buffer.from(buf.subarray(p, p + len));
    if (key) for (let i = 0; i < len; i += 1) payload[i] ^= key[i & 3];
    frames.push({ fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 0x7, opcode: b0 & 0x0f, masked, payload });
    off = p + len;
  }
  return { frames, rest: buf.subarray(off) };
}

class RawWs {
  constructor(sock, leftover, path) {
    this.sock = sock;
    this.path = path;
    this.buf = Buffer.alloc(0);
    this.inbox = new Inbox();
    this.ended = deferred();
    this.isEnded = false;
    sock.on('data', (chunk) => this.onData(chunk));
    const onEnd = () => {
      if (!this.isEnded) {
        this.isEnded = true;
        this.ended.resolve();
      }
    };
    sock.on('end', onEnd);
    sock.on('close', onEnd);
    sock.on('error', (err) => {
      this.lastError = err;
    });
    if (leftover.length) this.onData(leftover);
  }

  onData(chunk) {
    this.buf = Buffer.concat([this.buf, chunk]);
    const { frames, rest } = decodeFrames(this.buf);
    this.buf = Buffer.from(rest);
    for (const f of frames) {
      if (f.opcode === OP.TEXT) {
        f.text = f.payload.toString('utf8');
        f.json = parseMaybeJson(f.text);
      } else if (f.opcode === OP.CLOSE) {
        f.code = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : null;
        f.reason = f.payload.length > 2 ? f.payload.subarray(2).toString('utf8') : '';
      }
      this.inbox.push(f);
    }
  }

  // Performs the opening handshake by hand and verifies Sec-WebSocket-Accept.
  static connect(port, path, { timeout = DEFAULT_TIMEOUT_MS } = {}) {
    return withTimeout(
      new Promise((resolve, reject) => {
        const key = crypto.randomBytes(16).toString('base64');
        const sock = net.connect({ host: HOST, port });
        let head = Buffer.alloc(0);
        const onData = (chunk) => {
          head = Buffer.concat([head, chunk]);
          const end = head.indexOf('\r\n\r\n');
          if (end < 0) return;
          sock.off('data', onData);
          const text = head.subarray(0, end).toString('latin1');
          const leftover = head.subarray(end + 4);
          const status = /^HTTP\/1\.1 (\d{3})/.exec(text);
          if (!status || status[1] !== '101') {
            sock.destroy();
            reject(new Error(`raw WebSocket handshake to ${path} failed: ${text.split('\r\n')[0]}`));
            return;
          }
          const accept = /\r\nsec-websocket-accept:\s*(\S+)/i.exec(text);
          const expected = crypto
            .createHash('sha1')
            .update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
            .digest('base64');
          if (!accept || accept[1] !== expected) {
            sock.destroy();
            reject(new Error(`bad Sec-WebSocket-Accept in handshake answer: ${text}`));
            return;
          }
          resolve(new RawWs(sock, leftover, path));
        };
        sock.on('data', onData);
        sock.once('error', reject);
        sock.on('connect', () => {
          sock.write(
            `GET ${path} HTTP/1.1\r\nHost: ${HOST}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
              `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
          );
        });
      }),
      timeout,
      `raw WebSocket handshake to ${path}`,
    );
  }

  sendFrame(opcode, payload, opts) {
    this.sock.write(encodeFrame(opcode, payload, opts));
  }

  sendText(text, opts) {
    this.sendFrame(OP.TEXT, Buffer.from(text, 'utf8'), opts);
  }

  nextFrame(pred = () => true, timeout = DEFAULT_TIMEOUT_MS, label = 'raw frame') {
    return this.inbox.take(pred, timeout, label);
  }

  nextText(pred = () => true, timeout = DEFAULT_TIMEOUT_MS) {
    return this.nextFrame((f) => f.opcode === OP.TEXT && pred(f), timeout, 'raw text frame');
  }

  // Waits for the server's close frame, answers it like a well-behaved client, and waits for
  // the TCP connection to end. Resolves {code, reason, tcpClosed}.
  async waitClose(timeout = DEFAULT_TIMEOUT_MS) {
    const frame = await this.nextFrame((f) => f.opcode === OP.CLOSE, timeout, 'close frame');
    if (!this.isEnded) {
      try {
        const echo = Buffer.alloc(2);
        echo.writeUInt16BE(frame.code || 1000, 0);
        this.sendFrame(OP.CLOSE, echo);
      } catch {
        /* socket already gone */
      }
    }
    let tcpClosed = true;
    try {
      await withTimeout(this.ended.promise, timeout, 'TCP close after close frame');
    } catch {
      tcpClosed = false;
    }
    return { code: frame.code, reason: frame.reason, tcpClosed };
  }

  destroy() {
    this.sock.destroy();
  }
}

// Raw connection to the Pusher endpoint that consumes connection_established.
async function rawConnectPusher(port, path = '/app/app-key?protocol=7&client=js&version=8.4.0') {
  const raw = await RawWs.connect(port, path);
  const first = await raw.nextFrame(() => true, DEFAULT_TIMEOUT_MS, 'connection_established');
  if (!first.json || first.json.event !== 'pusher:connection_established') {
    raw.destroy();
    throw new Error(`expected pusher:connection_established, got opcode ${first.opcode}: ${first.text}`);
  }
  return raw;
}

module.exports = {
  WsClient,
  RawWs,
  OP,
  SOCKET_ID_RE,
  connectPusher,
  rawConnectPusher,
  closeAll,
  encodeFrame,
  decodeFrames,
  parseMaybeJson,
  sleep,
};
