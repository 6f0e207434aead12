'use strict';

// HTTP helpers: a plain request function, a raw-socket exchange for malformed requests, and
// Pusher REST request signing (spec §2.2) for hand-crafted API calls.

const crypto = require('node:crypto');
const http = require('node:http');
const net = require('node:net');
const { HOST } = require('./server');

const DEFAULT_TIMEOUT_MS = 5000;

function tryJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

// One HTTP request on a fresh connection. Resolves {status, headers, body, json}.
function request(port, { method = 'GET', path = '/', headers = {}, body, timeout = DEFAULT_TIMEOUT_MS } = {}) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body);
    const allHeaders = { ...headers };
    if (payload !== undefined && allHeaders['content-length'] === undefined) {
      allHeaders['content-length'] = String(payload.length);
    }
    const req = http.request({ host: HOST, port, method, path, headers: allHeaders, agent: false, timeout }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode, headers: res.headers, body: text, json: tryJson(text) });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`HTTP ${method} ${path} timed out after ${timeout} ms`)));
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

// Parses as many complete HTTP/1.1 responses as `buf` holds.
// Returns {responses: [{status, reason, headers, body, json}], rest}.
function parseResponses(buf) {
  const responses = [];
  let offset = 0;
  for (;;) {
    const headEnd = buf.indexOf('\r\n\r\n', offset);
    if (headEnd < 0) break;
    const head = buf.subarray(offset, headEnd).toString('latin1');
    const lines = head.split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0]);
    if (!m) throw new Error(`unparseable status line: ${JSON.stringify(lines[0])}`);
    const headers = {};
    for (const line of lines.slice(1)) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    let bodyStart = headEnd + 4;
    let body;
    if (headers['transfer-encoding'] && /chunked/i.test(headers['transfer-encoding'])) {
      const parts = [];
      let p = bodyStart;
      let complete = false;
      for (;;) {
        const lineEnd = buf.indexOf('\r\n', p);
        if (lineEnd < 0) break;
        const size = parseInt(buf.subarray(p, lineEnd).toString('latin1'), 16);
        if (Number.isNaN(size)) throw new Error('bad chunk size');
        if (size === 0) {
          // last-chunk, no trailers expected: "0\r\n\r\n"
          if (buf.length < lineEnd + 4) break;
          p = lineEnd + 4;
          complete = true;
          break;
        }
        if (buf.length < lineEnd + 2 + size + 2) break;
        parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
        p = lineEnd + 2 + size + 2;
      }
      if (!complete) break;
      body = Buffer.concat(parts);
      bodyStart = p;
      offset = p;
    } else {
      const len = headers['content-length'] !== undefined ? parseInt(headers['content-length'], 10) : 0;
      if (buf.length < bodyStart + len) break;
      body = buf.subarray(bodyStart, bodyStart + len);
      offset = bodyStart + len;
    }
    const text = body.toString('utf8');
    responses.push({ status: Number(m[1]), reason: m[2] || '', headers, body: text, json: tryJson(text) });
  }
  return { responses, rest: buf.subarray(offset) };
}

// A raw TCP exchange for requests Node's http client refuses to send.
// `steps` is a list of byte strings/buffers; each is written after the previous step's
// response arrived (a single string means one write). Resolves with
// {responses, closed, raw, error} once `expect` responses were parsed (and, with
// waitClose, the server closed the connection) or when the timeout expires.
function rawExchange(port, steps, { expect = 1, waitClose = false, timeout = DEFAULT_TIMEOUT_MS } = {}) {
  const writes = Array.isArray(steps) ? steps.slice() : [steps];
  return new Promise((resolve) => {
    const sock = net.connect({ host: HOST, port });
    let buf = Buffer.alloc(0);
    let responses = [];
    let closed = false;
    let error = null;
    let finished = false;
    const finish = (timedOut) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ responses, closed, raw: buf.toString('latin1'), error, timedOut });
    };
    const timer = setTimeout(() => finish(true), timeout);
    const check = () => {
      try {
        responses = parseResponses(buf).responses;
      } catch (err) {
        error = err;
        finish(false);
        return;
      }
      if (responses.length >= expect && (!waitClose || closed)) finish(false);
    };
    // Step i+1 is written once the response to step i has been parsed.
    let written = 0;
    const pump = () => {
      if (writes.length > 0 && written <= responses.length) {
        written += 1;
        sock.write(writes.shift());
      }
    };
    sock.on('connect', pump);
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      check();
      if (!finished) pump();
    });
    sock.on('end', () => {
      closed = true;
      check();
      if (!finished) finish(false);
    });
    sock.on('close', () => {
      closed = true;
      if (!finished) {
        check();
        finish(false);
      }
    });
    sock.on('error', (err) => {
      // A reset after the server answered and closed is acceptable; record it anyway.
      error = err;
    });
  });
}

function md5Hex(data) {
  return crypto.createHash('md5').update(data).digest('hex');
}

function hmacHex(secret, data) {
  return crypto.createHmac('sha256', secret).update(data).digest('hex');
}

// Builds the signed query string for a REST call (keys lower-cased, sorted, unescaped values,
// as the Pusher SDKs sign). Options let tests break one part of the signature on purpose.
function signedQuery({
  method = 'POST',
  signPath,
  key,
  secret,
  body,
  timestamp = Math.floor(Date.now() / 1000),
  bodyMd5, // override the body_md5 parameter (defaults to md5(body) when body is non-empty)
  extraParams = {},
  signatureOverride,
}) {
  const params = { auth_key: key, auth_timestamp: String(timestamp), auth_version: '1.0', ...extraParams };
  if (bodyMd5 !== undefined) params.body_md5 = bodyMd5;
  else if (body !== undefined && body.length > 0) params.body_md5 = md5Hex(body);
  const keys = Object.keys(params).sort();
  const query = keys.map((k) => `${k.toLowerCase()}=${params[k]}`).join('&');
  const signature = signatureOverride || hmacHex(secret, `${method.toUpperCase()}\n${signPath}\n${query}`);
  const encoded = keys.map((k) => `${encodeURIComponent(k)}=${encodeURIComponent(params[k])}`).join('&');
  return `${encoded}&auth_signature=${signature}`;
}

// POST /apps/{appId}/events with a hand-made signature.
//   body: object (JSON-encoded here) or string (sent verbatim)
//   prefix: URL path prefix (server path); signPath defaults to the path without the prefix.
async function postEvents(port, {
  appId = '1',
  key = 'app-key',
  secret = 'app-secret',
  body,
  prefix = '',
  signPath,
  timestamp,
  bodyMd5,
  signatureOverride,
  timeout,
} = {}) {
  const bodyText = typeof body === 'string' ? body : JSON.stringify(body);
  const apiPath = `/apps/${appId}/events`;
  const query = signedQuery({
    method: 'POST',
    signPath: signPath === undefined ? apiPath : signPath,
    key,
    secret,
    body: bodyText,
    timestamp,
    bodyMd5,
    signatureOverride,
  });
  return request(port, {
    method: 'POST',
    path: `${prefix}${apiPath}?${query}`,
    headers: { 'content-type': 'application/json' },
    body: bodyText,
    timeout,
  });
}

module.exports = { request, rawExchange, parseResponses, signedQuery, postEvents, md5Hex, hmacHex, tryJson };
