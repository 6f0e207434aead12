'use strict';

// The parent's side of lib/pusher_child.js: a pusher-js client in a child process that trusts a
// test CA through NODE_EXTRA_CA_CERTS (pusher-js's Node build cannot be handed a CA; see
// pusher_child.js), driven and watched with JSON lines.
//
//   const c = new PusherChild({ caFile, options: { wsHost, wssPort, forceTLS: true, ... }, app });
//   await c.connected(); await c.subscribe('private-x'); await c.event('private-x', 'Ev');
//   c.send({ op: 'trigger', channel, event, data }); c.kill();

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const path = require('node:path');
const readline = require('node:readline');
const { withTimeout, deferred } = require('./util');

const CHILD = path.join(__dirname, 'pusher_child.js');
const WAIT_MS = 5000;

class PusherChild {
  // user: the presence member it signs as ({id, info}; default id "u-<child pid>").
  constructor({ caFile, options, app, user, waitMs = WAIT_MS }) {
    this.waitMs = waitMs;
    this.messages = [];
    this.waiters = [];
    this.stderr = '';
    this.child = spawn(process.execPath, [CHILD, JSON.stringify({ key: app.key, options, app, user })], {
      env: { PATH: process.env.PATH || '/usr/bin:/bin', NODE_EXTRA_CA_CERTS: caFile },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stderr.on('data', (c) => { this.stderr += c; });
    this.child.stdin.on('error', () => {});
    readline.createInterface({ input: this.child.stdout }).on('line', (line) => {
      let msg;
      try {
        msg = JSON.parse(line);
      } catch {
        msg = { type: 'stdout', line };
      }
      this.messages.push(msg);
      this.waiters = this.waiters.filter((w) => {
        if (!w.pred(msg)) return true;
        w.resolve(msg);
        return false;
      });
    });
  }

  send(cmd) {
    this.child.stdin.write(`${JSON.stringify(cmd)}\n`);
  }

  waitFor(pred, label, timeout = this.waitMs) {
    const found = this.messages.find(pred);
    if (found) return Promise.resolve(found);
    const d = deferred();
    this.waiters.push({ pred, resolve: d.resolve });
    return withTimeout(d.promise, timeout, label).catch((err) => {
      err.message += `\nchild reported: ${JSON.stringify(this.messages)}\nchild stderr: ${this.stderr}`;
      throw err;
    });
  }

  async connected() {
    const msg = await this.waitFor((m) => m.type === 'state' && m.current === 'connected', 'pusher-js connected over wss');
    this.socketId = msg.socketId;
    return msg.socketId;
  }

  // Resolves with the child's 'subscribed' report (with members and me on a presence channel).
  async subscribe(channel) {
    this.send({ op: 'subscribe', channel });
    const msg = await this.waitFor(
      (m) => (m.type === 'subscribed' || m.type === 'subscription_error') && m.channel === channel,
      `subscription to ${channel}`,
    );
    assert.equal(msg.type, 'subscribed', `subscription to ${channel}: ${JSON.stringify(msg)}`);
    return msg;
  }

  event(channel, event) {
    return this.waitFor((m) => m.type === 'event' && m.channel === channel && m.event === event, `${event} on ${channel}`);
  }

  kill() {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

module.exports = { PusherChild };
