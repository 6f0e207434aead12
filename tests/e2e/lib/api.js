'use strict';

// Helpers for the HTTP API tests (api, limits, apps): hand-signed requests to any endpoint,
// exact error-body checks, SDK calls reduced to {status, json}, and small WebSocket checks.

const assert = require('node:assert/strict');
const { before, after } = require('node:test');
const { useServer } = require('./server');
const { request, md5Hex, hmacHex } = require('./http');
const { WsClient } = require('./ws');
const { sleep, waitUntil } = require('./util');

// The signed query string (spec §2.2): keys lower-cased and sorted, values unescaped in the
// string to sign and URL-encoded on the wire. bodyMd5: undefined = md5 of a non-empty body,
// null = leave it out, a string = send that.
function signQuery({ method, signPath, key, secret, body, timestamp = Math.floor(Date.now() / 1000), bodyMd5, params = {}, signatureOverride }) {
  const all = { auth_key: key, auth_timestamp: String(timestamp), auth_version: '1.0', ...params };
  if (typeof bodyMd5 === 'string') all.body_md5 = bodyMd5;
  else if (bodyMd5 === undefined && body !== undefined && body.length > 0) all.body_md5 = md5Hex(body);
  const keys = Object.keys(all).sort();
  const toSign = keys.map((k) => `${k.toLowerCase()}=${all[k]}`).join('&');
  const signature = signatureOverride || hmacHex(secret, `${method.toUpperCase()}\n${signPath}\n${toSign}`);
  const wire = keys.map((k) => `${encodeURIComponent(k)}=${encodeURIComponent(all[k])}`).join('&');
  return `${wire}&auth_signature=${signature}`;
}

// A signed request to /apps/{appId}{endpoint} (spec §2.2).
//   params:   extra query parameters (signed; values sent URL-encoded, signed raw like the SDKs)
//   body:     object (JSON-encoded) or string; undefined for none (GET: no body_md5)
//   prefix:   URL path prefix; signPath defaults to the path without it (the PHP SDK's way)
async function apiRequest(port, {
  method = 'GET',
  app,
  appId = app && app.id,
  key = app && app.key,
  secret = app && app.secret,
  endpoint,
  params = {},
  body,
  prefix = '',
  signPath,
  timestamp,
  bodyMd5,
  signatureOverride,
  headers = {},
  timeout,
} = {}) {
  const bodyText = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  const apiPath = `/apps/${appId}${endpoint}`;
  const query = signQuery({
    method,
    signPath: signPath === undefined ? apiPath : signPath,
    key,
    secret,
    body: bodyText,
    timestamp,
    bodyMd5,
    params,
    signatureOverride,
  });
  const allHeaders = { ...headers };
  if (bodyText !== undefined && allHeaders['content-type'] === undefined) allHeaders['content-type'] = 'application/json';
  return request(port, { method, path: `${prefix}${apiPath}?${query}`, headers: allHeaders, body: bodyText, timeout });
}

function describeRes(res) {
  return `HTTP ${res.status} ${JSON.stringify(res.body)}`;
}

// Exactly `status` with a JSON body {"error": "<non-empty>"} and nothing else; `match` (RegExp or
// string) is checked against the message. Returns the message.
function assertJsonError(res, status, match, what = '') {
  const where = what ? `${what}: ` : '';
  assert.equal(res.status, status, `${where}expected HTTP ${status}, got ${describeRes(res)}`);
  assert.ok(res.json && typeof res.json === 'object' && !Array.isArray(res.json), `${where}error body is not a JSON object: ${JSON.stringify(res.body)}`);
  assert.deepEqual(Object.keys(res.json), ['error'], `${where}error body must be exactly {"error": ...}: ${res.body}`);
  assert.equal(typeof res.json.error, 'string', `${where}"error" must be a string: ${res.body}`);
  assert.ok(res.json.error.length > 0, `${where}empty error message`);
  if (match !== undefined) {
    if (match instanceof RegExp) assert.match(res.json.error, match, `${where}error message`);
    else assert.ok(res.json.error.includes(match), `${where}error message ${JSON.stringify(res.json.error)} should contain ${JSON.stringify(match)}`);
  }
  if (res.headers && res.headers['content-type'] !== undefined) {
    assert.match(String(res.headers['content-type']), /^application\/json/, `${where}Content-Type of an error`);
  }
  return res.json.error;
}

// Exactly 200 with this JSON body.
function assertJsonOk(res, expected, what = '') {
  const where = what ? `${what}: ` : '';
  assert.equal(res.status, 200, `${where}expected HTTP 200, got ${describeRes(res)}`);
  assert.ok(res.json !== undefined, `${where}body is not JSON: ${JSON.stringify(res.body)}`);
  if (expected !== undefined) assert.deepEqual(res.json, expected, `${where}body ${res.body}`);
  return res.json;
}

// Runs an SDK call (a promise of a node-fetch Response, rejecting with RequestError on >= 400)
// and resolves {status, body, json} either way.
async function sdk(promise) {
  try {
    const res = await promise;
    const body = await res.text();
    let json;
    try {
      json = JSON.parse(body);
    } catch {
      json = undefined;
    }
    return { status: res.status, body, json, headers: Object.fromEntries(res.headers.entries()) };
  } catch (err) {
    if (err && err.status !== undefined) {
      let json;
      try {
        json = JSON.parse(err.body);
      } catch {
        json = undefined;
      }
      return { status: err.status, body: err.body, json };
    }
    throw err;
  }
}

// A WebSocket that the server refuses after the upgrade: resolves {error, close} where error is
// the first frame (parsed) and close the close code/reason.
async function expectRefusedWs(url, code, { headers, match } = {}) {
  const c = await WsClient.connect(url, { headers });
  try {
    const first = await c.next(() => true, { timeout: 5000, label: `first frame (expecting pusher:error ${code})` });
    assert.ok(first.json, `first frame is not JSON: ${first.text}`);
    assert.equal(first.json.event, 'pusher:error', `expected pusher:error ${code} as the first frame, got ${first.text}`);
    assert.equal(typeof first.json.data, 'object', `pusher:error data must be an object: ${first.text}`);
    assert.equal(first.json.data.code, code, `pusher:error code: ${first.text}`);
    assert.equal(typeof first.json.data.message, 'string');
    if (match !== undefined) assert.ok(first.json.data.message.includes(match), `pusher:error message ${JSON.stringify(first.json.data.message)} should contain ${JSON.stringify(match)}`);
    const close = await c.waitClose(5000);
    assert.equal(close.code, code, `close code after pusher:error ${code}: ${JSON.stringify(close)}`);
    return { error: first.json, close };
  } finally {
    c.ws.terminate();
  }
}

// Waits until the wall clock is early in a second later than `after` (so that a burst of
// requests falls into one server-side one-second window, and a new burst into a fresh one).
// Returns the second it started in.
async function startOfSecond(maxIntoSecondMs = 150, after = -1) {
  for (;;) {
    const now = Date.now();
    const second = Math.floor(now / 1000);
    const ms = now % 1000;
    if (second > after && ms < maxIntoSecondMs) return second;
    await sleep(1000 - ms + 5);
  }
}

// Polls fn() (async, returning a value) until pred(value) or the timeout; returns the last value
// either way so the caller can assert on it with a useful message.
async function pollValue(fn, pred, { timeout = 3000, interval = 50 } = {}) {
  let last;
  try {
    await waitUntil(async () => {
      last = await fn();
      return pred(last);
    }, { timeout, interval, label: 'poll' });
  } catch {
    /* the caller asserts on `last` */
  }
  return last;
}

// useServer(options), plus a timer that keeps the event loop alive while the server starts:
// lib/server.js polls with unref'd sleeps, so a server that exits at once (e.g. refusing its
// config) would otherwise end the loop and the runner would report "Promise resolution is still
// pending" instead of the server's error message.
function useServerReported(options) {
  let keep = null;
  before(() => {
    keep = setTimeout(() => {}, 15000);
  });
  const handle = useServer(options);
  before(() => clearTimeout(keep));
  after(() => clearTimeout(keep));
  return handle;
}

module.exports = {
  useServerReported,
  signQuery,
  apiRequest,
  assertJsonError,
  assertJsonOk,
  describeRes,
  sdk,
  expectRefusedWs,
  startOfSecond,
  pollValue,
};
