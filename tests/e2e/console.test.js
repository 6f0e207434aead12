'use strict';

// The debug console (issue 15, acceptance 2) in headless Chromium (Debian's /usr/bin/chromium,
// tests/e2e/setup-browser.sh) driven by playwright-core, against a server started with
// `--console /console --console-token T`. Without the token the page, its stream and the event
// creator are refused. With it, the page sees a pusher-js client connect and subscribe (a
// presence member among them), an event published with the `pusher` SDK, a private-channel auth
// refused (reason and the string that should have been signed), its own event creator's publish
// reach the client, a filter hide other channels' rows and the client's disconnect with its close
// code; a screenshot of it is saved beside the server logs and checked not to be blank. The app
// selector switches apps, and an app's secret opens that app only. The token given in the address
// is kept in a cookie for reloads and the stream, but the cookie alone never publishes.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const zlib = require('node:zlib');
const { describe, it, before, after } = require('node:test');
const { useServer, DEFAULT_APP, HOST } = require('./lib/server');
const { request } = require('./lib/http');
const { WsClient, connectPusher } = require('./lib/ws');
const { subscribeRaw } = require('./lib/proto');
const { createClient, waitConnected, subscribe, createRestClient, triggerOk, disconnectAll } = require('./lib/pusher');
const { channelAuthHandler } = require('./lib/auth');
const { uniqueName } = require('./lib/util');

const CHROMIUM = process.env.RINGCAST_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const PATH = '/console';
const TOKEN = 'console-e2e-token-0123456789';
const APP = DEFAULT_APP;
const OTHER = { id: '2', key: 'other-key', secret: 'other-secret-0123' };
// Every wait on the page: the stream updates about once a second, so 10 s is ten updates.
const WAIT_MS = 10000;
// Where the screenshot goes: beside the server logs, named like them (<testfile>-<pid>-...).
const LOG_DIR = process.env.RINGCAST_E2E_LOG_DIR || path.join(os.tmpdir(), 'ringcast-e2e-logs');

// What the page showed, for a failure message: status, counts and the first rows of each table.
async function pageState(page) {
  return page.evaluate(() => {
    const text = (sel) => { const e = document.querySelector(sel); return e ? e.textContent.trim() : null; };
    const rows = (sel, n) => [...document.querySelectorAll(sel)].slice(0, n)
      .map((r) => `${r.hidden ? '(hidden) ' : ''}${r.textContent.replace(/\s+/g, ' ').trim()}`);
    return [
      `status: ${text('#status')} (${document.getElementById('status').dataset.state}); url: ${location.href}`,
      `message: ${text('#message')}; node: ${text('#node')}; creator: ${text('#creator-result')}`,
      `connections (${text('#connection-count')}):`, ...rows('#connections tbody tr', 10),
      'channels:', ...rows('#channels tbody tr', 15),
      'stream:', ...rows('#stream tbody tr', 30),
    ].join('\n  ');
  }).catch((err) => `(the page could not be read: ${err.message})`);
}

// A PNG that is not one flat colour: after decompression its scanlines (filtered, as stored)
// of a uniform image are nearly all zero bytes; a page with text and tables has many values.
function distinctPixelBytes(png) {
  assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG', 'the screenshot is a PNG');
  const idat = [];
  for (let at = 8; at < png.length;) {
    const len = png.readUInt32BE(at);
    const type = png.subarray(at + 4, at + 8).toString('latin1');
    if (type === 'IDAT') idat.push(png.subarray(at + 8, at + 8 + len));
    at += 12 + len;
  }
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const seen = new Set();
  for (let i = 0; i < raw.length; i += 7) seen.add(raw[i]);
  return seen.size;
}

// Also runs as is through a cluster (RINGCAST_E2E_CLUSTER=3): a page on any node shows them all.
describe('debug console', () => {
  const srv = useServer({ apps: [APP, OTHER], args: ['--console', PATH, '--console-token', TOKEN] });
  let context;
  let profileDir;
  const consoleLines = [];

  before(async () => {
    if (!fs.existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: run tests/e2e/setup-browser.sh (installs Debian's chromium)`);
    }
    profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringcast-chromium-'));
    context = await require('playwright-core').chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30000,
      viewport: { width: 1280, height: 800 },
    });
  });

  after(async () => {
    if (context) await context.close().catch(() => {});
    if (profileDir) fs.rmSync(profileDir, { recursive: true, force: true });
  });

  async function openConsole(server, query, label) {
    const page = await context.newPage();
    page.on('console', (m) => consoleLines.push(`[${label}] ${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => consoleLines.push(`[${label}] pageerror: ${e.message}`));
    const res = await page.goto(`${server.baseUrl}${PATH}?${query}`, { timeout: WAIT_MS });
    return { page, status: res.status() };
  }

  // Waits for a condition in the page (a function run there with `arg`); on timeout the error
  // carries what the page showed.
  async function waitPage(page, fn, arg, label) {
    try {
      await page.waitForFunction(fn, arg, { timeout: WAIT_MS, polling: 100 });
    } catch (err) {
      throw new Error(`${label}: ${err.message.split('\n')[0]}\n  the page showed:\n  ${await pageState(page)}`);
    }
  }
  const waitLive = (page) => waitPage(page, () => document.getElementById('status').dataset.state === 'live', null, 'the console is live');
  // A stream row of `kind` on `channel` (and, when given, `event`) whose text matches `text`.
  const waitRow = (page, want, label) => waitPage(page, (w) => [...document.querySelectorAll('#stream tbody tr')].some((r) =>
    r.dataset.kind === w.kind && (w.channel === undefined || r.dataset.channel === w.channel) &&
    (w.event === undefined || r.dataset.event === w.event) && (w.text === undefined || r.textContent.includes(w.text))), want, label);

  const fail = (err) => {
    process.stderr.write(`\n----- browser console -----\n${consoleLines.join('\n')}\n----- end of browser console -----\n`);
    throw err;
  };

  it('refuses the page, its stream and the event creator without the token', { timeout: 30000 }, srv.wrap(async (t, server) => {
    for (const query of ['', '?token=wrong-token-0123456789', `?token=${OTHER.secret}&app=${APP.id}`]) {
      const res = await request(server.port, { path: `${PATH}${query}` });
      assert.equal(res.status, 401, `GET ${PATH}${query}: ${res.status} ${res.body}`);
      assert.equal(typeof res.json.error, 'string', `GET ${PATH}${query} answers a JSON error: ${res.body}`);
      assert.doesNotMatch(res.body, /<script/, 'no page without the token');
    }
    for (const query of ['', '?token=wrong-token-0123456789', `?token=${APP.secret}&app=${OTHER.id}`]) {
      const url = `ws://${HOST}:${server.port}${PATH}/stream${query}`;
      const err = await WsClient.connect(url).then((c) => { c.ws.terminate(); return null; }, (e) => e);
      assert.ok(err, `the stream opened without the token (${url})`);
      assert.equal(err.status, 401, `${url}: ${err.message}`);
    }
    const publish = await request(server.port, {
      method: 'POST', path: `${PATH}/apps/${APP.id}/events`, headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'e', channel: 'c', data: '{}' }),
    });
    assert.equal(publish.status, 401, `the event creator without the token: ${publish.status} ${publish.body}`);
  }));

  it('keeps the token in a cookie for reloads and the stream, never for the event creator; 404 for an unknown app', { timeout: 30000 }, srv.wrap(async (t, server) => {
    const first = await request(server.port, { path: `${PATH}?token=${TOKEN}` });
    assert.equal(first.status, 200);
    const cookie = (first.headers['set-cookie'] || []).find((c) => c.startsWith('ringcast_console='));
    assert.ok(cookie, `a cookie is set: ${JSON.stringify(first.headers['set-cookie'])}`);
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    assert.match(cookie, new RegExp(`Path=${PATH}`));
    const jar = cookie.split(';')[0];
    // A reload: the address has no token any more.
    const reload = await request(server.port, { path: PATH, headers: { cookie: jar } });
    assert.equal(reload.status, 200, `a reload with the cookie: ${reload.status} ${reload.body}`);
    const stream = await request(server.port, { path: `${PATH}/stream`, headers: { cookie: jar } });
    assert.equal(stream.status, 426, 'the stream without an upgrade, with a valid cookie');
    const noSuchApp = await request(server.port, { path: `${PATH}/stream?app=no-such-app`, headers: { cookie: jar } });
    assert.equal(noSuchApp.status, 404, `an unknown app: ${noSuchApp.status} ${noSuchApp.body}`);
    const wrong = await request(server.port, { path: `${PATH}/stream`, headers: { cookie: 'ringcast_console=wrong-token-0123456789' } });
    assert.equal(wrong.status, 401);
    const forged = await request(server.port, {
      method: 'POST', path: `${PATH}/apps/${APP.id}/events`, headers: { 'content-type': 'application/json', cookie: jar },
      body: JSON.stringify({ name: 'e', channel: 'c', data: '{}' }),
    });
    assert.equal(forged.status, 401, 'a cookie alone does not publish (another site could send it)');
    const unknown = await request(server.port, {
      method: 'POST', path: `${PATH}/apps/no-such-app/events`, headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ name: 'e', channel: 'c', data: '{}' }),
    });
    assert.equal(unknown.status, 404);
  }));

  it('shows a pusher-js client, an SDK publish, a refused auth, its own publish and a disconnect', { timeout: 90000 }, srv.wrap(async (t, server) => {
    const publicChannel = uniqueName('console-news');
    const privateChannel = uniqueName('private-console-orders');
    const presenceChannel = uniqueName('presence-console-room');
    const rest = createRestClient(server);
    let page;
    let client;
    let raw;
    try {
      ({ page } = await openConsole(server, `token=${TOKEN}`, 'console'));
      await waitLive(page);
      assert.doesNotMatch(page.url(), /token/, 'the token left the address bar');
      assert.deepEqual(await page.$$eval('#app-select option', (o) => o.map((x) => x.value)), [APP.id, OTHER.id]);

      // A pusher-js client on a public, a private and a presence channel (signed as Laravel would).
      const user = { id: 7345, info: { name: 'Ann' } };
      client = createClient(server, { channelAuthorization: { customHandler: channelAuthHandler(APP, { user }) } });
      const socketId = await waitConnected(client);
      const news = await subscribe(client, publicChannel);
      await subscribe(client, privateChannel);
      await subscribe(client, presenceChannel);
      await waitPage(page, (w) => {
        const row = document.querySelector(`#connections tr[data-socket-id="${w.socketId}"]`);
        return row && row.textContent.includes(w.publicChannel) && row.textContent.includes(w.privateChannel);
      }, { socketId, publicChannel, privateChannel }, 'the client listed with its two channels');
      await waitRow(page, { kind: 'connected', text: socketId }, 'the connect in the stream');
      await waitRow(page, { kind: 'subscribed', channel: publicChannel, text: socketId }, 'the public subscription');
      await waitRow(page, { kind: 'subscribed', channel: privateChannel, text: socketId }, 'the private subscription');
      await waitPage(page, (w) => [...document.querySelectorAll('#channels tbody tr')].some((r) =>
        r.dataset.channel === w.channel && r.dataset.type === 'private' && r.cells[2].textContent === '1'),
      { channel: privateChannel }, 'the private channel with one subscription');
      await waitPage(page, (w) => [...document.querySelectorAll('#channels tbody tr')].some((r) =>
        r.dataset.channel === w.channel && r.dataset.type === 'presence' && [...r.querySelectorAll('.chip')].some((c) => c.textContent === w.member)),
      { channel: presenceChannel, member: String(user.id) }, 'the presence channel with its member');
      assert.ok(Number(await page.textContent('#connection-count')) >= 1);

      // An event published with the SDK: an api_event row with its name and data.
      await triggerOk(rest, publicChannel, 'sdk-event', { order: 42 });
      await news.waitEvent('sdk-event');
      await waitRow(page, { kind: 'api_event', channel: publicChannel, event: 'sdk-event', text: '{"order":42}' }, 'the SDK publish');

      // A private-channel auth with a wrong signature: the reason and the string to sign.
      raw = await connectPusher(server.wsUrl());
      const refusal = await subscribeRaw(raw, privateChannel, { auth: `${APP.key}:${'0'.repeat(64)}` });
      assert.equal(refusal.event, 'pusher:subscription_error');
      await waitRow(page, { kind: 'auth_failed', channel: privateChannel, text: `${raw.socketId}:${privateChannel}` }, 'the refused auth with the string to sign');
      const authRow = await page.$eval(`#stream tr[data-kind="auth_failed"][data-channel="${privateChannel}"]`, (r) => r.textContent);
      assert.match(authRow, /reason\s+\S/, `the refusal's reason is shown: ${authRow}`);
      assert.match(authRow, /should have signed/);

      // The event creator: the server signs, pusher-js receives.
      await page.fill('#creator-channel', publicChannel);
      await page.fill('#creator-event', 'console-event');
      await page.fill('#creator-data', '{"from":"the console"}');
      await page.click('#creator-send');
      await waitPage(page, () => /^200\b/.test(document.getElementById('creator-result').textContent), null, 'the event creator answered 200');
      const got = await news.waitEvent('console-event', WAIT_MS);
      assert.deepEqual(got.data, { from: 'the console' });
      await waitRow(page, { kind: 'api_event', channel: publicChannel, event: 'console-event' }, 'the creator\'s publish in the stream');

      // Filters: by channel, then by event.
      await page.fill('#filter-channel', privateChannel);
      const byChannel = await page.$$eval('#stream tbody tr', (rs) => rs.map((r) => ({ hidden: r.hidden, channel: r.dataset.channel })));
      assert.ok(byChannel.some((r) => !r.hidden), 'rows of the private channel stay');
      assert.ok(byChannel.some((r) => r.hidden && r.channel === publicChannel), 'rows of the public channel are hidden');
      assert.ok(byChannel.every((r) => r.hidden || r.channel.includes(privateChannel)), JSON.stringify(byChannel));
      await page.fill('#filter-channel', '');
      await page.fill('#filter-event', 'sdk-');
      const byEvent = await page.$$eval('#stream tbody tr:not([hidden])', (rs) => rs.map((r) => r.dataset.event));
      assert.deepEqual(byEvent, ['sdk-event']);
      await page.fill('#filter-event', '');

      // A screenshot that is not blank.
      fs.mkdirSync(LOG_DIR, { recursive: true });
      const shot = path.join(LOG_DIR, `console-${process.pid}-screenshot.png`);
      const png = await page.screenshot({ path: shot });
      t.diagnostic(`screenshot: ${shot} (${png.length} bytes)`);
      assert.ok(png.length > 20000, `the screenshot is ${png.length} bytes: blank?`);
      assert.ok(distinctPixelBytes(png) > 40, 'the screenshot has more than a flat colour');
      assert.ok(await page.$$eval('#stream tbody tr', (rs) => rs.length) >= 6);

      // The client leaves: a disconnected row with its close code.
      client.disconnect();
      client = null;
      await waitRow(page, { kind: 'disconnected', text: socketId }, 'the disconnect');
      const closeRow = await page.$$eval('#stream tr[data-kind="disconnected"]', (rs, id) =>
        rs.map((r) => r.textContent).find((x) => x.includes(id)), socketId);
      assert.match(closeRow, /code\s*\d{4}/, `a close code is shown: ${closeRow}`);
      await waitPage(page, (id) => !document.querySelector(`#connections tr[data-socket-id="${id}"]`), socketId, 'the client left the list');
    } catch (err) {
      fail(err);
    } finally {
      disconnectAll([client]);
      if (raw) await raw.shutdown();
      if (page) await page.close().catch(() => {});
    }
  }));

  it('switches apps from the selector', { timeout: 30000 }, srv.wrap(async (t, server) => {
    let page;
    let client;
    try {
      ({ page } = await openConsole(server, `token=${TOKEN}`, 'switch'));
      await waitLive(page);
      client = createClient(server, { key: OTHER.key });
      const socketId = await waitConnected(client);
      await page.selectOption('#app-select', OTHER.id);
      await waitPage(page, (id) => document.getElementById('status').dataset.state === 'live' &&
        Boolean(document.querySelector(`#connections tr[data-socket-id="${id}"]`)), socketId, 'app 2\'s client listed');
      assert.match(page.url(), new RegExp(`[?&]app=${OTHER.id}\\b`));
    } catch (err) {
      fail(err);
    } finally {
      disconnectAll([client]);
      if (page) await page.close().catch(() => {});
    }
  }));

  it("opens one app with that app's secret", { timeout: 30000 }, srv.wrap(async (t, server) => {
    let page;
    try {
      let status;
      ({ page, status } = await openConsole(server, `token=${OTHER.secret}&app=${OTHER.id}`, 'secret'));
      assert.equal(status, 200);
      await waitLive(page);
      assert.deepEqual(await page.$$eval('#app-select option', (o) => o.map((x) => x.value)), [OTHER.id]);
      assert.doesNotMatch(page.url(), /token/);
      await page.close();
      ({ page, status } = await openConsole(server, `token=${OTHER.secret}&app=${APP.id}`, 'secret-other-app'));
      assert.equal(status, 401, 'an app secret does not open another app');
    } catch (err) {
      fail(err);
    } finally {
      if (page) await page.close().catch(() => {});
    }
  }));
});
