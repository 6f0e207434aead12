'use strict';

// Raw-frame helpers for the v7 channel, client-event and user features, on top of lib/ws.js
// (WsClient). Every wait is bounded.

const assert = require('node:assert/strict');
const { connectPusher, closeAll } = require('./ws');
const { privateAuth, presenceAuth, presenceChannelData, userAuth } = require('./auth');
const { sleep, waitUntil } = require('./util');

const REPLY_TIMEOUT_MS = 5000;

function parseData(data) {
  if (typeof data !== 'string') return data;
  try {
    return JSON.parse(data);
  } catch {
    return data;
  }
}

// Opens n Pusher connections (in parallel) with `key`. With --threads 2 the kernel spreads
// them over both shards (SO_REUSEPORT), so n >= 8 lands on both with near certainty.
async function openMany(server, n, key = 'app-key') {
  const settled = await Promise.allSettled(Array.from({ length: n }, () => connectPusher(server.wsUrl(key))));
  const ok = settled.filter((s) => s.status === 'fulfilled').map((s) => s.value);
  const bad = settled.find((s) => s.status === 'rejected');
  if (bad) {
    await closeAll(ok);
    throw bad.reason;
  }
  return ok;
}

// Sends pusher:subscribe with exactly `data` (channel added) and resolves with the server's
// answer for that channel: pusher_internal:subscription_succeeded, pusher:subscription_error, or
// a pusher:error (which carries no channel). Returns the parsed frame ({event, channel, data}).
async function subscribeRaw(client, channel, extra = {}, { timeout = REPLY_TIMEOUT_MS } = {}) {
  client.send({ event: 'pusher:subscribe', data: { channel, ...extra } });
  const reply = await client.next(
    (m) =>
      m.json &&
      (((m.json.event === 'pusher_internal:subscription_succeeded' ||
        m.json.event === 'pusher:subscription_error') &&
        m.json.channel === channel) ||
        m.json.event === 'pusher:error'),
    { timeout, label: `answer to the subscription to ${channel}` },
  );
  return reply.json;
}

function expectSucceeded(frame, channel) {
  assert.equal(frame.event, 'pusher_internal:subscription_succeeded', `subscription to ${channel}: ${JSON.stringify(frame)}`);
  assert.equal(frame.channel, channel);
  return frame;
}

// Subscribes to a public, private, private-encrypted or cache channel with a correct signature.
async function subscribeOk(client, app, channel) {
  const needsAuth = channel.startsWith('private-');
  const frame = await subscribeRaw(client, channel, {
    auth: needsAuth ? privateAuth(app, client.socketId, channel) : '',
  });
  return expectSucceeded(frame, channel);
}

// Joins a presence channel as userId (string or number) with optional userInfo; resolves with
// the parsed presence payload {ids, hash, count}.
async function joinPresence(client, app, channel, userId, userInfo) {
  const channelData = presenceChannelData(userId, userInfo);
  const frame = await subscribeRaw(client, channel, presenceAuth(app, client.socketId, channel, channelData));
  expectSucceeded(frame, channel);
  assert.equal(typeof frame.data, 'string', `presence subscription_succeeded data must be a JSON string: ${JSON.stringify(frame)}`);
  const data = JSON.parse(frame.data);
  return data.presence;
}

// pusher:signin with a correct signature over userData (object or string). Resolves with the
// first answer: pusher:signin_success or pusher:error (parsed frame).
async function signinRaw(client, app, user, { auth } = {}) {
  const userData = typeof user === 'string' ? user : JSON.stringify(user);
  const signed = userAuth(app, client.socketId, userData);
  client.send({ event: 'pusher:signin', data: { auth: auth === undefined ? signed.auth : auth, user_data: userData } });
  const reply = await client.next(
    (m) => m.json && (m.json.event === 'pusher:signin_success' || m.json.event === 'pusher:error'),
    { timeout: REPLY_TIMEOUT_MS, label: 'answer to pusher:signin' },
  );
  return reply.json;
}

async function signinOk(client, app, user) {
  const reply = await signinRaw(client, app, user);
  assert.equal(reply.event, 'pusher:signin_success', `signin failed: ${JSON.stringify(reply)}`);
  return reply;
}

// Asserts a pusher:error frame with the given code (null allowed) and returns its message.
function expectPusherError(frame, code, why = '') {
  assert.ok(frame, `expected a pusher:error ${why}`);
  assert.equal(frame.event, 'pusher:error', `expected pusher:error ${why}, got ${JSON.stringify(frame)}`);
  assert.equal(typeof frame.data, 'object', `pusher:error data must be an object ${why}: ${JSON.stringify(frame)}`);
  assert.notEqual(frame.data, null);
  assert.equal(frame.data.code, code, `pusher:error code ${why}: ${JSON.stringify(frame)}`);
  assert.equal(typeof frame.data.message, 'string');
  assert.ok(frame.data.message.length > 0, `pusher:error message must not be empty ${why}`);
  return frame.data.message;
}

// Asserts a pusher:subscription_error frame for channel with the given type and status.
function expectSubscriptionError(frame, channel, type, status) {
  assert.equal(frame.event, 'pusher:subscription_error', `expected pusher:subscription_error on ${channel}, got ${JSON.stringify(frame)}`);
  assert.deepEqual(Object.keys(frame).sort(), ['channel', 'data', 'event'], JSON.stringify(frame));
  assert.equal(frame.channel, channel);
  assert.equal(typeof frame.data, 'object', `subscription_error data must be an object: ${JSON.stringify(frame)}`);
  assert.deepEqual(Object.keys(frame.data).sort(), ['error', 'status', 'type'], JSON.stringify(frame));
  assert.equal(frame.data.type, type, JSON.stringify(frame));
  assert.equal(frame.data.status, status, JSON.stringify(frame));
  assert.equal(typeof frame.data.error, 'string');
  assert.ok(frame.data.error.length > 0, 'subscription_error must carry a message');
  return frame.data.error;
}

// pusher:ping -> pusher:pong proves the connection is open and the server still reads it.
async function assertAlive(client, why = '') {
  assert.ok(client.isOpen, `connection closed ${why}: ${JSON.stringify(client.closeInfo)}`);
  client.send({ event: 'pusher:ping', data: {} });
  await client.nextEvent('pusher:pong', { timeout: 3000 });
}

// Frames received so far (in order) matching pred, as parsed JSON.
function framesWhere(client, pred) {
  return client.frames.filter((f) => f.json && pred(f.json)).map((f) => f.json);
}

function countEvents(client, event, channel) {
  return framesWhere(client, (j) => j.event === event && (channel === undefined || j.channel === channel)).length;
}

// Waits until every client has received at least `n` frames matching pred (counted over all
// frames ever received, consumed or not).
async function waitAllHave(clients, pred, n = 1, { timeout = REPLY_TIMEOUT_MS, label = 'frames' } = {}) {
  await waitUntil(() => clients.every((c) => framesWhere(c, pred).length >= n), { timeout, label });
}

// Lets in-flight frames arrive before asserting that something did NOT happen.
function settle(ms = 400) {
  return sleep(ms);
}

module.exports = {
  REPLY_TIMEOUT_MS,
  parseData,
  openMany,
  subscribeRaw,
  subscribeOk,
  expectSucceeded,
  joinPresence,
  signinRaw,
  signinOk,
  expectPusherError,
  expectSubscriptionError,
  assertAlive,
  framesWhere,
  countEvents,
  waitAllHave,
  settle,
};
