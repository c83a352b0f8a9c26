#!/usr/bin/env bash
# Server-thread instructions per request for each variant, under callgrind: unaffected by
# whatever else runs on the machine, though not exact (how often the worker parks depends on
# timing, which moves a variant by up to ~1 000 instructions/request between runs; hence the
# repeats). Usage, from the repo root: `cargo build -p after-response-bench --release &&
# bench/callgrind.sh` (~4 min). BENCH_BIN=path overrides the binary, REPEAT=n the repeats (3),
# BENCH_ARGS adds arguments to every run (e.g. `--completion-handles`).
#
# Each run serves the baseline and, with `--variant V`, variant V, and drives 2 200 sequential
# keep-alive requests at each (`--quick --only allocs`). The server worker thread's instruction
# total minus the median total of baseline-only runs, divided by 2 200, is V's cost per request
# (start-up cancels out). The baseline row is its run total / 2 200 (start-up included).
#
# Then the big-frame pair (`--only bigframe`, bench/src/bigframe.rs): 11 sequential GETs of a
# 20 MiB single-frame body, plain axum and with one `defer!` (which hands the frame on in 64 KiB
# slices); the difference of the two runs' server-thread totals / 10 is the crate's cost per
# 20 MiB response (the warm-up request of each run cancels out).
set -euo pipefail
bin=${BENCH_BIN:-target/release/after-response-bench}
repeat=${REPEAT:-3}
requests=2200
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

server_total() { # the thread whose profile contains hyper's server role
  grep -l 'h1::role::Server' "$1".out-* | xargs grep -h '^totals:' | awk '{print $2}'
}
run() { # variant [section]
  valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$out/$1.out" \
    "$bin" --quick --only "${2:-allocs}" --variant "$1" ${BENCH_ARGS:-} >/dev/null 2>&1
  server_total "$out/$1"
  rm -f "$out/$1".out*
}
median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
range() { sort -n | awk 'NR==1{lo=$1} {hi=$1} END {print lo "–" hi}'; }

base=$(for _ in $(seq "$repeat"); do run 1; done | median)
base_per=$((base / requests))
echo "| variant | server-thread instructions/request, median (range of $repeat runs) | extra vs 1 |"
echo "| --- | ---: | ---: |"
echo "| 1 | $base_per | +0 |"
for v in 2 3 3h 4 5 6 1c 6c; do
  per=$(for _ in $(seq "$repeat"); do echo $((($(run "$v") - base) / requests)); done)
  med=$(echo "$per" | median)
  echo "| $v | $med ($(echo "$per" | range)) | $(printf '%+d' $((med - base_per))) |"
done

big_plain=$(for _ in $(seq "$repeat"); do run 1 bigframe; done | median)
big_block=$(for _ in $(seq "$repeat"); do run 3 bigframe; done | median)
echo
echo "| 20 MiB single frame, 10 requests | server-thread instructions/request, median of $repeat runs |"
echo "| --- | ---: |"
echo "| plain axum | $((big_plain / 11)) |"
echo "| one \`defer!\` (320 slices of 64 KiB) | $((big_block / 11)) |"
echo "| extra per 20 MiB response | $(printf '%+d' $(((big_block - big_plain) / 10))) |"
