'use strict';

// Starts and stops a real ringcast process for a test file.
//
//   const srv = useServer({ apps: [...], server: {...} });   // inside describe()
//   it('does x', srv.wrap(async (t, server) => { ... server.port ... }));
//
// The binary comes from $RINGCAST_BIN (default <repo>/build/src/ringcast). The process gets a
// clean environment (PATH plus whatever the caller passes), binds 127.0.0.1 on a free port, and
// is considered ready once GET /up answers 200 {"health":"OK"}. Its stdout/stderr are kept in
// memory (server.log(), for tests that read the --debug log) and written to
// $RINGCAST_E2E_LOG_DIR/<testfile>-<pid>-<n>.log (default: <tmp>/ringcast-e2e-logs; <pid> is this
// test file's Node process, <n> counts its servers). When a test fails, a diagnostic
// "# ringcast log: <path>" names the log of every server that was running during it, and the
// tail of the output is printed when a wrapped test fails or the process dies.
//
// With RINGCAST_E2E_CLUSTER=N, startServer() and useServer() start N nodes over Redis behind
// nginx instead, and hand back a handle that looks like one server's (see lib/balanced.js).

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { before, after, beforeEach, afterEach } = require('node:test');
const { sleep } = require('./util');
const balanced = require('./balanced');

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const DEFAULT_BIN = path.join(REPO_ROOT, 'build', 'src', 'ringcast');
const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 10000;
const READY_POLL_MS = 50;
const STOP_GRACE_MS = 5000;
const LOG_LIMIT = 2 * 1024 * 1024;
// What AddressSanitizer, LeakSanitizer, UndefinedBehaviorSanitizer and ThreadSanitizer print when
// the server is a sanitized build (scripts/test runs the suite against an ASan/UBSan build and
// part of it against a TSan build): any of it fails the test file. TSan reports a race as a
// WARNING and keeps running, so the word matters, not the severity.
const SANITIZER_REPORT = /ERROR: (AddressSanitizer|LeakSanitizer|ThreadSanitizer)|runtime error:|(WARNING|FATAL): ThreadSanitizer/;
const SANITIZER_ENV = ['ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS', 'TSAN_OPTIONS'];
// Lines of output dumpLog() prints; the whole output is in the server's log file.
const DUMP_TAIL_LINES = 60;

const LOG_DIR = process.env.RINGCAST_E2E_LOG_DIR || path.join(os.tmpdir(), 'ringcast-e2e-logs');
// "api" for tests/e2e/api.test.js: the file this process runs (node --test runs each file in its own).
const TEST_FILE = path
  .basename((require.main && require.main.filename) || process.argv[1] || 'e2e')
  .replace(/(\.test)?\.[cm]?js$/, '');
let serversStarted = 0;

// Servers whose process is running, and those running at any point of the current test, so a
// failing test can name their logs.
const liveServers = new Set();
let serversOfTest = null;

beforeEach(() => {
  serversOfTest = new Set(liveServers);
});

afterEach((t) => {
  const servers = serversOfTest || new Set();
  serversOfTest = null;
  if (t.passed !== false) return;
  for (const server of servers) {
    if (server.logPath) t.diagnostic(`ringcast log: ${server.logPath}`);
  }
});

// The default application used by most tests (values mirror the brief / Reverb defaults).
const DEFAULT_APP = Object.freeze({
  id: '1',
  key: 'app-key',
  secret: 'app-secret',
  ping_interval: 60,
  pong_timeout: 30,
  activity_timeout: 30,
  max_message_size: 10000,
  max_event_payload_bytes: 10240,
});

function binaryPath() {
  return process.env.RINGCAST_BIN || DEFAULT_BIN;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// One GET with a hard timeout; resolves {status, body} or null on any network error. With `ca`
// the GET is made over https, verified with that CA for the name localhost.
function probe(port, urlPath, timeoutMs, ca) {
  return new Promise((resolve) => {
    const req = (ca ? https : http).request(
      {
        host: HOST, port, path: urlPath, method: 'GET', agent: false, timeout: timeoutMs,
        ...(ca ? { ca, servername: 'localhost' } : {}),
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', () => resolve(null));
      },
    );
    req.on('timeout', () => req.destroy(new Error('probe timeout')));
    req.on('error', () => resolve(null));
    req.end();
  });
}

function isHealthy(reply) {
  if (!reply || reply.status !== 200) return false;
  try {
    return JSON.parse(reply.body).health === 'OK';
  } catch {
    return false;
  }
}

class RingcastServer {
  // noConfig: start without --config (apps from REVERB_* variables or --env); pathPrefix: the
  // route prefix when it does not come from config.server.path (e.g. REVERB_SERVER_PATH).
  // tlsPort: also pass --tls-port with a free port of its own (this.tlsPort), picked again on
  // each start attempt like the main one. readyCa: the main port speaks TLS, so GET /up is made
  // over https, verified with this CA (PEM) for localhost.
  constructor({ config, threads = 2, env = {}, args = [], noConfig = false, pathPrefix, nofile, tlsPort = false, readyCa }) {
    this.config = config;
    this.nofile = nofile; // run under `prlimit --nofile=N:N` (the open-files limit tests)
    this.noConfig = noConfig;
    this.configPath = null; // the --config file while the server runs (rewrite it, then SIGHUP)
    this.threads = threads;
    this.env = env;
    this.extraArgs = args;
    this.host = HOST;
    this.port = 0;
    this.wantTlsPort = tlsPort;
    this.tlsPort = 0;
    this.readyCa = readyCa;
    this.child = null;
    this.exitInfo = null; // {code, signal} once the process has exited
    this.stopping = false;
    this.logChunks = [];
    this.logBytes = 0;
    this.tmpDir = null;
    this.logPath = null; // the log file, named on the first start and kept across restarts
    this.logFd = null;
    this.pathPrefix = pathPrefix !== undefined ? pathPrefix : (config.server && config.server.path) || '';
  }

  get baseUrl() {
    return `http://${HOST}:${this.port}`;
  }

  // ws://127.0.0.1:PORT{prefix}/app/{key}?{query}
  wsUrl(key = 'app-key', query = 'protocol=7&client=js&version=8.4.0', prefix = this.pathPrefix) {
    return `ws://${HOST}:${this.port}${prefix}/app/${key}${query === null ? '' : `?${query}`}`;
  }

  openLogFile() {
    if (this.logFd !== null) return;
    if (!this.logPath) {
      fs.mkdirSync(LOG_DIR, { recursive: true });
      serversStarted += 1;
      this.logPath = path.join(LOG_DIR, `${TEST_FILE}-${process.pid}-${serversStarted}.log`);
    }
    this.logFd = fs.openSync(this.logPath, 'a');
  }

  writeLogFile(text) {
    if (this.logFd === null) return;
    try {
      fs.writeSync(this.logFd, text);
    } catch {
      /* a full disk must not fail the test; the output is still in memory */
    }
  }

  closeLogFile() {
    if (this.logFd === null) return;
    fs.closeSync(this.logFd);
    this.logFd = null;
  }

  appendLog(stream, chunk) {
    const text = `[${stream}] ${chunk.toString('utf8')}`;
    this.writeLogFile(text);
    this.logChunks.push(text);
    this.logBytes += chunk.length;
    while (this.logBytes > LOG_LIMIT && this.logChunks.length > 1) {
      this.logBytes -= Buffer.byteLength(this.logChunks.shift());
    }
  }

  log() {
    return this.logChunks.join('');
  }

  // The last DUMP_TAIL_LINES lines of output on stderr, with where the whole log is.
  dumpLog(reason) {
    const lines = this.log().split('\n');
    const skipped = Math.max(lines.length - 1 - DUMP_TAIL_LINES, 0);
    const text = lines.slice(skipped).join('\n');
    process.stderr.write(
      `\n----- ringcast output (${reason}; port ${this.port}, pid ${this.child && this.child.pid}; ` +
        `whole log: ${this.logPath}) -----\n` +
        `${skipped ? `(${skipped} earlier lines are in the log file)\n` : ''}` +
        `${text.length ? text : '(no output)\n'}` +
        `${this.exitInfo ? `(process exited: code=${this.exitInfo.code} signal=${this.exitInfo.signal})\n` : ''}` +
        '----- end of ringcast output -----\n',
    );
  }

  async start() {
    const bin = binaryPath();
    if (!fs.existsSync(bin)) {
      throw new Error(
        `ringcast binary not found at ${bin} (build it with "meson compile -C build" or set RINGCAST_BIN)`,
      );
    }
    let lastError = null;
    this.openLogFile();
    liveServers.add(this);
    if (serversOfTest) serversOfTest.add(this);
    for (let attempt = 0; attempt < 3; attempt += 1) {
      // Written on every attempt: stop() removes the temp dir of a failed one.
      this.tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringcast-e2e-'));
      const configPath = this.writeConfig();
      this.configPath = configPath;
      this.port = await freePort();
      if (this.wantTlsPort) {
        do {
          this.tlsPort = await freePort();
        } while (this.tlsPort === this.port);
      }
      this.exitInfo = null;
      this.logChunks = [];
      this.logBytes = 0;
      const args = [
        'start',
        '--host', HOST,
        '--port', String(this.port),
        '--threads', String(this.threads),
        ...(this.noConfig ? [] : ['--config', configPath]),
        ...(this.wantTlsPort ? ['--tls-port', String(this.tlsPort)] : []),
        ...this.extraArgs,
      ];
      const env = { PATH: process.env.PATH || '/usr/bin:/bin', ...this.env };
      for (const name of SANITIZER_ENV) {
        if (process.env[name] && env[name] === undefined) env[name] = process.env[name];
      }
      const child = this.spawnChild(bin, args, env);
      this.child = child;
      this.writeLogFile(`===== ${new Date().toISOString()} pid ${child.pid}: ${bin} ${args.join(' ')}\n`);
      child.stdout.on('data', (c) => this.appendLog('stdout', c));
      child.stderr.on('data', (c) => this.appendLog('stderr', c));
      // 'close' comes after the last output, which may follow 'exit'.
      this.outputDone = new Promise((resolve) => child.on('close', resolve));
      const exited = new Promise((resolve) => {
        child.on('exit', (code, signal) => {
          this.exitInfo = { code, signal };
          resolve(this.exitInfo);
        });
        child.on('error', (err) => {
          this.appendLog('spawn', Buffer.from(String(err)));
          this.exitInfo = { code: null, signal: null, error: err };
          resolve(this.exitInfo);
        });
      });
      this.exited = exited;

      try {
        await this.waitReady();
        return this;
      } catch (err) {
        lastError = err;
        const early = this.exitInfo;
        const portTaken = /Address already in use/.test(this.log());
        if (!early || !portTaken) {
          // A real start-up failure (bad config, crash): show its own output, do not retry.
          this.dumpLog('server failed to start');
          await this.stop();
          throw this.withLogPath(lastError);
        }
        await this.stop();
        this.openLogFile();
        liveServers.add(this);
      }
    }
    this.dumpLog('server failed to start');
    throw this.withLogPath(lastError);
  }

  // The --config file of this start attempt, in this.tmpDir.
  writeConfig() {
    const configPath = path.join(this.tmpDir, 'config.json');
    fs.writeFileSync(configPath, JSON.stringify(this.config, null, 2));
    return configPath;
  }

  spawnChild(bin, args, env) {
    // prlimit execs the server, so the child's pid is the server's.
    return this.nofile
      ? spawn('prlimit', [`--nofile=${this.nofile}:${this.nofile}`, '--', bin, ...args], {
        env, stdio: ['ignore', 'pipe', 'pipe'],
      })
      : spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  }

  // A start-up failure fails a before hook, where no afterEach names the log: the message does.
  withLogPath(err) {
    err.message += ` (ringcast log: ${this.logPath})`;
    return err;
  }

  async waitReady() {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    const paths = this.pathPrefix ? [`${this.pathPrefix}/up`, '/up'] : ['/up'];
    for (;;) {
      if (this.exitInfo) {
        throw new Error(
          `ringcast exited before becoming ready (code=${this.exitInfo.code} signal=${this.exitInfo.signal})`,
        );
      }
      for (const p of paths) {
        if (isHealthy(await probe(this.port, p, 500, this.readyCa))) return;
      }
      if (Date.now() >= deadline) {
        throw new Error(
          `ringcast did not answer GET /up${this.readyCa ? ' (over https)' : ''} with 200 {"health":"OK"} within ${READY_TIMEOUT_MS} ms`,
        );
      }
      // A referenced timer: util.sleep unrefs its own, and with only unref'd timers pending
      // Node would end the test with "Promise resolution is still pending" instead of
      // reporting why the server did not start.
      await new Promise((resolve) => setTimeout(resolve, READY_POLL_MS));
    }
  }


  isAlive() {
    return this.child !== null && this.exitInfo === null;
  }

  // SIGTERM, wait up to 5 s, then SIGKILL. Resolves with the exit info.
  async stop() {
    const child = this.child;
    if (!child) return null;
    this.stopping = true;
    if (!this.exitInfo) {
      try {
        child.kill('SIGTERM');
      } catch {
        /* already gone */
      }
      let timer;
      const timedOut = await Promise.race([
        this.exited.then(() => false),
        new Promise((resolve) => {
          timer = setTimeout(() => resolve(true), STOP_GRACE_MS);
        }),
      ]);
      clearTimeout(timer);
      if (timedOut && !this.exitInfo) {
        this.appendLog('harness', Buffer.from(`did not exit ${STOP_GRACE_MS} ms after SIGTERM; sending SIGKILL\n`));
        this.killedHard = true;
        try {
          child.kill('SIGKILL');
        } catch {
          /* already gone */
        }
        await this.exited;
      }
    }
    if (this.outputDone) {
      let timer;
      await Promise.race([this.outputDone, new Promise((resolve) => { timer = setTimeout(resolve, 1000); })]);
      clearTimeout(timer);
    }
    if (this.exitInfo) {
      this.writeLogFile(`===== process exited: code=${this.exitInfo.code} signal=${this.exitInfo.signal}\n`);
    }
    this.closeLogFile();
    liveServers.delete(this);
    if (this.tmpDir) {
      fs.rmSync(this.tmpDir, { recursive: true, force: true });
      this.tmpDir = null;
      this.configPath = null;
    }
    if (SANITIZER_REPORT.test(this.log())) {
      this.dumpLog('sanitizer report');
      throw new Error('the sanitized ringcast reported an error (see its output above)');
    }
    return this.exitInfo;
  }
}

function makeConfig({ apps = [DEFAULT_APP], server } = {}) {
  const config = { apps: apps.map((a) => ({ ...a })) };
  if (server) config.server = { ...server };
  return config;
}

// What lib/balanced.js (cluster mode) builds on.
function harness() {
  return {
    HOST, LOG_DIR, LOG_LIMIT, TEST_FILE, RingcastServer, freePort, isHealthy, makeConfig, probe,
    track(entry) {
      liveServers.add(entry);
      if (serversOfTest) serversOfTest.add(entry);
    },
    untrack(entry) {
      liveServers.delete(entry);
    },
  };
}

async function startServer(options = {}) {
  const size = balanced.clusterSize();
  if (size > 0 && !balanced.scalesItself(options)) return balanced.startBalanced(harness(), options, size);
  const server = new RingcastServer({
    config: options.config || makeConfig(options),
    threads: options.threads,
    env: options.env,
    args: options.args,
    noConfig: options.noConfig,
    pathPrefix: options.pathPrefix,
    nofile: options.nofile,
    tlsPort: options.tlsPort,
    readyCa: options.readyCa,
  });
  await server.start();
  return server;
}

// Registers before/after hooks that run one server for the enclosing describe() block.
// Returns a handle whose `wrap(fn)` turns fn(t, server) into a test body that prints the
// server's output if the test fails and fails the test if the server process died.
function useServer(options = {}) {
  const handle = {
    server: null,
    wrap(fn) {
      return async (t) => {
        const server = handle.server;
        if (!server) throw new Error('ringcast server is not running (see the before hook error)');
        if (!server.isAlive()) {
          throw new Error(`ringcast is not running (exited: ${JSON.stringify(server.exitInfo)})`);
        }
        try {
          await fn(t, server);
        } catch (err) {
          server.dumpLog(`test failed: ${t.name}`);
          throw err;
        }
        if (!server.isAlive()) {
          server.dumpLog(`server died during: ${t.name}`);
          throw new Error(`ringcast exited during the test (${JSON.stringify(server.exitInfo)})`);
        }
      };
    },
  };
  before(async () => {
    handle.server = await startServer(options);
  });
  after(async () => {
    if (handle.server) {
      const died = !handle.server.isAlive();
      await handle.server.stop();
      if (died || process.env.RINGCAST_E2E_VERBOSE) handle.server.dumpLog('after hook');
    }
  });
  return handle;
}

module.exports = {
  DEFAULT_APP,
  HOST,
  RingcastServer,
  binaryPath,
  freePort,
  makeConfig,
  startServer,
  useServer,
};
