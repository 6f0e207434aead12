'use strict';

// A one-minute `ringcast-bench soak` against a 2-thread ringcast: stable clients on public
// channels and a presence channel get every numbered event exactly once and in order while other
// connections keep connecting, joining the presence channel and going away, and once the churn is
// over the server's open files are back where they were. The rates are modest and lower still
// against a sanitized build, so a loaded 2-core machine passes it too; nothing here is a timing
// assertion.

const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { describe, it, before, after } = require('node:test');
const { useServer } = require('./lib/server');
const { BENCH_BIN, BENCH_APP, benchMissing } = require('./lib/bench');

// scripts/test sets RINGCAST_E2E_SANITIZED=1 for its run against the ASan + UBSan build, which is
// several times slower per connection; ASAN_OPTIONS in the environment means the same.
const SANITIZED = process.env.RINGCAST_E2E_SANITIZED === '1' || Boolean(process.env.ASAN_OPTIONS);
const DURATION_S = 60;
const SHAPE = SANITIZED
  ? { connections: 20, groupSize: 5, churnRate: 5, rate: 20 }
  : { connections: 40, groupSize: 10, churnRate: 10, rate: 40 };
// The bench's own bound is far above this; the test's is above the bench's run, drain and settling.
const BENCH_TIMEOUT_MS = (DURATION_S + 90) * 1000;
const T = { timeout: BENCH_TIMEOUT_MS + 20000 };

function runBench(args) {
  return new Promise((resolve) => {
    execFile(BENCH_BIN, args, { timeout: BENCH_TIMEOUT_MS }, (error, stdout, stderr) => {
      resolve({ code: error ? (error.code ?? error.signal) : 0, stdout, stderr });
    });
  });
}

describe('ringcast-bench soak against ringcast', { skip: benchMissing() }, () => {
  // ASan keeps freed memory in a quarantine (256 MB by default) before reusing it, which reads as
  // RSS growth with every connection that comes and goes; a smaller one keeps the soak's loose
  // RSS check about the server's memory rather than the sanitizer's.
  const env = SANITIZED
    ? { ASAN_OPTIONS: [process.env.ASAN_OPTIONS, 'quarantine_size_mb=32'].filter(Boolean).join(':') }
    : {};
  const srv = useServer({ threads: 2, apps: [BENCH_APP], env });
  let dir;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringcast-soak-e2e-'));
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it(`soak ${DURATION_S} s: nothing lost, duplicated or reordered; churn completes; fds come back`, T,
    srv.wrap(async (t, server) => {
      const file = path.join(dir, 'soak.json');
      const args = [
        'soak', '--port', String(server.port), '--threads', '2', '--duration', String(DURATION_S),
        '--connections', String(SHAPE.connections), '--group-size', String(SHAPE.groupSize),
        '--churn-rate', String(SHAPE.churnRate), '--churn-stay', '0.5', '--rate', String(SHAPE.rate),
        '--server-pid', String(server.child.pid), '--json', file,
      ];
      const run = await runBench(args);
      // Everything a reader needs when it fails: the bench's own summary and the server's log.
      const context = `\n--- ringcast-bench ${args.join(' ')} (exit ${run.code}${SANITIZED ? ', sanitized server' : ''})\n` +
        `${run.stderr}\n--- ringcast log: ${server.logPath}`;
      assert.ok(fs.existsSync(file), `no soak record${context}`);
      const record = JSON.parse(fs.readFileSync(file, 'utf8'));
      const f = record.figures;
      assert.equal(record.scenario, 'soak');
      assert.equal(record.error, '', `soak failed: ${record.error}${context}`);
      assert.equal(run.code, 0, `soak exited with ${run.code}${context}`);
      assert.equal(record.complete, true, context);
      assert.equal(f.stable_clients, SHAPE.connections, context);
      assert.ok(f.events_acknowledged > 0 && f.events_acknowledged === f.events_sent, context);
      // Event k goes to public channel soak-(k mod channels): one group of stable clients.
      assert.equal(f.expected_deliveries, f.events_acknowledged * SHAPE.groupSize, context);
      assert.equal(f.deliveries, f.expected_deliveries, context);
      assert.equal(f.lost, 0, `events lost${context}`);
      assert.equal(f.duplicated, 0, `events duplicated${context}`);
      assert.equal(f.out_of_order, 0, `events out of order${context}`);
      assert.ok(f.churn.completed > 0, `no churn connection completed${context}`);
      assert.equal(f.churn.failed, 0, `churn connections failed${context}`);
      assert.equal(f.churn.member_added_seen, f.churn.member_events_expected, context);
      assert.equal(f.churn.member_removed_seen, f.churn.member_events_expected, context);
      const fds = record.server.open_fds;
      assert.equal(typeof fds.start, 'number', `the server's open files were not read${context}`);
      assert.ok(fds.peak >= fds.start, context);
      assert.ok(fds.end <= fds.start + record.server.fd_margin, `open files did not come back${context}`);
      t.diagnostic(
        `soak: ${f.deliveries} of ${f.expected_deliveries} deliveries, lost ${f.lost}, dup ${f.duplicated}; ` +
          `churn ${f.churn.completed} completed, ${f.churn.failed} failed; ` +
          `fds ${fds.start}/${fds.peak}/${fds.end}; RSS ${record.server.rss_bytes.start}/` +
          `${record.server.rss_bytes.peak}/${record.server.rss_bytes.end} bytes (start/peak/end)`,
      );
    }));
});
