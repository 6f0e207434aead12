'use strict';

// The seed chapter's Laravel Echo examples, with the real laravel-echo (2.x) and pusher-js in
// Node, against ringcast, with both `broadcaster: 'reverb'` and `broadcaster: 'pusher'`.
// Channel authorization goes through a stand-in for Laravel's /broadcasting/auth
// (lib/laravel.js: form-encoded socket_id + channel_name, Bearer token → user, 403 on refusal);
// events are published with the pusher SDK the way Laravel's broadcaster does.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { describe, it, before, after } = require('node:test');
const { useServer, DEFAULT_APP, HOST } = require('./lib/server');
const { Pusher, waitConnected, createRestClient, triggerOk } = require('./lib/pusher');
const { startLaravel } = require('./lib/laravel');
const { privateAuth } = require('./lib/auth');
const { sleep, waitUntil } = require('./lib/util');

const T = { timeout: 30000 };
const APP = DEFAULT_APP;

const USERS = {
  'token-ann': { id: 1, name: 'Ann', avatar_url: 'https://app.test/avatars/1.png' },
  'token-bob': { id: 2, name: 'Bob', avatar_url: 'https://app.test/avatars/2.png' },
  'token-carol': { id: 3, name: 'Carol', avatar_url: 'https://app.test/avatars/3.png' },
  // A Laravel app whose REVERB_APP_SECRET does not match the server's (see secretOverride).
  'token-misconfigured': { id: 66, name: 'Misconfigured', avatar_url: '' },
};
// chat id -> participant user ids
const PARTICIPANTS = { 1: [1, 2], 2: [1, 2] };

function isParticipant(user, chatId) {
  return (PARTICIPANTS[chatId] || []).includes(Number(user.id));
}

// routes/channels.php of the chapter (plus Laravel's default App.Models.User.{id}).
const CHANNELS = {
  'App.Models.User.{id}': (user, id) => Number(user.id) === Number(id),
  'user.{userId}': (user, userId) => Number(user.id) === Number(userId),
  'chat.{chatId}': (user, chatId) => (isParticipant(user, chatId) ? { id: user.id, name: user.name } : false),
  'chat.{chatId}.presence': (user, chatId) =>
    isParticipant(user, chatId) ? { id: user.id, name: user.name, avatar: user.avatar_url } : false,
  online: (user) => ({ id: user.id, name: user.name }),
};

let EchoClass = null;
async function loadEcho() {
  // laravel-echo 2.x is an ES module package ("type": "module"); require() does not load it.
  if (!EchoClass) EchoClass = (await import('laravel-echo')).default;
  return EchoClass;
}

// new Echo({...}) the way resources/js/echo.js does it, pointed at the test server.
function makeEcho(broadcaster, server, laravel, token, extra = {}) {
  const options = {
    broadcaster,
    key: APP.key,
    wsHost: HOST,
    wsPort: server.port,
    wssPort: server.port,
    forceTLS: false,
    enabledTransports: ['ws', 'wss'],
    disableStats: true,
    Pusher,
    authEndpoint: laravel.url('/broadcasting/auth'),
    // Fresh objects: Echo writes the bearer token into options.auth.headers, and without these
    // every Echo instance in one process would share (and overwrite) Echo's default object.
    auth: { headers: {} },
    userAuthentication: { endpoint: laravel.url('/broadcasting/user-auth'), headers: {} },
    bearerToken: token,
    ...extra,
  };
  if (broadcaster === 'pusher') options.cluster = 'mt1';
  return new EchoClass(options);
}

async function connected(echo) {
  await waitConnected(echo.connector.pusher);
  assert.equal(echo.connectionStatus(), 'connected');
  return echo;
}

function subscribed(channel, label) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${label}`)), 5000);
    channel.subscribed(() => {
      clearTimeout(timer);
      resolve();
    });
    channel.error((e) => {
      clearTimeout(timer);
      reject(new Error(`${label}: ${JSON.stringify(e)}`));
    });
  });
}

function until(check, label, timeout = 5000) {
  return waitUntil(check, { label, timeout });
}

function byId(users) {
  return [...users].sort((a, b) => Number(a.id) - Number(b.id));
}

describe('laravel-echo', () => {
  const srv = useServer({ apps: [APP] });
  let laravel;
  let rest;

  before(async () => {
    await loadEcho();
    laravel = await startLaravel({
      app: APP,
      users: USERS,
      channels: CHANNELS,
      secretOverride: { 'token-misconfigured': 'not-the-server-secret' },
      userData: (user) => ({ id: String(user.id), user_info: { name: user.name } }),
    });
  });
  after(async () => {
    if (laravel) await laravel.close();
  });

  for (const broadcaster of ['reverb', 'pusher']) {
    const chatId = broadcaster === 'reverb' ? 1 : 2;

    describe(`broadcaster: '${broadcaster}'`, () => {
      const echos = [];
      const open = async (token, extra) => {
        const echo = makeEcho(broadcaster, srv.server, laravel, token, extra);
        echos.push(echo);
        return connected(echo);
      };
      const closeAll = () => {
        while (echos.length) {
          try {
            echos.pop().disconnect();
          } catch {
            /* ignore */
          }
        }
      };

      it('Echo.private(`App.Models.User.${id}`).notification() receives a Laravel notification', T, srv.wrap(async (t, server) => {
        rest = createRestClient(server);
        try {
          const echo = await open('token-ann');
          const got = [];
          const channel = echo.private('App.Models.User.1').notification((n) => got.push(n));
          await subscribed(channel, 'private-App.Models.User.1');

          const authReq = laravel.requests.filter((r) => r.channelName === 'private-App.Models.User.1').pop();
          assert.equal(authReq.contentType, 'application/x-www-form-urlencoded');
          assert.equal(authReq.socketId, echo.socketId());
          assert.equal(authReq.token, 'token-ann');

          // What Laravel's BroadcastNotificationCreated puts on the wire for a UserMentioned
          // notification: toBroadcast() data merged with id and type.
          const notification = {
            author: 'Bob',
            text: 'Hey @Ann, look at this',
            url: 'https://app.test/comments/5',
            id: crypto.randomUUID(),
            type: 'App\\Notifications\\UserMentioned',
          };
          await triggerOk(rest, 'private-App.Models.User.1', 'Illuminate\\Notifications\\Events\\BroadcastNotificationCreated', notification);
          await until(() => got.length === 1, 'the notification callback');
          assert.deepEqual(got[0], notification);
        } finally {
          closeAll();
        }
      }));

      it('the chapter\'s private user channel: .listen("NotificationSent") and .listen("UserMentioned") with an unread counter', T, srv.wrap(async (t, server) => {
        rest = createRestClient(server);
        try {
          const echo = await open('token-ann');
          const notifications = [];
          let unreadCount = 0;
          const mentions = [];
          const channel = echo
            .private('user.1')
            .listen('NotificationSent', (e) => notifications.push({ title: e.title, body: e.message }))
            .listen('UserMentioned', (e) => {
              unreadCount += 1;
              mentions.push({ title: `${e.author} упомянул вас`, body: e.text, link: e.url });
            });
          await subscribed(channel, 'private-user.1');

          // NotificationSent's public properties (user, title, message) under its class name.
          await triggerOk(rest, 'private-user.1', 'App\\Events\\NotificationSent', {
            user: { id: 1, name: 'Ann' },
            title: 'Новое сообщение',
            message: 'У вас 5 непрочитанных',
          });
          // UserMentioned::broadcastWith()
          for (const n of [1, 2]) {
            await triggerOk(rest, 'private-user.1', 'App\\Events\\UserMentioned', {
              author: 'Bob',
              text: `comment ${n}`,
              url: `https://app.test/comments/${n}`,
            });
          }
          await until(() => notifications.length === 1 && unreadCount === 2, 'NotificationSent and two UserMentioned');
          assert.deepEqual(notifications, [{ title: 'Новое сообщение', body: 'У вас 5 непрочитанных' }]);
          assert.deepEqual(mentions, [
            { title: 'Bob упомянул вас', body: 'comment 1', link: 'https://app.test/comments/1' },
            { title: 'Bob упомянул вас', body: 'comment 2', link: 'https://app.test/comments/2' },
          ]);
        } finally {
          closeAll();
        }
      }));

      it('the chapter\'s public test channel: .listen(".test.event") and .listen("TestEvent")', T, srv.wrap(async (t, server) => {
        rest = createRestClient(server);
        try {
          const echo = await open('token-carol');
          const got = [];
          const channel = echo
            .channel('test-channel')
            .listen('.test.event', (data) => got.push(['.test.event', data.message]))
            .listen('TestEvent', (e) => got.push(['TestEvent', e.message]));
          await subscribed(channel, 'test-channel');
          await triggerOk(rest, 'test-channel', 'test.event', { message: 'Привет из Laravel!' });
          await triggerOk(rest, 'test-channel', 'App\\Events\\TestEvent', { message: 'test' });
          await until(() => got.length === 2, 'both public events');
          assert.deepEqual(got, [['.test.event', 'Привет из Laravel!'], ['TestEvent', 'test']]);
        } finally {
          closeAll();
        }
      }));

      for (const room of [`chat.${chatId}.presence`, `chat.${chatId}`]) {
        it(`Echo.join('${room}').here().joining().leaving()`, T, srv.wrap(async () => {
          try {
            const ann = await open('token-ann');
            const bob = await open('token-bob');
            const annLog = { here: [], joining: [], leaving: [] };
            const bobLog = { here: [], joining: [], leaving: [] };
            const track = (echo, log) =>
              echo
                .join(room)
                .here((users) => log.here.push(users))
                .joining((user) => log.joining.push(user))
                .leaving((user) => log.leaving.push(user));
            track(ann, annLog);
            await until(() => annLog.here.length === 1, 'Ann here()');
            const info = (u) => (room.endsWith('.presence')
              ? { id: u.id, name: u.name, avatar: u.avatar_url }
              : { id: u.id, name: u.name });
            assert.deepEqual(annLog.here[0], [info(USERS['token-ann'])]);

            track(bob, bobLog);
            await until(() => bobLog.here.length === 1 && annLog.joining.length === 1, 'Bob here() and Ann joining()');
            assert.deepEqual(byId(bobLog.here[0]), [info(USERS['token-ann']), info(USERS['token-bob'])]);
            assert.deepEqual(annLog.joining, [info(USERS['token-bob'])]);
            assert.deepEqual(bobLog.joining, [], 'the joiner does not see itself joining');

            bob.leave(room);
            await until(() => annLog.leaving.length === 1, 'Ann leaving()');
            assert.deepEqual(annLog.leaving, [info(USERS['token-bob'])]);
            assert.equal(ann.connector.pusher.channel(`presence-${room}`).members.count, 1);
          } finally {
            closeAll();
          }
        }));
      }

      it('typing indicator: .whisper("typing") / .listenForWhisper("typing") on the private chat channel, never echoed', T, srv.wrap(async () => {
        try {
          const ann = await open('token-ann');
          const bob = await open('token-bob');
          const annSeen = [];
          const bobSeen = [];
          const annChannel = ann
            .private(`chat.${chatId}`)
            .listenForWhisper('typing', (e) => annSeen.push(['typing', e.name]))
            .listenForWhisper('stopped-typing', (e) => annSeen.push(['stopped-typing', e.userId]));
          const bobChannel = bob
            .private(`chat.${chatId}`)
            .listenForWhisper('typing', (e) => bobSeen.push(['typing', e.name]))
            .listenForWhisper('stopped-typing', (e) => bobSeen.push(['stopped-typing', e.userId]));
          await Promise.all([subscribed(annChannel, 'Ann on the chat'), subscribed(bobChannel, 'Bob on the chat')]);

          bob.private(`chat.${chatId}`).whisper('typing', { userId: 2, name: 'Bob' });
          bob.private(`chat.${chatId}`).whisper('stopped-typing', { userId: 2 });
          await until(() => annSeen.length === 2, 'Ann sees both whispers');
          assert.deepEqual(annSeen, [['typing', 'Bob'], ['stopped-typing', 2]]);
          await sleep(400);
          assert.deepEqual(bobSeen, [], 'the sender never gets its own whisper');
        } finally {
          closeAll();
        }
      }));

      it('whispers on the presence channel carry the sender\'s user id', T, srv.wrap(async () => {
        try {
          const ann = await open('token-ann');
          const bob = await open('token-bob');
          const seen = [];
          const annRoom = ann.join(`chat.${chatId}`).listenForWhisper('typing', (e, meta) => seen.push({ e, meta }));
          await subscribed(annRoom, 'Ann in the room');
          const bobRoom = bob.join(`chat.${chatId}`);
          await subscribed(bobRoom, 'Bob in the room');
          bobRoom.whisper('typing', { name: 'Bob' });
          await until(() => seen.length === 1, 'presence whisper');
          assert.deepEqual(seen[0], { e: { name: 'Bob' }, meta: { user_id: '2' } });
        } finally {
          closeAll();
        }
      }));

      it('.error() fires when the server refuses the signature (Laravel app with the wrong secret) and when /broadcasting/auth answers 403', T, srv.wrap(async () => {
        try {
          const bad = await open('token-misconfigured');
          const serverRefusal = await new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error('no .error() for the bad signature')), 5000);
            bad.private('App.Models.User.66')
              .subscribed(() => reject(new Error('subscribed with a wrong signature')))
              .error((e) => {
                clearTimeout(timer);
                resolve(e);
              });
          });
          assert.equal(serverRefusal.type, 'AuthError');
          assert.equal(serverRefusal.status, 401);
          assert.ok(
            serverRefusal.error.startsWith(`Invalid signature: Expected HMAC SHA256 hex digest of ${bad.socketId()}:private-App.Models.User.66`),
            serverRefusal.error,
          );
          assert.equal(bad.connectionStatus(), 'connected', 'the connection stays open');

          const carol = await open('token-carol');
          const denied = await new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error('no .error() for the 403')), 5000);
            carol.join(`chat.${chatId}`).error((e) => {
              clearTimeout(timer);
              resolve(e);
            });
          });
          assert.equal(denied.type, 'AuthError');
          assert.equal(denied.status, 403);
        } finally {
          closeAll();
        }
      }));

      it('Echo.connector.signin() through /broadcasting/user-auth, then the SDK\'s sendToUser reaches pusher.user', T, srv.wrap(async (t, server) => {
        rest = createRestClient(server);
        try {
          const ann = await open('token-ann');
          const bob = await open('token-bob');
          const annGot = [];
          const bobGot = [];
          ann.connector.pusher.user.bind('account-updated', (d) => annGot.push(d));
          bob.connector.pusher.user.bind('account-updated', (d) => bobGot.push(d));
          ann.connector.signin();
          bob.connector.signin();
          await until(
            () => [ann, bob].every((e) => e.connector.pusher.user.serverToUserChannel && e.connector.pusher.user.serverToUserChannel.subscribed),
            'both signed in and subscribed to #server-to-user-<id>',
          );
          assert.ok(laravel.requests.some((r) => r.path === '/broadcasting/user-auth' && r.socketId === ann.socketId()));
          await rest.sendToUser('1', 'account-updated', { plan: 'pro' });
          await until(() => annGot.length === 1, 'sendToUser on Ann');
          assert.deepEqual(annGot, [{ plan: 'pro' }]);
          await sleep(300);
          assert.deepEqual(bobGot, []);
        } finally {
          closeAll();
        }
      }));

      it('a custom authorizer (the option the Laravel docs show) works too', T, srv.wrap(async (t, server) => {
        rest = createRestClient(server);
        try {
          const calls = [];
          const echo = await open('token-ann', {
            authorizer: (channel) => ({
              authorize: (socketId, callback) => {
                calls.push(channel.name);
                setImmediate(() => callback(null, { auth: privateAuth(APP, socketId, channel.name) }));
              },
            }),
          });
          const got = [];
          const ch = echo.private('orders.9').listen('.OrderShipped', (e) => got.push(e));
          await subscribed(ch, 'private-orders.9');
          assert.deepEqual(calls, ['private-orders.9']);
          await triggerOk(rest, 'private-orders.9', 'OrderShipped', { id: 9 });
          await until(() => got.length === 1, 'OrderShipped');
          assert.deepEqual(got, [{ id: 9 }]);
        } finally {
          closeAll();
        }
      }));
    });
  }
});
