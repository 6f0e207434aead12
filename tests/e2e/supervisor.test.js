'use strict';

// deploy/supervisor/ringcast.conf under Debian's real supervisord, run by this test as the
// current user with everything in a temp dir (its socket, pid file and logs; no system path is
// read or written). The shipped [program:ringcast] block is installed the way its header says
// (copied into the include dir, then `supervisorctl reread` and `update`), edited only where
// it must be: the binary path, the .env path (a Laravel .env written here, whose
// REVERB_SERVER_HOST/PORT put the server on 127.0.0.1 and a free port) and the log file. Its
// `user=www-data` stays when the test runs as root and that user exists; otherwise the line is
// removed, since supervisord can switch users only as root. supervisord starts with the soft
// open-files limit at 1024 below its hard limit, as systemd starts Debian's supervisor.service.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { describe, it, before, after } = require('node:test');
const { binaryPath, freePort, HOST } = require('./lib/server');
const { createClient, waitConnected, subscribe, createRestClient, triggerOk, disconnectAll } = require('./lib/pusher');
const { request } = require('./lib/http');
const {
  SANITIZER_REPORT, readDeployFile, findTool, replaceOnce, run, processRunning, processesMentioning, openFilesLimits, killAll, Child,
} = require('./lib/deploy');
const { waitUntil, deferred, withTimeout } = require('./lib/util');

const PROGRAM = 'supervisor/ringcast.conf';
const SHIPPED_BIN = '/usr/local/bin/ringcast';
const SHIPPED_ENV = '/var/www/html/.env';
const SHIPPED_LOG = '/var/log/supervisor/ringcast.log';
const SHIPPED_USER = 'www-data';
const SUPERVISORD = findTool('supervisord');
const SUPERVISORCTL = findTool('supervisorctl');
const PRLIMIT = findTool('prlimit');
const skip = !SUPERVISORD || !SUPERVISORCTL
  ? 'supervisor is not installed (scripts/setup --tests installs it)'
  : !PRLIMIT
    ? 'prlimit (util-linux) is not installed'
    : false;
const APP = { id: 'supervised-app', key: 'supervised-key', secret: 'supervised-secret' };
// supervisord starts its programs on its first tick and restarts them on a later one, about a
// second apart; ringcast answers /up well within that.
const UP_TIMEOUT_MS = 15000;

// A Laravel app's .env, as `php artisan reverb:start` would read it.
function laravelEnv(port) {
  return [
    'APP_NAME=Laravel',
    'BROADCAST_CONNECTION=reverb',
    `REVERB_APP_ID=${APP.id}`,
    `REVERB_APP_KEY=${APP.key}`,
    `REVERB_APP_SECRET=${APP.secret}`,
    'REVERB_HOST=localhost',
    'REVERB_PORT=443',
    'REVERB_SCHEME=https',
    `REVERB_SERVER_HOST=${HOST}`,
    `REVERB_SERVER_PORT=${port}`,
    '',
  ].join('\n');
}

// Everything supervisord reads or writes is under `dir`.
function supervisordConf(dir) {
  const p = (name) => path.join(dir, name);
  return `; Written by tests/e2e/supervisor.test.js for one run.
[unix_http_server]
file=${p('supervisor.sock')}
chmod=0700

[supervisord]
nodaemon=true
logfile=${p('supervisord.log')}
pidfile=${p('supervisord.pid')}
childlogdir=${dir}

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://${p('supervisor.sock')}

[include]
files = ${p('conf.d')}/*.conf
`;
}

// The shipped block with only what must change here changed.
function programBlock({ envPath, logPath, keepUser }) {
  const what = `deploy/${PROGRAM}`;
  let block = readDeployFile(PROGRAM);
  block = replaceOnce(block, `\ncommand=${SHIPPED_BIN} start --env ${SHIPPED_ENV}\n`, `\ncommand=${binaryPath()} start --env ${envPath}\n`, what);
  block = replaceOnce(block, `\nstdout_logfile=${SHIPPED_LOG}\n`, `\nstdout_logfile=${logPath}\n`, what);
  if (!keepUser) block = replaceOnce(block, `\nuser=${SHIPPED_USER}\n`, '\n', what);
  else assert.ok(block.includes(`\nuser=${SHIPPED_USER}\n`), `${what} runs ringcast as ${SHIPPED_USER}`);
  return block;
}

// The user's uid and gid, or null when there is no such user.
async function lookupUser(name) {
  const uid = await run('id', ['-u', name]);
  const gid = await run('id', ['-g', name]);
  if (uid.code !== 0 || gid.code !== 0) return null;
  return { uid: Number(uid.stdout), gid: Number(gid.stdout) };
}

function hardOpenFiles() {
  return openFilesLimits(process.pid).hard;
}

describe(`deploy/${PROGRAM} under a real supervisord`, { skip }, () => {
  let dir;
  let conf;
  let envPath;
  let port;
  let supervisord;
  let runAs = null; // {uid, gid} when the user= line is kept
  const clients = [];

  const ctl = async (...args) => {
    const res = await run(SUPERVISORCTL, ['-c', conf, ...args], { timeoutMs: 15000 });
    return { ...res, said: `${res.stdout}${res.stderr}`.trim() };
  };
  const readLog = (name) => {
    try {
      return fs.readFileSync(path.join(dir, name), 'utf8');
    } catch {
      return '(none)\n';
    }
  };
  const dumpLogs = (reason) => {
    if (supervisord) supervisord.dump(reason);
    process.stderr.write(
      `----- supervisord.log -----\n${readLog('supervisord.log')}----- ringcast.log (the program's output) -----\n` +
        `${readLog('ringcast.log')}----- end -----\n`,
    );
  };

  // The pid supervisord gives for ringcast once the server behind it answers /up.
  async function ringcastUp(previousPid = 0) {
    let pid = 0;
    await waitUntil(async () => {
      const res = await ctl('pid', 'ringcast');
      pid = Number(res.stdout.trim()) || 0;
      if (!pid || pid === previousPid || !processRunning(pid)) return false;
      try {
        const up = await request(port, { path: '/up', timeout: 1000 });
        return up.status === 200 && up.json && up.json.health === 'OK';
      } catch {
        return false;
      }
    }, { timeout: UP_TIMEOUT_MS, interval: 100, label: 'ringcast under supervisord answering GET /up' });
    return pid;
  }

  // RUNNING once it has stayed up for startsecs (1 s by default); resolves with its pid. A kill
  // before that would be a failed start to supervisord, retried after a back-off, not a crash.
  async function ringcastRunning() {
    let pid = 0;
    await waitUntil(async () => {
      const m = /^ringcast\s+RUNNING\s+pid (\d+)/.exec((await ctl('status', 'ringcast')).said);
      pid = m ? Number(m[1]) : 0;
      return pid !== 0;
    }, { timeout: 10000, interval: 100, label: 'supervisorctl status: ringcast RUNNING' });
    return pid;
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringcast-supervisor-e2e-'));
    const root = process.getuid && process.getuid() === 0;
    runAs = root ? await lookupUser(SHIPPED_USER) : null;
    if (runAs) fs.chmodSync(dir, 0o711); // ringcast, as www-data, reads the .env inside
    fs.mkdirSync(path.join(dir, 'conf.d'));
    fs.mkdirSync(path.join(dir, 'app'));
    envPath = path.join(dir, 'app', '.env');
    conf = path.join(dir, 'supervisord.conf');
    fs.writeFileSync(conf, supervisordConf(dir));

    // Soft 1024 under the hard limit, as systemd starts supervisor.service (1024:524288).
    const hard = hardOpenFiles();
    const soft = Math.min(1024, Number(hard));
    supervisord = new Child(PRLIMIT, [`--nofile=${soft}:${hard}`, '--', SUPERVISORD, '-c', conf], {
      env: { PATH: process.env.PATH || '/usr/bin:/bin' },
    });
    // `supervisorctl pid` names supervisord itself once it answers on its socket (prlimit execs
    // it, so the pid is the child's).
    await waitUntil(async () => !supervisord.running || (await ctl('pid')).stdout.trim() === String(supervisord.pid), {
      timeout: 10000, interval: 100, label: 'supervisord answering on its socket',
    }).catch((err) => {
      dumpLogs('supervisord did not start');
      throw err;
    });
    if (!supervisord.running) {
      dumpLogs('supervisord exited');
      throw new Error(`supervisord exited at start: ${JSON.stringify(supervisord.exitInfo)}`);
    }
  });

  after(async () => {
    disconnectAll(clients);
    if (supervisord && supervisord.running) {
      await ctl('shutdown');
      await supervisord.stop('SIGTERM', 10000);
    }
    // Whatever is left of this run: every process naming its temp dir (ringcast's --env path,
    // supervisord's -c), found afresh so that a pid reused since cannot be hit.
    if (dir) killAll(processesMentioning(dir));
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  function wrap(fn) {
    return async (t) => {
      try {
        await fn(t);
      } catch (err) {
        dumpLogs(`test failed: ${t.name}`);
        throw err;
      }
    };
  }

  it('installed with reread + update, it starts ringcast from the Laravel .env, as www-data when root, with the whole open-files limit', { timeout: 60000 }, wrap(async (t) => {
    if (!runAs) t.diagnostic(`not root or no ${SHIPPED_USER}: the user= line is removed and ringcast runs as this user`);
    const programPath = path.join(dir, 'conf.d', 'ringcast.conf');
    fs.writeFileSync(programPath, programBlock({ envPath, logPath: path.join(dir, 'ringcast.log'), keepUser: Boolean(runAs) }));
    // A free port can be taken between freePort() and ringcast's bind(): try a few.
    let pid = 0;
    for (let attempt = 0; attempt < 3 && !pid; attempt += 1) {
      port = await freePort();
      fs.writeFileSync(envPath, laravelEnv(port), { mode: 0o600 });
      if (runAs) fs.chownSync(envPath, runAs.uid, runAs.gid);
      if (attempt === 0) {
        const reread = await ctl('reread');
        assert.match(reread.said, /ringcast: available/);
        const update = await ctl('update');
        assert.match(update.said, /ringcast: added process group/);
      } else {
        await ctl('restart', 'ringcast');
      }
      try {
        pid = await ringcastUp();
      } catch (err) {
        if (!/Address already in use/.test(readLog('ringcast.log'))) throw err;
      }
    }
    assert.ok(pid, 'ringcast did not come up on a free port in 3 attempts');

    assert.equal(await ringcastRunning(), pid);
    const uids = /^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    assert.equal(Number(uids[1]), runAs ? runAs.uid : process.getuid());
    // ringcast raised its soft limit to the hard one supervisord passed on.
    assert.deepEqual(openFilesLimits(pid), { soft: hardOpenFiles(), hard: hardOpenFiles() });
    // The banner, through redirect_stderr into the program's log: the app came from the .env.
    await waitUntil(() => readLog('ringcast.log').includes(`app id: ${APP.id}`), { timeout: 5000, label: 'the banner in the log' });
  }));

  it('SIGKILL: supervisord restarts ringcast, pusher-js reconnects by itself and gets an event published after the restart', { timeout: 60000 }, wrap(async (t) => {
    const t0 = Date.now();
    const mark = (what) => t.diagnostic(`${what} after ${Date.now() - t0} ms`);
    await ringcastUp();
    const killed = await ringcastRunning();
    const client = createClient({ port }, { key: APP.key });
    clients.push(client);
    const firstSocket = await waitConnected(client);
    const channel = `supervised-${process.pid}`;
    const log = await subscribe(client, channel);
    await triggerOk(createRestClient({ port }, { appId: APP.id, key: APP.key, secret: APP.secret }), channel, 'before-kill', { n: 1 });
    await log.waitEvent('before-kill');

    // The next successful subscription is the one after the reconnection.
    const resubscribed = deferred();
    client.channel(channel).bind('pusher:subscription_succeeded', () => resubscribed.resolve());

    mark('subscribed');
    process.kill(killed, 'SIGKILL');
    await ringcastUp(killed);
    mark('restarted');
    assert.match(readLog('supervisord.log'), new RegExp(`exited: ringcast \\(terminated by SIGKILL; not expected\\)`));

    // pusher-js saw the connection drop and comes back on its own with a new socket id.
    await waitUntil(() => client.connection.state === 'connected' && client.connection.socket_id !== firstSocket, {
      timeout: 20000, interval: 50, label: 'pusher-js reconnected to the restarted ringcast',
    });
    mark('reconnected');
    await withTimeout(resubscribed.promise, 10000, `pusher-js resubscribed to ${channel}`);
    mark('resubscribed');

    const rest = createRestClient({ port }, { appId: APP.id, key: APP.key, secret: APP.secret });
    await triggerOk(rest, channel, 'after-restart', { restarted: true });
    const got = await log.waitEvent('after-restart', 10000);
    assert.deepEqual(got.data, { restarted: true });
    assert.equal(log.named('before-kill').length, 1);
    client.disconnect();
  }));

  it('supervisorctl shutdown stops ringcast with TERM (it exits 0 on its own) and leaves no process behind', { timeout: 60000 }, wrap(async () => {
    const pid = await ringcastUp();
    const res = await ctl('shutdown');
    assert.equal(res.code, 0, res.said);
    const exit = await supervisord.waitExit(20000);
    assert.ok(exit, 'supervisord still running 20 s after shutdown');
    assert.equal(exit.code, 0, JSON.stringify(exit));
    assert.ok(!processRunning(pid), `ringcast ${pid} outlived supervisord`);
    const log = readLog('supervisord.log');
    assert.match(log, /stopped: ringcast \(exit status 0\)/);
    assert.doesNotMatch(log, /killing 'ringcast'/, 'ringcast needed SIGKILL to stop');
    assert.match(readLog('ringcast.log'), /SIGTERM received/);
    assert.doesNotMatch(readLog('ringcast.log'), SANITIZER_REPORT);
    assert.deepEqual(processesMentioning(dir), []);
  }));
});
