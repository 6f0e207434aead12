'use strict';

// Helpers around the real client (pusher-js, Node build) and server SDK (pusher).

const Pusher = require('pusher-js');
const PusherServer = require('pusher');
const { withTimeout, deferred } = require('./util');
const { HOST, DEFAULT_APP } = require('./server');

const DEFAULT_TIMEOUT_MS = 5000;

// A pusher-js client configured the way Laravel Echo's Reverb setup does it (ws only).
function createClient(server, { key = DEFAULT_APP.key, wsPath, ...extra } = {}) {
  const options = {
    wsHost: HOST,
    wsPort: server.port,
    forceTLS: false,
    enabledTransports: ['ws'],
    cluster: 'mt1',
    disableStats: true,
    ...extra,
  };
  if (wsPath !== undefined) options.wsPath = wsPath;
  return new Pusher(key, options);
}

function waitConnected(client, timeout = DEFAULT_TIMEOUT_MS) {
  if (client.connection.state === 'connected') return Promise.resolve(client.connection.socket_id);
  const d = deferred();
  const onChange = (states) => {
    if (states.current === 'connected') d.resolve(client.connection.socket_id);
    else if (states.current === 'failed') d.reject(new Error('pusher-js connection failed'));
  };
  client.connection.bind('state_change', onChange);
  return withTimeout(d.promise, timeout, 'pusher-js connection').finally(() =>
    client.connection.unbind('state_change', onChange),
  );
}

// Records every event a pusher-js channel emits (bind_global), with timed waits.
class ChannelLog {
  constructor(channel) {
    this.channel = channel;
    this.events = [];
    this.waiters = [];
    channel.bind_global((event, data) => {
      const rec = { event, data };
      this.events.push(rec);
      this.waiters = this.waiters.filter((w) => {
        if (w.pred(rec)) {
          w.resolve(rec);
          return false;
        }
        return true;
      });
    });
  }

  named(event) {
    return this.events.filter((e) => e.event === event);
  }

  // Resolves with the first recorded (past or future) event matching pred.
  waitFor(pred, timeout = DEFAULT_TIMEOUT_MS, label = 'pusher-js event') {
    const found = this.events.find(pred);
    if (found) return Promise.resolve(found);
    const d = deferred();
    this.waiters.push({ pred, resolve: d.resolve });
    return withTimeout(d.promise, timeout, `${label} on ${this.channel.name}`);
  }

  waitEvent(event, timeout) {
    return this.waitFor((e) => e.event === event, timeout, `event ${event}`);
  }
}

// Subscribes and resolves with a ChannelLog once pusher:subscription_succeeded fired.
async function subscribe(client, channelName, timeout = DEFAULT_TIMEOUT_MS) {
  const channel = client.subscribe(channelName);
  const log = new ChannelLog(channel);
  const d = deferred();
  channel.bind('pusher:subscription_succeeded', () => d.resolve());
  channel.bind('pusher:subscription_error', (err) =>
    d.reject(new Error(`subscription_error on ${channelName}: ${JSON.stringify(err)}`)),
  );
  if (channel.subscribed) d.resolve();
  await withTimeout(d.promise, timeout, `pusher-js subscription to ${channelName}`);
  return log;
}

async function connectedClient(server, opts) {
  const client = createClient(server, opts);
  try {
    await waitConnected(client);
  } catch (err) {
    client.disconnect();
    throw err;
  }
  return client;
}

function disconnectAll(clients) {
  for (const c of clients) {
    try {
      if (c) c.disconnect();
    } catch {
      /* ignore */
    }
  }
}

// The pusher-http-node SDK pointed at the test server.
function createRestClient(server, { appId = DEFAULT_APP.id, key = DEFAULT_APP.key, secret = DEFAULT_APP.secret } = {}) {
  return new PusherServer({
    appId,
    key,
    secret,
    host: HOST,
    port: server.port,
    useTLS: false,
    timeout: DEFAULT_TIMEOUT_MS,
  });
}

// trigger() that also asserts the exact success contract: status 200 and body {}.
async function triggerOk(rest, channels, event, data, params) {
  const res = await rest.trigger(channels, event, data, params);
  const body = await res.text();
  if (res.status !== 200) throw new Error(`trigger answered HTTP ${res.status}: ${body}`);
  let parsed;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new Error(`trigger answered a non-JSON body: ${JSON.stringify(body)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || Object.keys(parsed).length !== 0) {
    throw new Error(`trigger answered ${body}, expected {}`);
  }
  return res;
}

module.exports = {
  Pusher,
  PusherServer,
  createClient,
  connectedClient,
  waitConnected,
  subscribe,
  ChannelLog,
  disconnectAll,
  createRestClient,
  triggerOk,
};
