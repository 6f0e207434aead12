'use strict';

// The systemd unit and the example config in deploy/, as shipped. The unit goes through
// `systemd-analyze verify` and `security --offline` (no running systemd needed, nothing installed
// system-wide: a copy in a temp dir with ExecStart pointed at the built binary), and its ExecStart
// line is run as written, with only the binary and the config path swapped for the test's, on
// deploy/ringcast.example.json with its port swapped for a free one.
// What no test here can show: the sandbox settings at run time (that needs systemd as PID 1),
// and User=ringcast, which systemd only resolves when it starts the service (verify does not
// look the user up, so the copy keeps the line).

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { describe, it, before, after } = require('node:test');
const { binaryPath, freePort, HOST } = require('./lib/server');
const { connectPusher, closeAll } = require('./lib/ws');
const { apiRequest } = require('./lib/api');
const { request } = require('./lib/http');
const { SANITIZER_REPORT, readDeployFile, findTool, replaceOnce, run, Child } = require('./lib/deploy');
const { waitUntil } = require('./lib/util');

const T = { timeout: 30000 };
const UNIT = 'systemd/ringcast.service';
const EXAMPLE = 'ringcast.example.json';
const SHIPPED_BIN = '/usr/local/bin/ringcast';
const SHIPPED_CONFIG = '/etc/ringcast/ringcast.json';
const SYSTEMD_ANALYZE = findTool('systemd-analyze');
const analyzeSkip = SYSTEMD_ANALYZE ? false : 'systemd-analyze is not installed (scripts/setup --tests installs systemd)';

// The [Service] (or other) section's settings as {key: [values...]}; comments skipped.
function unitSection(text, section) {
  const out = {};
  let current = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    assert.ok(!line.endsWith('\\'), 'the tests read one setting per line; the unit has a continued line');
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = header[1];
      continue;
    }
    if (current !== section) continue;
    const eq = line.indexOf('=');
    const key = line.slice(0, eq);
    (out[key] ||= []).push(line.slice(eq + 1));
  }
  return out;
}

function only(settings, key) {
  assert.equal((settings[key] || []).length, 1, `expected exactly one ${key}= in ${UNIT}`);
  return settings[key][0];
}

// A copy of the unit that systemd-analyze can check here: the binary must exist. (Matched at the
// start of a line: the commented alternatives name the binary too.)
function unitCopy(dir, text = readDeployFile(UNIT)) {
  const file = path.join(dir, 'ringcast.service');
  fs.writeFileSync(file, replaceOnce(text, `\nExecStart=${SHIPPED_BIN} `, `\nExecStart=${binaryPath()} `, UNIT));
  return file;
}

describe(`deploy/${UNIT} under systemd-analyze`, { skip: analyzeSkip }, () => {
  let dir;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringcast-deploy-unit-'));
  });
  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  // verify exits 0 on unknown keys and unparsable values too, and only says so: any line about
  // the unit is a failure here. Lines about other units it loads (network-online.target and
  // what that pulls in) belong to the host, and are only reported.
  it('systemd-analyze verify finds nothing to say about it', T, async (t) => {
    const file = unitCopy(dir);
    const res = await run(SYSTEMD_ANALYZE, ['verify', '--man=no', file]);
    const lines = `${res.stdout}${res.stderr}`.split('\n').filter(Boolean);
    const ours = lines.filter((line) => line.includes(file) || line.includes('ringcast'));
    for (const line of lines) if (!ours.includes(line)) t.diagnostic(`about another unit: ${line}`);
    assert.deepEqual(ours, []);
    assert.equal(res.code, 0, lines.join('\n'));
  });

  it('the check can fail: a copy with a misspelt key and a missing binary is reported', T, async () => {
    let text = replaceOnce(readDeployFile(UNIT), '\nNoNewPrivileges=yes', '\nNoNewPrivilege=yes', UNIT);
    text = replaceOnce(text, '\nExecReload=/bin/kill ', '\nExecReload=/nonexistent/kill ', UNIT);
    const res = await run(SYSTEMD_ANALYZE, ['verify', '--man=no', unitCopy(dir, text)]);
    const said = `${res.stdout}${res.stderr}`;
    assert.match(said, /Unknown key 'NoNewPrivilege'/);
    assert.match(said, /\/nonexistent\/kill is not executable/);
    assert.notEqual(res.code, 0);
  });

  it('systemd-analyze security --offline rates its sandbox "OK" or better (exposure below 4.0)', T, async (t) => {
    const file = unitCopy(dir);
    const res = await run(SYSTEMD_ANALYZE, ['security', '--offline=true', '--no-pager', file]);
    assert.equal(res.code, 0, `${res.stdout}${res.stderr}`);
    const m = /Overall exposure level for ringcast\.service: (\d+\.\d+) (\w+)/.exec(res.stdout);
    assert.ok(m, res.stdout);
    t.diagnostic(`exposure ${m[1]} ${m[2]}`);
    assert.ok(Number(m[1]) < 4, `exposure ${m[1]} ${m[2]}:\n${res.stdout}`);
  });

  it('keeps what the README and deploy/TUNING.md say of it: simple, LimitNOFILE, Restart, KillSignal, User', T, () => {
    const service = unitSection(readDeployFile(UNIT), 'Service');
    assert.equal(only(service, 'Type'), 'simple');
    assert.equal(only(service, 'LimitNOFILE'), '1048576');
    assert.equal(only(service, 'Restart'), 'on-failure');
    assert.equal(only(service, 'KillSignal'), 'SIGTERM');
    assert.equal(only(service, 'User'), 'ringcast');
  });
});

describe(`deploy/${EXAMPLE} started by the unit's ExecStart line`, () => {
  const service = unitSection(readDeployFile(UNIT), 'Service');
  const shipped = JSON.parse(readDeployFile(EXAMPLE));
  // What its reader does first: its placeholder secrets ("replace-with-...") replaced.
  const example = JSON.parse(JSON.stringify(shipped));
  for (const app of example.apps) {
    assert.match(app.secret, /^replace-with-/);
    app.secret = crypto.randomBytes(16).toString('hex');
  }
  let dir;
  let port;
  let proc;

  // The ExecStart line as written, with the built binary and the test's copy of the config.
  function execStart(configPath) {
    const argv = only(service, 'ExecStart').split(/\s+/);
    assert.equal(argv[0], SHIPPED_BIN);
    assert.equal(argv.filter((a) => a === SHIPPED_CONFIG).length, 1, `ExecStart names ${SHIPPED_CONFIG} once`);
    return [binaryPath(), ...argv.slice(1).map((a) => (a === SHIPPED_CONFIG ? configPath : a))];
  }

  async function healthy() {
    try {
      const res = await request(port, { path: '/up', timeout: 1000 });
      return res.status === 200 && res.json && res.json.health === 'OK';
    } catch {
      return false;
    }
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringcast-deploy-example-'));
    // Free ports can be taken between freePort() and the server's bind(): try a few.
    for (let attempt = 0; attempt < 3; attempt += 1) {
      port = await freePort();
      const config = JSON.parse(JSON.stringify(example));
      // Behind nginx on the same host (deploy/nginx/ringcast.conf's upstream): loopback only.
      assert.equal(config.server.host, HOST);
      assert.equal(config.server.port, 8080, 'the example listens on 8080, as the nginx site expects');
      config.server.port = port;
      const configPath = path.join(dir, 'ringcast.json');
      fs.writeFileSync(configPath, JSON.stringify(config, null, 2));
      const [bin, ...args] = execStart(configPath);
      proc = new Child(bin, args);
      try {
        await waitUntil(async () => !proc.running || (await healthy()), { timeout: 10000, interval: 50, label: 'GET /up' });
      } catch (err) {
        proc.dump('did not become healthy');
        await proc.stop('SIGKILL');
        throw err;
      }
      if (proc.running) return;
      if (!/Address already in use/.test(proc.output)) {
        proc.dump('exited at start');
        throw new Error(`ringcast exited at start with the example config: ${JSON.stringify(proc.exitInfo)}`);
      }
    }
    throw new Error('no free port in 3 attempts');
  });

  after(async () => {
    if (proc) await proc.stop('SIGKILL', 2000);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  // Prints the server's output when the test fails.
  function wrap(fn) {
    return async (t) => {
      try {
        await fn(t);
      } catch (err) {
        proc.dump(`test failed: ${t.name}`);
        throw err;
      }
    };
  }

  it('as shipped, is refused: its placeholder secrets must be replaced first', T, () => {
    const configPath = path.join(dir, 'shipped.json');
    fs.writeFileSync(configPath, JSON.stringify({ ...shipped, server: { ...shipped.server, port } }));
    const [bin, ...args] = execStart(configPath);
    const r = spawnSync(bin, args, { encoding: 'utf8', timeout: 10000 });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /still has the example's placeholder secret "replace-with-/);
  });

  it('serves both apps: each key connects with its own settings, each API answers only its own secret', T, wrap(async () => {
    assert.equal(example.apps.length, 2);
    // The banner, which may reach this process a moment after /up first answers.
    const banner = example.apps.map((app) => `app id: ${app.id} `);
    await waitUntil(() => /Apps from the config file/.test(proc.output) && banner.every((line) => proc.output.includes(line)), {
      timeout: 5000, label: 'the start-up banner naming both apps',
    });
    const clients = [];
    try {
      for (const app of example.apps) {
        const ws = await connectPusher(`ws://${HOST}:${port}/app/${app.key}?protocol=7&client=js&version=8.6.0`);
        clients.push(ws);
        assert.equal(ws.established.activity_timeout, app.activity_timeout ?? 30);
        const own = await apiRequest(port, { app, endpoint: '/channels' });
        assert.equal(own.status, 200, own.body);
        assert.deepEqual(own.json, { channels: {} });
      }
      const [shop, admin] = example.apps;
      const crossed = await apiRequest(port, { app: { ...shop, secret: admin.secret }, endpoint: '/channels' });
      assert.equal(crossed.status, 401, crossed.body);
    } finally {
      await closeAll(clients);
    }
  }));

  it('ExecReload (SIGHUP) keeps it serving and connected; KillSignal (SIGTERM) ends it with 0 within TimeoutStopSec', T, wrap(async () => {
    assert.equal(only(service, 'ExecReload'), '/bin/kill -HUP $MAINPID');
    const app = example.apps[0];
    const ws = await connectPusher(`ws://${HOST}:${port}/app/${app.key}?protocol=7&client=js&version=8.6.0`);
    try {
      const channel = 'deploy-reload';
      await ws.subscribe(channel);
      proc.signal('SIGHUP');
      await waitUntil(() => /SIGHUP: configuration reloaded/.test(proc.output), { timeout: 5000, label: 'the reload in the log' });
      assert.ok(await healthy(), 'GET /up after SIGHUP');
      const sent = await apiRequest(port, {
        method: 'POST', app, endpoint: '/events', body: { name: 'after-reload', channels: [channel], data: '{}' },
      });
      assert.equal(sent.status, 200, sent.body);
      await ws.nextEvent('after-reload', { channel });
    } finally {
      await closeAll([ws]);
    }

    const stopSeconds = Number(only(service, 'TimeoutStopSec'));
    assert.ok(stopSeconds > 3, 'TimeoutStopSec must outlast the webhooks\' 3 s shutdown grace');
    assert.equal(only(service, 'KillSignal'), 'SIGTERM');
    proc.signal('SIGTERM');
    const exit = await proc.waitExit(stopSeconds * 1000);
    assert.ok(exit, `still running ${stopSeconds} s after SIGTERM`);
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.doesNotMatch(proc.output, SANITIZER_REPORT);
  }));
});
