#!/usr/bin/env bash
# Server-thread instructions per request for each variant, under callgrind (deterministic, so
# unaffected by whatever else runs on the machine). Usage: bench/callgrind.sh (from the repo root,
# after `cargo build -p after-response-bench --release`; BENCH_BIN=path overrides the binary).
#
# Each run serves the baseline and, with `--variant V`, variant V; it drives 2 200 sequential
# requests at each (`--quick --only allocs`). The server worker thread's total, minus the total of
# a baseline-only run, divided by 2 200, is V's cost per request (start-up cancels out).
set -euo pipefail
bin=${BENCH_BIN:-target/release/after-response-bench}
out=$(mktemp -d)
requests=2200
server_total() { # the thread whose profile contains hyper's server dispatcher
  for f in "$1".out-*; do
    if grep -q 'h1::role::Server' "$f"; then
      grep '^totals:' "$f" | awk '{print $2}'
    fi
  done
}
run() {
  valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$out/$1.out" \
    "$bin" --quick --only allocs --variant "$1" >/dev/null 2>&1
  server_total "$out/$1"
}
base=$(run 1)
echo "| variant | server-thread instructions/request | extra vs 1 |"
echo "| --- | ---: | ---: |"
echo "| 1 | $((base / requests)) | +0 |"
for v in 2 3 4 5 6 1c 6c; do
  total=$(run "$v")
  per=$(((total - base) / requests))
  echo "| $v | $per | $(printf '%+d' $((per - base / requests))) |"
done
rm -rf "$out"
