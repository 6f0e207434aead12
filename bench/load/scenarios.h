// The scenarios ringcast-bench runs; each writes one JSON record and returns the exit status
// (0 = the run completed, whatever it measured; 1 = it could not run).
#pragma once

#include "options.h"

namespace ringcast::bench {

[[nodiscard]] int run_connect(const options& o);
[[nodiscard]] int run_fanout(const options& o); // also `channels`
[[nodiscard]] int run_peers(const options& o);  // `presence` and `whisper`
[[nodiscard]] int run_soak(const options& o);
[[nodiscard]] int run_ceiling(const options& o);
[[nodiscard]] int run_report(const options& o);

} // namespace ringcast::bench
