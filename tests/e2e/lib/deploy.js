'use strict';

// Helpers for the tests of the files in deploy/ (deploy, supervisor, nginx): where those files
// and the system tools that run them are, exact edits of a shipped file, and a child process that
// is kept track of and always ended.

const assert = require('node:assert/strict');
const { spawn, execFile } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const DEPLOY_DIR = path.join(REPO_ROOT, 'deploy');

// What a sanitized ringcast prints on a finding (the same pattern as lib/server.js): scripts/test
// runs the suite against ASan/UBSan and TSan builds, and a server started outside the harness
// must be checked too.
const SANITIZER_REPORT = /ERROR: (AddressSanitizer|LeakSanitizer|ThreadSanitizer)|runtime error:|(WARNING|FATAL): ThreadSanitizer/;

function deployFile(relative) {
  return path.join(DEPLOY_DIR, relative);
}

function readDeployFile(relative) {
  return fs.readFileSync(deployFile(relative), 'utf8');
}

// nginx, supervisord and friends live in /usr/sbin or /usr/bin; an unprivileged user's PATH often
// lacks the sbin directories.
function findTool(name) {
  const dirs = [...(process.env.PATH || '').split(path.delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      /* not here */
    }
  }
  return null;
}

// The one place `from` occurs in `text`, replaced; anything but exactly one match fails, so a
// shipped file that drifts from what its test expects fails loudly instead of going untested.
function replaceOnce(text, from, to, what = 'the file') {
  const parts = text.split(from);
  assert.equal(parts.length, 2, `expected exactly one ${JSON.stringify(from)} in ${what}`);
  return parts.join(to);
}

// Runs a command to its end (at most timeoutMs). Never rejects: resolves
// {code, signal, stdout, stderr}, code null when it could not run or was killed.
function run(file, args, { timeoutMs = 20000, env } = {}) {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, env, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      let code = 0;
      if (error) code = typeof error.code === 'number' ? error.code : null;
      resolve({ code, signal: error ? error.signal : null, stdout: String(stdout), stderr: String(stderr || (error && code === null ? error.message : '')) });
    });
  });
}

// Whether a process exists and is not a zombie (one whose parent has not reaped it yet has
// stopped running all the same).
function processRunning(pid) {
  if (!pid) return false;
  let stat;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  // The state follows the command name, which is in parentheses and may itself hold spaces.
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

// The pids of running processes whose command line has an argument containing `text` (a test's
// own temp dir: what it started, even through a daemon, and nothing else).
function processesMentioning(text) {
  const pids = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline;
    try {
      cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmdline.split('\0').some((arg) => arg.includes(text)) && processRunning(Number(entry))) pids.push(Number(entry));
  }
  return pids;
}

// The soft and hard open-files limits of a process, from /proc/PID/limits.
function openFilesLimits(pid) {
  const text = fs.readFileSync(`/proc/${pid}/limits`, 'utf8');
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  assert.ok(m, `no open-files line in /proc/${pid}/limits`);
  return { soft: m[1], hard: m[2] };
}

// SIGKILL to each pid still running (the after hooks' last resort). Give it pids just found, such
// as processesMentioning()'s: a pid remembered from earlier may belong to another process by now.
function killAll(pids) {
  for (const pid of pids) {
    if (!processRunning(pid)) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone meanwhile */
    }
  }
}

// A child process whose output is kept for diagnostics. detached: its own process group, so
// that stop() can end what it started too.
class Child {
  constructor(file, args, { env = { PATH: process.env.PATH || '/usr/bin:/bin' }, detached = true } = {}) {
    this.file = file;
    this.args = args;
    this.output = '';
    this.exitInfo = null;
    this.child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached });
    this.pid = this.child.pid;
    this.child.stdout.on('data', (c) => { this.output += c; });
    this.child.stderr.on('data', (c) => { this.output += c; });
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
      this.child.on('error', (err) => {
        this.exitInfo = { code: null, signal: null, error: String(err) };
        resolve(this.exitInfo);
      });
    });
  }

  get running() {
    return this.exitInfo === null;
  }

  // Resolves with the exit info, or null if the process is still running after timeoutMs.
  async waitExit(timeoutMs) {
    let timer;
    const result = await Promise.race([
      this.exited,
      new Promise((resolve) => {
        timer = setTimeout(() => resolve(null), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    return result;
  }

  signal(name) {
    if (!this.running) return;
    try {
      this.child.kill(name);
    } catch {
      /* gone */
    }
  }

  // `signal`, then SIGKILL to the whole group after graceMs. Resolves with the exit info.
  async stop(signal = 'SIGTERM', graceMs = 5000) {
    this.signal(signal);
    if ((await this.waitExit(graceMs)) === null) {
      try {
        process.kill(-this.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      await this.exited;
    }
    return this.exitInfo;
  }

  dump(reason) {
    process.stderr.write(
      `\n----- ${path.basename(this.file)} output (${reason}; pid ${this.pid}) -----\n` +
        `${this.output || '(none)\n'}${this.exitInfo ? `(exited: ${JSON.stringify(this.exitInfo)})\n` : ''}` +
        `----- end of ${path.basename(this.file)} output -----\n`,
    );
  }
}

module.exports = {
  SANITIZER_REPORT, REPO_ROOT, DEPLOY_DIR, deployFile, readDeployFile, findTool, replaceOnce, run, processRunning, processesMentioning,
  openFilesLimits, killAll, Child,
};
