'use strict';

// `ringcast doctor --env FILE` against a running server: a correct Laravel .env passes (exit 0);
// each planted mistake is flagged with its fix (exit 1).

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync, execFile } = require('node:child_process');
const { describe, it, before, after } = require('node:test');
const https = require('node:https');
const { useServer, DEFAULT_APP, binaryPath, freePort } = require('./lib/server');
const { makeCertificates } = require('./lib/webhook_receiver');

const T = { timeout: 30000 };

// A Laravel 11 .env as `php artisan install:broadcasting` writes it, pointed at `port`.
function laravelEnv(port, { key = DEFAULT_APP.key, portLine = `REVERB_PORT=${port}`, viteKey = '"${REVERB_APP_KEY}"' } = {}) {
  return [
    'APP_NAME=Laravel',
    'BROADCAST_CONNECTION=reverb',
    `REVERB_APP_ID=${DEFAULT_APP.id}`,
    `REVERB_APP_KEY=${key}`,
    `REVERB_APP_SECRET=${DEFAULT_APP.secret}`,
    'REVERB_HOST="127.0.0.1"',
    portLine,
    'REVERB_SCHEME=http',
    '',
    `VITE_REVERB_APP_KEY=${viteKey}`,
    'VITE_REVERB_HOST="${REVERB_HOST}"',
    'VITE_REVERB_PORT="${REVERB_PORT}"',
    'VITE_REVERB_SCHEME="${REVERB_SCHEME}"',
    '',
  ].join('\n');
}

describe('ringcast doctor --env', () => {
  const srv = useServer({ apps: [DEFAULT_APP] });
  let dir;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringcast-doctor-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  function doctor(name, text, env = {}) {
    const file = path.join(dir, `${name}.env`);
    fs.writeFileSync(file, text);
    const r = spawnSync(binaryPath(), ['doctor', '--env', file], { encoding: 'utf8', timeout: 20000, env: { PATH: process.env.PATH, ...env } });
    return { status: r.status, out: `${r.stdout}${r.stderr}`, file };
  }

  // The same without blocking this process, for a server that runs in it (the TLS stand-in).
  function doctorAsync(name, text, env = {}) {
    const file = path.join(dir, `${name}.env`);
    fs.writeFileSync(file, text);
    return new Promise((resolve) => {
      execFile(binaryPath(), ['doctor', '--env', file], { encoding: 'utf8', timeout: 20000, env: { PATH: process.env.PATH, ...env } },
        (err, stdout, stderr) => resolve({ status: err ? err.code : 0, out: `${stdout}${stderr}`, file }));
    });
  }

  function failures(out) {
    return out.split('\n').filter((l) => l.startsWith('FAIL'));
  }

  it('passes a correct .env: every check ok, exit 0', T, srv.wrap(async (t, server) => {
    const r = doctor('correct', laravelEnv(server.port));
    assert.equal(r.status, 0, r.out);
    assert.deepEqual(failures(r.out), []);
    for (const line of [/^ok +server reachable/m, /^ok +WebSocket handshake .*: connected/m, /^ok +signed publish: POST \/apps\/1\/events answered 200/m]) {
      assert.match(r.out, line);
    }
  }));

  it('flags the tutorial typo REVERB_REVERB_PORT (and the port 443 Laravel then falls back to)', T, srv.wrap(async (t, server) => {
    const r = doctor('typo', laravelEnv(server.port, { portLine: `REVERB_REVERB_PORT=${server.port}` }));
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /^FAIL +REVERB_REVERB_PORT=\d+ in .* is a typo: nothing reads it -> fix: rename it to REVERB_PORT$/m);
    assert.match(r.out, /^ok +the app publishes to http:\/\/127\.0\.0\.1:443 \(Laravel's default for what is not set\)$/m);
  }));

  it('flags a key the server does not have, and a VITE_ key that differs', T, srv.wrap(async (t, server) => {
    const r = doctor('key', laravelEnv(server.port, { key: 'not-the-key' }));
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /^FAIL +WebSocket handshake at ws:\/\/127\.0\.0\.1:\d+\/app\/not-the-key: .*4001.* -> fix: the server has no app with key not-the-key/m);
    assert.match(r.out, /^FAIL +signed publish: POST \/apps\/1\/events answered 401/m);
    const vite = doctor('vite-key', laravelEnv(server.port, { viteKey: 'other-key' }));
    assert.equal(vite.status, 1, vite.out);
    assert.deepEqual(failures(vite.out).map((l) => l.replace(/ -> fix.*/, '')), ['FAIL  VITE_REVERB_APP_KEY=other-key differs from REVERB_APP_KEY=app-key']);
  }));

  it('flags a wrong port, naming REVERB_PORT and REVERB_SERVER_PORT in the fix', T, srv.wrap(async (t, server) => {
    const wrong = await freePort();
    const r = doctor('port', laravelEnv(wrong));
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, new RegExp(`^FAIL +nothing answers at http://127\\.0\\.0\\.1:${wrong} \\(Connection refused\\) -> fix: .*REVERB_SERVER_PORT`, 'm'));
    assert.match(r.out, /^skip +WebSocket handshake and signed publish/m);
  }));

  it('flags a server that is down', T, async () => {
    const port = await freePort(); // nothing listens there: the server of this .env is down
    const text = laravelEnv(port);
    const r = doctor('down', text);
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /^FAIL +nothing answers at .* -> fix: start the server \(ringcast start --env /m);
    assert.match(r.out, /^1 check failed$/m);
  });

  it('without --env says what it needs', T, () => {
    const r = spawnSync(binaryPath(), ['doctor'], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /doctor: --env FILE is required/);
  });

  it('flags https towards a port that speaks plain http (ringcast without nginx in front)', T, srv.wrap(async (t, server) => {
    const r = doctor('https-plain', laravelEnv(server.port).replace('REVERB_SCHEME=http', 'REVERB_SCHEME=https'));
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /^FAIL +https:\/\/127\.0\.0\.1:\d+: TLS handshake failed: .* -> fix: with REVERB_SCHEME=https the port must serve TLS/m);
  }));

  // https: the certificate is checked for the host. A stand-in TLS server (ringcast itself sits
  // behind nginx for TLS, deploy/nginx) with a certificate for 127.0.0.1 from a test CA.
  it('with https, checks the TLS certificate for the host: valid with its CA, flagged without', T, async () => {
    const tls = await makeCertificates(dir);
    const server = https.createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"health":"OK"}');
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const text = laravelEnv(server.address().port).replace('REVERB_SCHEME=http', 'REVERB_SCHEME=https');
      const trusted = await doctorAsync('tls', text, { SSL_CERT_FILE: tls.caFile });
      assert.match(trusted.out, /^ok +TLS certificate valid for 127\.0\.0\.1$/m);
      assert.match(trusted.out, /^ok +server reachable: https:\/\/127\.0\.0\.1:\d+\/up answered 200/m);
      const untrusted = await doctorAsync('tls-untrusted', text, { SSL_CERT_FILE: path.join(dir, 'no-such-ca.pem') });
      assert.equal(untrusted.status, 1, untrusted.out);
      assert.match(untrusted.out, /^FAIL +TLS certificate not valid for 127\.0\.0\.1: unable to get local issuer certificate -> fix: install a certificate/m);
    } finally {
      server.close();
    }
  });
});
