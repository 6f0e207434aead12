'use strict';

// The harness's cluster mode, switched on by RINGCAST_E2E_CLUSTER=N (N ringcast nodes): every
// startServer()/useServer() of lib/server.js then starts N nodes with the test's own options (the
// same apps, server settings, threads, arguments and environment) joined over Redis, behind one
// nginx that balances round-robin over them, and hands the test a handle that looks like one
// server's. The suite that runs against one server runs through the balancer unchanged.
//
// - Redis: one redis-server per test file's process on a free loopback port, started with the
//   first cluster and killed when the process exits. Each cluster gets its own key prefix
//   (server.redis.prefix, or REVERB_SCALING_CHANNEL for servers started without --config), so
//   the clusters of one file never see each other's state.
// - The nodes share one --config file (server.redis added), so a test that rewrites
//   server.configPath rewrites it for all of them. Each is ready once GET /up says "redis":"up".
// - nginx (Debian's, from /usr/sbin): its own temp directory, config, pid file and log, `daemon
//   off`, a master and one worker (so that round-robin is exact), on a free 127.0.0.1 port. It
//   proxies every path (so server.path still works), HTTP and WebSocket upgrades alike, with
//   HTTP/1.1 upstream, the Host header as sent, no buffering and hour-long read/send timeouts.
// - The handle: port, baseUrl and wsUrl() are nginx's. log() is the nodes' output in arrival
//   order, whole lines only, with a header line naming the node ("===== node 1 of 3 ...") before
//   each run of lines from one node, so it only ever grows and `log().slice(mark)` is what came
//   after `mark`. child is a facade ({pid} of node 0, kill(signal) signalling every node), and
//   process.kill(child.pid, signal) is caught and sent to every node too (a test's SIGHUP reloads
//   the whole cluster). signal(name) does the same explicitly. stop() stops the nodes (SIGTERM,
//   in parallel), then nginx; it resolves with node 0's exit info unless a node exited otherwise.
//   killedHard is true if any node needed SIGKILL.
// - Nothing is left behind: redis-server, nginx and the nodes are started with a parent-death
//   signal (util-linux setpriv), and are killed when the process exits or gets SIGINT/SIGTERM/SIGHUP.
//
// A test whose server already scales over Redis (server.redis, --redis or REVERB_SCALING_ENABLED)
// manages its own cluster: it gets one node, as without cluster mode.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { findTool } = require('./deploy');
const { redisAnswers } = require('./cluster');

const READY_TIMEOUT_MS = 10000;
const POLL_MS = 50;
const STOP_GRACE_MS = 5000;

// The number of nodes RINGCAST_E2E_CLUSTER asks for; 0 when cluster mode is off.
function clusterSize() {
  const value = process.env.RINGCAST_E2E_CLUSTER;
  if (value === undefined || value === '' || value === '0') return 0;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 16) {
    throw new Error(`RINGCAST_E2E_CLUSTER must be a number of nodes from 1 to 16, not ${JSON.stringify(value)}`);
  }
  return n;
}

// True when the test's server already scales over Redis: it is then one of the test's own nodes.
function scalesItself(options) {
  const server = (options.config ? options.config.server : options.server) || {};
  const env = options.env || {};
  const args = options.args || [];
  return server.redis !== undefined || env.REVERB_SCALING_ENABLED !== undefined ||
    args.some((a) => a === '--redis' || a.startsWith('--redis='));
}

function requireTool(name, hint) {
  const found = findTool(name);
  if (!found) throw new Error(`RINGCAST_E2E_CLUSTER needs ${name} (${hint})`);
  return found;
}

// --- what this process started, killed when it ends ---------------------------------------

const realKill = process.kill.bind(process);
const owned = new Set(); // {child, group}: group kills the process group (nginx's workers too)
const ownedDirs = new Set();
let hooksInstalled = false;

function killOwned() {
  for (const { child, group } of owned) {
    try {
      if (group) realKill(-child.pid, 'SIGKILL');
      else child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
  owned.clear();
  for (const dir of ownedDirs) fs.rmSync(dir, { recursive: true, force: true });
  ownedDirs.clear();
}

function installHooks() {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', killOwned);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    const onSignal = () => {
      killOwned();
      process.removeListener(signal, onSignal);
      realKill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
  // A test's process.kill(<node 0's pid>, signal) goes to every node of that cluster.
  process.kill = function kill(pid, signal) {
    const cluster = facades.get(Number(pid));
    if (cluster) {
      cluster.signal(signal === undefined ? 'SIGTERM' : signal);
      return true;
    }
    return realKill(pid, signal);
  };
}

function own(child, group = false) {
  installHooks();
  const entry = { child, group };
  owned.add(entry);
  child.once('exit', () => owned.delete(entry));
  return child;
}

function tempDir(name) {
  installHooks();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), name));
  ownedDirs.add(dir);
  return dir;
}

function removeDir(dir) {
  if (!dir) return;
  fs.rmSync(dir, { recursive: true, force: true });
  ownedDirs.delete(dir);
}

// spawn() with a parent-death signal: setpriv execs the program, so the pid is the program's.
function spawnOwned(file, args, options, deathSignal, group = false) {
  const setpriv = findTool('setpriv');
  const child = setpriv
    ? spawn(setpriv, ['--pdeathsig', deathSignal, '--', file, ...args], options)
    : spawn(file, args, options);
  return own(child, group);
}

// A process's exit as a promise of {code, signal} (or {error}).
function exitOf(child) {
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (err) => resolve({ code: null, signal: null, error: String(err) }));
  });
}

function pause(ms) {
  // Referenced, so that a pending start keeps the event loop (and its error) alive.
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function readText(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

// --- Redis: one per test file's process ---------------------------------------------------


let redis = null; // {port, child, exitInfo, logPath}
let redisStarting = null;

async function startRedis(h) {
  const bin = requireTool('redis-server', 'scripts/setup --tests installs redis-server');
  const dir = tempDir('ringcast-e2e-redis-');
  fs.mkdirSync(h.LOG_DIR, { recursive: true });
  const logPath = path.join(h.LOG_DIR, `${h.TEST_FILE}-${process.pid}-redis.log`);
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const port = await h.freePort();
    const fd = fs.openSync(logPath, 'a');
    const child = spawnOwned(bin, [
      '--port', String(port), '--bind', h.HOST, '--save', '', '--appendonly', 'no', '--dir', dir,
      '--daemonize', 'no',
    ], { stdio: ['ignore', fd, fd], env: { PATH: process.env.PATH || '/usr/bin:/bin' } }, 'SIGKILL');
    fs.closeSync(fd);
    const r = { port, child, exitInfo: null, logPath };
    exitOf(child).then((info) => {
      r.exitInfo = info;
    });
    // Killed at exit; it must not keep the test file's process alive.
    child.unref();
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (!r.exitInfo && Date.now() < deadline) {
      if (await redisAnswers(port)) return r;
      await pause(POLL_MS);
    }
    if (!r.exitInfo) child.kill('SIGKILL');
    if (!/Address already in use/.test(readText(logPath))) break;
  }
  throw new Error(`redis-server did not start (its log: ${logPath})`);
}

// The process's redis-server, started on first use (and again should it have died).
function sharedRedis(h) {
  if (redis && !redis.exitInfo) return Promise.resolve(redis);
  if (!redisStarting) {
    redisStarting = startRedis(h).then(
      (r) => {
        redis = r;
        redisStarting = null;
        return r;
      },
      (err) => {
        redisStarting = null;
        throw err;
      },
    );
  }
  return redisStarting;
}

// --- nginx in front of the nodes ----------------------------------------------------------

function nginxConf(dir, logPath, listenPort, upstreamPorts) {
  const p = (name) => path.join(dir, name);
  const servers = upstreamPorts.map((port) => `        server 127.0.0.1:${port} max_fails=0;\n`).join('');
  return `# Written by tests/e2e/lib/balanced.js for one cluster of the e2e harness.
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 20000;
pid ${p('nginx.pid')};
error_log ${logPath} notice;
events { worker_connections 8192; }
http {
    log_format upstream '$remote_addr:$remote_port [$time_local] "$request" $status $body_bytes_sent '
                        '-> $upstream_addr $upstream_status $request_time s';
    access_log ${logPath} upstream;
    client_body_temp_path ${p('tmp/body')};
    proxy_temp_path ${p('tmp/proxy')};
    fastcgi_temp_path ${p('tmp/fastcgi')};
    uwsgi_temp_path ${p('tmp/uwsgi')};
    scgi_temp_path ${p('tmp/scgi')};

    map $http_upgrade $connection_upgrade {
        default upgrade;
        ''      close;
    }

    # Round-robin (nginx's default); a node is never taken out of the rotation.
    upstream ringcast {
${servers}    }

    server {
        # Fixed socket buffers towards the clients: a slow reader's backlog then builds up in
        # the node's queue (where max_pending_write_bytes applies), not in megabytes of
        # autotuned kernel buffers on the proxy (robustness.test.js's 300 KB/s reader).
        listen 127.0.0.1:${listenPort} sndbuf=128k rcvbuf=128k;
        # The nodes judge bodies and headers, not nginx.
        client_max_body_size 0;
        large_client_header_buffers 8 64k;
        underscores_in_headers on;

        location / {
            proxy_pass http://ringcast;
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_read_timeout 3600s;
            proxy_send_timeout 3600s;
            proxy_next_upstream off;
        }
    }
}
`;
}

class Balancer {
  constructor(h, name) {
    this.h = h;
    this.logPath = path.join(h.LOG_DIR, `${h.TEST_FILE}-${process.pid}-${name}-nginx.log`);
    this.dir = null;
    this.child = null;
    this.exitInfo = null;
    this.port = 0;
  }

  log() {
    return readText(this.logPath);
  }

  async start(upstreamPorts, readyPath) {
    const bin = requireTool('nginx', 'scripts/setup --tests installs nginx-light');
    fs.mkdirSync(this.h.LOG_DIR, { recursive: true });
    for (let attempt = 0; attempt < 3; attempt += 1) {
      this.dir = tempDir('ringcast-e2e-nginx-');
      // As root, nginx's worker runs as nobody: it must be able to reach its temp dirs inside.
      fs.chmodSync(this.dir, 0o711);
      fs.mkdirSync(path.join(this.dir, 'tmp'));
      this.port = await this.h.freePort();
      this.exitInfo = null;
      const conf = path.join(this.dir, 'nginx.conf');
      fs.writeFileSync(conf, nginxConf(this.dir, this.logPath, this.port, upstreamPorts));
      const mark = this.log().length;
      fs.appendFileSync(this.logPath, `===== ${new Date().toISOString()} nginx on 127.0.0.1:${this.port} -> ${upstreamPorts.join(', ')}\n`);
      const fd = fs.openSync(this.logPath, 'a');
      // -e: the error log before the config is read. Its own process group, so that a master
      // killed hard does not leave its worker.
      const child = spawnOwned(bin, ['-p', this.dir, '-c', conf, '-e', this.logPath], {
        env: { PATH: process.env.PATH || '/usr/bin:/bin' },
        stdio: ['ignore', fd, fd],
        detached: true,
      }, 'SIGTERM', true);
      fs.closeSync(fd);
      this.child = child;
      this.exited = exitOf(child).then((info) => {
        this.exitInfo = info;
        return info;
      });
      const deadline = Date.now() + READY_TIMEOUT_MS;
      while (!this.exitInfo) {
        if (this.h.isHealthy(await this.h.probe(this.port, readyPath, 500))) return;
        if (Date.now() > deadline) break;
        await pause(POLL_MS);
      }
      const inUse = /Address already in use/.test(this.log().slice(mark));
      await this.stop();
      if (!inUse) break;
    }
    throw new Error(`nginx did not start or did not reach the nodes (its log: ${this.logPath})`);
  }

  // SIGQUIT would wait for the open WebSockets; SIGTERM is nginx's fast shutdown.
  async stop() {
    if (this.child && !this.exitInfo) {
      try {
        this.child.kill('SIGTERM');
      } catch {
        /* gone */
      }
      let timer;
      const timedOut = await Promise.race([
        this.exited.then(() => false),
        new Promise((resolve) => {
          timer = setTimeout(() => resolve(true), STOP_GRACE_MS);
        }),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        try {
          realKill(-this.child.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
        await this.exited;
      }
    }
    removeDir(this.dir);
    this.dir = null;
  }
}

// --- the nodes' output as one log ----------------------------------------------------------

// Whole lines only, in arrival order, with a header line whenever the node changes: the text
// only ever grows, like one server's log.
class CombinedLog {
  constructor(limit) {
    this.limit = limit;
    this.chunks = [];
    this.bytes = 0;
    this.last = null;
    this.partial = new Map();
  }

  add(node, text) {
    const pending = (this.partial.get(node) || '') + text;
    const end = pending.lastIndexOf('\n');
    if (end < 0) {
      this.partial.set(node, pending);
      return;
    }
    this.partial.set(node, pending.slice(end + 1));
    this.push(node, pending.slice(0, end + 1));
  }

  // The rest of a node's output once it has exited.
  flush(node) {
    const rest = this.partial.get(node);
    if (!rest) return;
    this.partial.set(node, '');
    this.push(node, `${rest}\n`);
  }

  push(node, text) {
    const piece = this.last === node ? text : `${node.header()}\n${text}`;
    this.last = node;
    this.chunks.push(piece);
    this.bytes += piece.length;
    while (this.bytes > this.limit && this.chunks.length > 1) {
      this.bytes -= this.chunks.shift().length;
    }
  }

  text() {
    return this.chunks.join('');
  }
}

// --- the cluster ---------------------------------------------------------------------------

const facades = new Map(); // node 0's pid -> its cluster, for process.kill
let clustersStarted = 0;

function makeNodeClass(RingcastServer) {
  return class ClusterNode extends RingcastServer {
    constructor(options, cluster, index) {
      super(options);
      this.cluster = cluster;
      this.index = index;
    }

    header() {
      return `===== node ${this.index} of ${this.cluster.nodes.length} (port ${this.port}, pid ${this.child && this.child.pid}; ` +
        `log ${this.logPath}) =====`;
    }

    // Every node reads the cluster's one file; its own temp dir (made by start()) stays empty.
    writeConfig() {
      ownedDirs.add(this.tmpDir);
      return this.cluster.configFile;
    }

    async stop() {
      const dir = this.tmpDir;
      try {
        return await super.stop();
      } finally {
        ownedDirs.delete(dir);
      }
    }

    spawnChild(bin, args, env) {
      const file = this.nofile ? 'prlimit' : bin;
      const all = this.nofile ? [`--nofile=${this.nofile}:${this.nofile}`, '--', bin, ...args] : args;
      const child = spawnOwned(file, all, { env, stdio: ['ignore', 'pipe', 'pipe'] }, 'SIGTERM');
      child.on('close', () => this.cluster.combined.flush(this));
      return child;
    }

    appendLog(stream, chunk) {
      super.appendLog(stream, chunk);
      this.cluster.combined.add(this, `[${stream}] ${chunk.toString('utf8')}`);
    }
  };
}

class BalancedServer {
  constructor(h, options, size) {
    clustersStarted += 1;
    this.h = h;
    this.name = `cluster${clustersStarted}`;
    this.prefix = `rc-e2e-${process.pid}-${clustersStarted}`;
    this.options = options;
    this.size = size;
    this.noConfig = Boolean(options.noConfig);
    this.config = options.config || h.makeConfig(options);
    this.host = h.HOST;
    this.pathPrefix = options.pathPrefix !== undefined ? options.pathPrefix
      : (this.config.server && this.config.server.path) || '';
    this.nodes = [];
    this.balancer = new Balancer(h, this.name);
    this.combined = new CombinedLog(size * h.LOG_LIMIT);
    this.tmpDir = null;
    this.configFile = null;
    this.stopped = false;
  }

  get port() {
    return this.balancer.port;
  }

  get baseUrl() {
    return `http://${this.host}:${this.port}`;
  }

  // ws://127.0.0.1:PORT{prefix}/app/{key}?{query}, through nginx
  wsUrl(key = 'app-key', query = 'protocol=7&client=js&version=8.4.0', prefix = this.pathPrefix) {
    return `ws://${this.host}:${this.port}${prefix}/app/${key}${query === null ? '' : `?${query}`}`;
  }

  // The --config file all nodes read (rewrite it, then SIGHUP: see signal()).
  get configPath() {
    return this.configFile;
  }

  get threads() {
    return this.nodes.length ? this.nodes[0].threads : this.options.threads;
  }

  // Node 0's pid; kill() and process.kill(pid, signal) reach every node.
  get child() {
    const first = this.nodes[0];
    if (!first || !first.child) return null;
    return { pid: first.child.pid, kill: (signal = 'SIGTERM') => this.signal(signal) };
  }

  get logPath() {
    return this.nodes.map((n) => n.logPath).join(' ');
  }

  get killedHard() {
    return this.nodes.some((n) => n.killedHard) ? true : undefined;
  }

  // The first node (or nginx) that is not running, or null.
  get exitInfo() {
    for (const n of this.nodes) {
      if (n.exitInfo) return { node: n.index, ...n.exitInfo };
    }
    if (this.balancer.exitInfo) return { nginx: true, ...this.balancer.exitInfo };
    return null;
  }

  // Sends a signal to every node (SIGHUP: all of them reload the shared --config file).
  signal(signal) {
    for (const n of this.nodes) {
      if (n.isAlive()) n.child.kill(signal);
    }
  }

  isAlive() {
    return this.nodes.length > 0 && this.nodes.every((n) => n.isAlive()) &&
      this.balancer.child !== null && this.balancer.exitInfo === null;
  }

  log() {
    return this.combined.text();
  }

  dumpLog(reason) {
    for (const n of this.nodes) n.dumpLog(`${reason}; node ${n.index} of ${this.nodes.length}`);
    const lines = this.balancer.log().split('\n');
    process.stderr.write(
      `\n----- nginx log (${reason}; port ${this.port}; whole log: ${this.balancer.logPath}) -----\n` +
        `${lines.slice(-20).join('\n')}\n----- end of nginx log -----\n`,
    );
  }

  serverOptions(redisUrl) {
    const o = this.options;
    const env = { ...(o.env || {}) };
    let args = [...(o.args || [])];
    if (this.noConfig) {
      args = [...args, '--redis', redisUrl];
      if (env.REVERB_SCALING_CHANNEL === undefined) env.REVERB_SCALING_CHANNEL = this.prefix;
    }
    return {
      config: this.config,
      threads: o.threads,
      env,
      args,
      noConfig: o.noConfig,
      pathPrefix: o.pathPrefix,
      nofile: o.nofile,
    };
  }

  async start() {
    const r = await sharedRedis(this.h);
    const url = `redis://${this.h.HOST}:${r.port}`;
    if (!this.noConfig) {
      this.config = { ...this.config, server: { ...(this.config.server || {}), redis: { url, prefix: this.prefix } } };
    }
    this.tmpDir = tempDir('ringcast-e2e-cluster-');
    this.configFile = path.join(this.tmpDir, 'config.json');
    fs.writeFileSync(this.configFile, JSON.stringify(this.config, null, 2));
    const Node = makeNodeClass(this.h.RingcastServer);
    const options = this.serverOptions(url);
    for (let i = 0; i < this.size; i += 1) this.nodes.push(new Node(options, this, i));
    this.h.track(this.balancer);
    try {
      await Promise.all(this.nodes.map((n) => n.start()));
      await Promise.all(this.nodes.map((n) => this.waitRedisUp(n)));
      await this.balancer.start(this.nodes.map((n) => n.port), `${this.pathPrefix}/up`);
    } catch (err) {
      await this.stop().catch(() => {});
      err.message += ` (cluster mode: nodes' logs ${this.logPath}; nginx log ${this.balancer.logPath}; redis log ${r.logPath})`;
      throw err;
    }
    facades.set(this.nodes[0].child.pid, this);
    return this;
  }

  async waitRedisUp(node) {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    const paths = this.pathPrefix ? [`${this.pathPrefix}/up`, '/up'] : ['/up'];
    let last = null;
    for (;;) {
      if (!node.isAlive()) throw new Error(`node ${node.index} exited (${JSON.stringify(node.exitInfo)})`);
      for (const p of paths) {
        const reply = await this.h.probe(node.port, p, 500);
        if (reply && reply.status === 200) {
          last = reply.body;
          try {
            if (JSON.parse(reply.body).redis === 'up') return;
          } catch {
            /* not JSON yet */
          }
        }
      }
      if (Date.now() >= deadline) {
        node.dumpLog('no "redis":"up" in GET /up');
        throw new Error(`node ${node.index} did not say "redis":"up" in GET /up within ${READY_TIMEOUT_MS} ms (last: ${last})`);
      }
      await pause(POLL_MS);
    }
  }

  // The nodes (SIGTERM, SIGKILL after 5 s), then nginx. Resolves with node 0's exit info, or
  // with the first node's that did not exit 0.
  async stop() {
    if (this.nodes[0] && this.nodes[0].child) facades.delete(this.nodes[0].child.pid);
    const results = await Promise.allSettled(this.nodes.map((n) => n.stop()));
    await this.balancer.stop();
    this.h.untrack(this.balancer);
    removeDir(this.tmpDir);
    this.tmpDir = null;
    const failed = results.find((x) => x.status === 'rejected');
    if (failed) throw failed.reason;
    const infos = results.map((x) => x.value);
    const odd = infos.find((i) => i && (i.code !== 0 || i.signal !== null));
    return odd || infos[0] || null;
  }
}

async function startBalanced(h, options, size) {
  const cluster = new BalancedServer(h, options, size);
  await cluster.start();
  return cluster;
}

module.exports = { clusterSize, scalesItself, startBalanced };
