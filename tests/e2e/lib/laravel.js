'use strict';

// A stand-in for the Laravel side of broadcasting, served on 127.0.0.1 for Echo and browser
// tests: POST /broadcasting/auth and /broadcasting/user-auth answer like Laravel's
// Broadcast::routes() with the Pusher/Reverb broadcaster (form-encoded socket_id +
// channel_name in, JSON out, 403 when the channel callback refuses), with channel callbacks
// declared like routes/channels.php. It can also serve static files and HTML pages.
//
//   const app = await startLaravel({
//     app: DEFAULT_APP,
//     users: { 'token-1': { id: 1, name: 'Ann' } },       // Authorization: Bearer <token>
//     channels: { 'App.Models.User.{id}': (user, id) => Number(user.id) === Number(id), ... },
//     userData: (user) => ({ id: String(user.id), user_info: {...} }),   // for user-auth
//     files: { '/js/pusher.min.js': '/abs/path' },  pages: { '/': (query) => '<html>…' },
//   });
//   app.url('/broadcasting/auth'); app.requests; await app.close();
// With `csrfToken`, auth requests must carry a matching X-CSRF-TOKEN header (else 419).

const http = require('node:http');
const fs = require('node:fs');
const { HOST } = require('./server');
const { privateAuth, presenceAuth, userAuth, sharedSecret } = require('./auth');

// Laravel's UsePusherChannelConventions::normalizeChannelName.
function normalizeChannelName(name) {
  for (const prefix of ['private-encrypted-', 'private-', 'presence-']) {
    if (name.startsWith(prefix)) return name.slice(prefix.length);
  }
  return name;
}

// 'chat.{chatId}.presence' -> /^chat\.([^.]+)\.presence$/ (Laravel's channel pattern matching).
function patternToRegExp(pattern) {
  const escaped = pattern.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
  return new RegExp(`^${escaped.replace(/\{[^}]+\}/g, '([^.]+)')}$`);
}

function readBody(req, limit = 64 * 1024) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > limit) {
        reject(new Error('request body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res, status, body, type = 'application/json') {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

class FakeLaravel {
  constructor({ app, users = {}, channels = {}, userData, files = {}, pages = {}, masterKey, secretOverride = {}, csrfToken }) {
    this.app = app;
    this.users = users;
    this.routes = Object.entries(channels).map(([pattern, callback]) => ({ re: patternToRegExp(pattern), callback }));
    this.userData = userData || ((user) => ({ id: String(user.id), user_info: { name: user.name } }));
    this.files = files;
    this.pages = pages;
    this.masterKey = masterKey;
    // token -> secret: lets a test play a Laravel app configured with the wrong secret.
    this.secretOverride = secretOverride;
    // When set, auth requests must carry X-CSRF-TOKEN (Laravel's VerifyCsrfToken answers 419).
    this.csrfToken = csrfToken;
    this.requests = [];
    this.server = null;
    this.port = 0;
  }

  url(path) {
    return `http://${HOST}:${this.port}${path}`;
  }

  start() {
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err) => send(res, 500, { message: String(err && err.message) }));
    });
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, HOST, () => {
        this.port = this.server.address().port;
        resolve(this);
      });
    });
  }

  close() {
    if (!this.server) return Promise.resolve();
    const s = this.server;
    this.server = null;
    return new Promise((resolve) => {
      s.close(() => resolve());
      if (s.closeAllConnections) s.closeAllConnections();
    });
  }

  userFor(req) {
    const m = /^Bearer (.+)$/.exec(req.headers.authorization || '');
    const token = m ? m[1] : null;
    return token && this.users[token] ? { token, user: this.users[token] } : { token, user: null };
  }

  signingApp(token) {
    const secret = this.secretOverride[token];
    return secret ? { ...this.app, secret } : this.app;
  }

  async handle(req, res) {
    const url = new URL(req.url, `http://${HOST}`);
    if (req.method === 'POST' && (url.pathname === '/broadcasting/auth' || url.pathname === '/broadcasting/user-auth')) {
      const body = await readBody(req);
      const form = new URLSearchParams(body);
      const { token, user } = this.userFor(req);
      const record = {
        path: url.pathname,
        contentType: req.headers['content-type'],
        socketId: form.get('socket_id'),
        channelName: form.get('channel_name'),
        token,
        csrf: req.headers['x-csrf-token'],
      };
      this.requests.push(record);
      if (!/^application\/x-www-form-urlencoded/.test(record.contentType || '')) {
        send(res, 415, { message: 'expected a form-encoded body' });
        return;
      }
      if (this.csrfToken && record.csrf !== this.csrfToken) {
        send(res, 419, { message: 'CSRF token mismatch.' });
        return;
      }
      if (!user) {
        send(res, 403, { message: 'Unauthenticated.' }); // Laravel answers guests with 403 here
        return;
      }
      const app = this.signingApp(token);
      if (url.pathname === '/broadcasting/user-auth') {
        send(res, 200, userAuth(app, record.socketId, JSON.stringify(this.userData(user))));
        return;
      }
      this.authorizeChannel(res, app, user, record.socketId, record.channelName);
      return;
    }
    if (req.method === 'GET' && this.files[url.pathname]) {
      const file = this.files[url.pathname];
      const text = fs.readFileSync(file);
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'content-length': text.length });
      res.end(text);
      return;
    }
    if (req.method === 'GET' && this.pages[url.pathname]) {
      send(res, 200, this.pages[url.pathname](url.searchParams), 'text/html; charset=utf-8');
      return;
    }
    send(res, 404, { message: 'Not Found' });
  }

  authorizeChannel(res, app, user, socketId, channelName) {
    if (!socketId || !channelName) {
      send(res, 422, { message: 'socket_id and channel_name are required' });
      return;
    }
    const normalized = normalizeChannelName(channelName);
    for (const route of this.routes) {
      const m = route.re.exec(normalized);
      if (!m) continue;
      const result = route.callback(user, ...m.slice(1));
      if (!result) break;
      if (channelName.startsWith('presence-')) {
        // pusher-php authorizePresenceChannel: {"user_id":"<id as string>","user_info":<callback result>}
        const channelData = JSON.stringify({ user_id: String(user.id), user_info: result === true ? [] : result });
        send(res, 200, presenceAuth(app, socketId, channelName, channelData));
        return;
      }
      const body = { auth: privateAuth(app, socketId, channelName) };
      if (channelName.startsWith('private-encrypted-') && this.masterKey) {
        body.shared_secret = sharedSecret(channelName, this.masterKey);
      }
      send(res, 200, body);
      return;
    }
    send(res, 403, { message: 'This action is unauthorized.' });
  }
}

async function startLaravel(options) {
  const app = new FakeLaravel(options);
  await app.start();
  return app;
}

module.exports = { startLaravel, FakeLaravel, normalizeChannelName, patternToRegExp };
