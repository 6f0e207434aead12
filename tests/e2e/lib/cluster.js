'use strict';

// What the cluster tests share: a redis-server of their own on a loopback port, one-line Redis
// commands, and a node's /up answer.

const net = require('node:net');
const tls = require('node:tls');
const fs = require('node:fs');
const { spawn } = require('node:child_process');
const { request } = require('./http');
const { waitUntil } = require('./util');

const HOST = '127.0.0.1';

// Sends one command to Redis on its own connection and resolves with the first reply line.
function redisCommand(port, line) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, HOST, () => sock.write(`${line}\r\n`));
    sock.once('data', (d) => {
      sock.destroy();
      resolve(d.toString());
    });
    sock.once('error', reject);
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// True when a PING on `port` gets its PONG (over TLS, trusting `tlsOptions.caFile`, when given).
function redisAnswers(port, tlsOptions = null) {
  return new Promise((resolve) => {
    const sock = tlsOptions
      ? tls.connect({ port, host: HOST, ca: fs.readFileSync(tlsOptions.caFile) })
      : net.connect(port, HOST);
    sock.setTimeout(500);
    sock.once(tlsOptions ? 'secureConnect' : 'connect', () => sock.write('PING\r\n'));
    sock.once('data', (d) => {
      sock.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
    sock.once('error', () => resolve(false));
    sock.once('timeout', () => {
      sock.destroy();
      resolve(false);
    });
  });
}

// A redis-server of the test's own on a loopback port, no persistence. With `tls` ({certFile,
// keyFile, caFile}, e.g. from makeCertificates) it listens with TLS only (clients need no
// certificate of their own).
class RedisServer {
  constructor(port, { tls: tlsFiles = null } = {}) {
    this.port = port;
    this.tls = tlsFiles;
    this.child = null;
  }
  async start() {
    const listen = this.tls
      ? ['--port', '0', '--tls-port', String(this.port), '--tls-cert-file', this.tls.certFile, '--tls-key-file',
        this.tls.keyFile, '--tls-ca-cert-file', this.tls.caFile, '--tls-auth-clients', 'no']
      : ['--port', String(this.port)];
    this.child = spawn('redis-server', [...listen, '--bind', HOST, '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    await waitUntil(() => redisAnswers(this.port, this.tls), { timeout: 10000, label: `redis-server on ${this.port}` });
  }
  async stop() {
    if (!this.child) return;
    const child = this.child;
    this.child = null;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await gone;
  }
}

async function up(server) {
  const r = await request(server.port, { method: 'GET', path: '/up' });
  return JSON.parse(r.body.toString());
}

module.exports = { HOST, RedisServer, redisCommand, redisAnswers, freePort, up };
