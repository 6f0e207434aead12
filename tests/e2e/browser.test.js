'use strict';

// One real-browser test: headless Chromium (Debian's /usr/bin/chromium, installed by
// tests/e2e/setup-browser.sh) driven by playwright-core opens two pages served by a stand-in
// Laravel app on 127.0.0.1. Each page loads the browser builds of pusher-js
// (dist/web/pusher.min.js) and laravel-echo (dist/echo.iife.js) and sets up Echo as the seed
// chapter's resources/js/echo.js does (broadcaster 'reverb', /broadcasting/auth with the
// CSRF token from <meta name="csrf-token"> and a Bearer token for the user).
// Acceptance: a whisper from one page reaches the other and never the sender.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { describe, it, before, after } = require('node:test');
const { useServer, DEFAULT_APP, HOST } = require('./lib/server');
const { createRestClient, triggerOk } = require('./lib/pusher');
const { startLaravel } = require('./lib/laravel');

const CHROMIUM = process.env.RINGCAST_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const APP = DEFAULT_APP;
const CSRF = 'csrf-e2e-token';
const WAIT_MS = 10000;

const USERS = {
  'token-ann': { id: 1, name: 'Ann' },
  'token-bob': { id: 2, name: 'Bob' },
};

const PUSHER_JS = path.join(path.dirname(require.resolve('pusher-js/package.json')), 'dist', 'web', 'pusher.min.js');
const ECHO_JS = require.resolve('laravel-echo/iife'); // dist/echo.iife.js: global `Echo` module object

// The chat page. The test reads window.events and calls window.chat.* through page.evaluate.
function chatPage(query, wsPort) {
  const token = query.get('token');
  const me = USERS[token];
  const config = { key: APP.key, host: HOST, port: wsPort, token, userId: me ? me.id : null };
  return `<!doctype html>
<html>
<head>
  <meta charset="utf-8">
  <meta name="csrf-token" content="${CSRF}">
  <title>chat.1</title>
  <script src="/js/pusher.min.js"></script>
  <script src="/js/echo.iife.js"></script>
</head>
<body>
  <ul id="events"></ul>
  <script>
    const CONFIG = ${JSON.stringify(config)};
    window.events = [];
    function record(kind, payload) {
      window.events.push({ kind, payload });
      const li = document.createElement('li');
      li.textContent = kind + ' ' + JSON.stringify(payload);
      document.getElementById('events').appendChild(li);
    }
    // resources/js/echo.js, with the IIFE build's global instead of the ES imports.
    const EchoClass = window.Echo.default;
    window.Echo = new EchoClass({
      broadcaster: 'reverb',
      key: CONFIG.key,
      wsHost: CONFIG.host,
      wsPort: CONFIG.port,
      wssPort: CONFIG.port,
      forceTLS: false,
      enabledTransports: ['ws', 'wss'],
      disableStats: true,
      bearerToken: CONFIG.token,
    });
    window.Echo.connector.pusher.connection.bind('state_change', (s) => record('state', s.current));

    window.Echo.join('chat.1')
      .here((users) => record('here', users))
      .joining((user) => record('joining', user))
      .leaving((user) => record('leaving', user))
      .listenForWhisper('typing', (e) => record('whisper', e))
      .error((e) => record('presence-error', e));

    window.Echo.private('App.Models.User.' + CONFIG.userId)
      .subscribed(() => record('private-subscribed', null))
      .notification((n) => record('notification', n))
      .error((e) => record('private-error', e));

    window.chat = {
      typing() { window.Echo.join('chat.1').whisper('typing', { userId: CONFIG.userId, name: ${JSON.stringify(me ? me.name : '')} }); },
      leave() { window.Echo.leave('chat.1'); },
    };
  </script>
</body>
</html>`;
}

describe('browser (headless Chromium, laravel-echo + pusher-js browser builds)', () => {
  const srv = useServer({ apps: [APP] });
  let laravel;
  let playwright;
  let context;
  let profileDir;
  const consoleLines = [];

  before(async () => {
    if (!fs.existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: run tests/e2e/setup-browser.sh (installs Debian's chromium)`);
    }
    playwright = require('playwright-core');
    laravel = await startLaravel({
      app: APP,
      users: USERS,
      csrfToken: CSRF,
      channels: {
        'App.Models.User.{id}': (user, id) => Number(user.id) === Number(id),
        'chat.{chatId}': (user, chatId) => (Number(chatId) === 1 ? { id: user.id, name: user.name } : false),
      },
      files: { '/js/pusher.min.js': PUSHER_JS, '/js/echo.iife.js': ECHO_JS },
      pages: { '/chat': (query) => chatPage(query, srv.server.port) },
    });
    profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringcast-chromium-'));
    context = await playwright.chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: 30000,
    });
  });

  after(async () => {
    if (context) await context.close().catch(() => {});
    if (laravel) await laravel.close();
    if (profileDir) fs.rmSync(profileDir, { recursive: true, force: true });
  });

  async function openPage(token) {
    const page = await context.newPage();
    page.on('console', (m) => consoleLines.push(`[${token}] ${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => consoleLines.push(`[${token}] pageerror: ${e.message}`));
    await page.goto(laravel.url(`/chat?token=${encodeURIComponent(token)}`), { timeout: WAIT_MS });
    return page;
  }

  const eventsOf = (page) => page.evaluate(() => window.events);
  const waitEvents = (page, fnText, label) =>
    page.waitForFunction(fnText, null, { timeout: WAIT_MS }).catch((err) => {
      throw new Error(`${label}: ${err.message}`);
    });

  it('presence here/joining/leaving, a private notification and a whisper between two pages (never echoed)', { timeout: 90000 }, srv.wrap(async (t, server) => {
    let a;
    let b;
    try {
      a = await openPage('token-ann');
      await waitEvents(a, "window.events.some(e => e.kind === 'here') && window.events.some(e => e.kind === 'private-subscribed')", 'page A joined chat.1 and App.Models.User.1');
      let evA = await eventsOf(a);
      assert.deepEqual(evA.find((e) => e.kind === 'here').payload, [{ id: 1, name: 'Ann' }]);

      b = await openPage('token-bob');
      await waitEvents(b, "window.events.some(e => e.kind === 'here')", 'page B joined chat.1');
      await waitEvents(a, "window.events.some(e => e.kind === 'joining')", 'page A saw B joining');
      const evB = await eventsOf(b);
      const here = evB.find((e) => e.kind === 'here').payload;
      assert.deepEqual([...here].sort((x, y) => x.id - y.id), [{ id: 1, name: 'Ann' }, { id: 2, name: 'Bob' }]);
      evA = await eventsOf(a);
      assert.deepEqual(evA.filter((e) => e.kind === 'joining').map((e) => e.payload), [{ id: 2, name: 'Bob' }]);

      // The auth requests were Laravel-shaped: form-encoded, with the CSRF token and the Bearer token.
      const authReqs = laravel.requests.filter((r) => r.path === '/broadcasting/auth');
      assert.ok(authReqs.length >= 4, `auth requests: ${JSON.stringify(authReqs)}`);
      for (const r of authReqs) {
        assert.match(r.contentType, /^application\/x-www-form-urlencoded/);
        assert.equal(r.csrf, CSRF);
      }

      // B whispers "typing": A gets it, B never does.
      await b.evaluate(() => window.chat.typing());
      await waitEvents(a, "window.events.some(e => e.kind === 'whisper')", 'page A got the whisper');
      evA = await eventsOf(a);
      assert.deepEqual(evA.filter((e) => e.kind === 'whisper').map((e) => e.payload), [{ userId: 2, name: 'Bob' }]);

      // A private notification published with the SDK reaches A only.
      const notification = { id: crypto.randomUUID(), type: 'App\\Notifications\\UserMentioned', author: 'Bob', text: 'hi @Ann' };
      await triggerOk(createRestClient(server), 'private-App.Models.User.1', 'Illuminate\\Notifications\\Events\\BroadcastNotificationCreated', notification);
      await waitEvents(a, "window.events.some(e => e.kind === 'notification')", 'page A got the notification');
      evA = await eventsOf(a);
      assert.deepEqual(evA.filter((e) => e.kind === 'notification').map((e) => e.payload), [notification]);

      await new Promise((r) => setTimeout(r, 500));
      const evB2 = await eventsOf(b);
      assert.deepEqual(evB2.filter((e) => e.kind === 'whisper'), [], 'the sender never receives its own whisper');
      assert.deepEqual(evB2.filter((e) => e.kind === 'notification'), [], 'B does not get A\'s notification');
      assert.deepEqual(evB2.filter((e) => e.kind.endsWith('-error')), []);

      // B leaves: A sees it leaving.
      await b.evaluate(() => window.chat.leave());
      await waitEvents(a, "window.events.some(e => e.kind === 'leaving')", 'page A saw B leaving');
      evA = await eventsOf(a);
      assert.deepEqual(evA.filter((e) => e.kind === 'leaving').map((e) => e.payload), [{ id: 2, name: 'Bob' }]);
      assert.deepEqual(evA.filter((e) => e.kind.endsWith('-error')), []);
    } catch (err) {
      process.stderr.write(`\n----- browser console -----\n${consoleLines.join('\n')}\n----- end of browser console -----\n`);
      throw err;
    } finally {
      if (b) await b.close().catch(() => {});
      if (a) await a.close().catch(() => {});
    }
  }));
});
