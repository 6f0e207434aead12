'use strict';

// Where the built ringcast-bench is, and the app it uses by default (its --app-id, --key and
// --secret defaults), with what its presence and whisper scenarios need from the server.

const fs = require('node:fs');
const path = require('node:path');

const BENCH_BIN =
  process.env.RINGCAST_BENCH_BIN || path.resolve(__dirname, '..', '..', '..', 'build', 'bench', 'load', 'ringcast-bench');

const BENCH_APP = Object.freeze({
  id: 'bench',
  key: 'bench-key',
  secret: 'bench-secret',
  accept_client_events_from: 'members',
  max_client_events_per_second: 100,
  max_presence_members: 100,
});

// ringcast-bench is built with the benchmarks (libbenchmark-dev): false when it is there, else
// the reason to skip, for node:test's `skip`.
function benchMissing() {
  return fs.existsSync(BENCH_BIN) ? false : `${BENCH_BIN} is not built`;
}

module.exports = { BENCH_BIN, BENCH_APP, benchMissing };
