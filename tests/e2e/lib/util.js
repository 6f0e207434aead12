'use strict';

// Small promise helpers shared by the e2e suite. Every wait in the suite goes through
// withTimeout() so that a misbehaving server makes a test fail instead of hanging.

function sleep(ms) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    if (t.unref) t.unref();
  });
}

class TimeoutError extends Error {
  constructor(label, ms) {
    super(`timed out after ${ms} ms: ${label}`);
    this.name = 'TimeoutError';
  }
}

// Resolves/rejects like `promise`, or rejects with a TimeoutError after `ms`.
function withTimeout(promise, ms, label) {
  let timer;
  const guard = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(label, ms)), ms);
  });
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}

// Polls `check` (sync or async) every `intervalMs` until it returns a truthy value.
async function waitUntil(check, { timeout = 5000, interval = 20, label = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() >= deadline) throw new TimeoutError(label, timeout);
    await sleep(interval);
  }
}

// A one-shot promise whose resolve/reject are exposed.
function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

// Unique-ish names so that tests sharing a server never see each other's channels.
let counter = 0;
function uniqueName(prefix) {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}-${Math.floor(Math.random() * 1e6)}`;
}

module.exports = { sleep, withTimeout, waitUntil, deferred, uniqueName, TimeoutError };
