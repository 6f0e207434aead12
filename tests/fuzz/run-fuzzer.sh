#!/usr/bin/env bash
# run-fuzzer.sh BINARY SEED_DIR SECONDS: one bounded libFuzzer session. New inputs go to a
# temporary directory (the committed seeds stay as they are); a crash leaves its input next to
# the binary as crash-<hash> and fails the run.
set -euo pipefail
bin=$1
seeds=$2
seconds=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$(dirname "$bin")/" "$work" "$seeds"
