#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS, JOBS targets at a time (default
# 1), each with its seed corpus (fuzz/corpus/<target>) and its dictionary
# (fuzz/dict/<target>.dict, if any), then prints one line per target:
# executions, executions per second, coverage (libFuzzer's cov: and ft:
# from its final stats line), corpus size, inputs added, crashes.
# Exits 1 if any target crashed (crash, timeout, out-of-memory or leak).
#
#   fuzz/run-all.sh 60            # every target for a minute, one at a time
#   fuzz/run-all.sh 300 2         # five minutes each, two at a time
#   TARGETS="pipeline capture" fuzz/run-all.sh 600
#
# New inputs go to fuzz/corpus-new/<target>/ (not committed: minimise them
# with `cargo fuzz cmin` before adding any to fuzz/corpus/); logs and crash
# inputs to fuzz/runs/<date>/. Needs nightly and cargo-fuzz
# (`cargo install cargo-fuzz`). Extra `cargo fuzz build` flags (e.g.
# `-s none` for speed) can be given in FUZZ_BUILD_FLAGS. FUZZ_RUNS=N stops
# each target after N executions, if that comes before SECONDS:
#
#   FUZZ_RUNS=10000000 fuzz/run-all.sh 3600   # 10 M executions or an hour
#
# FUZZ_CPU=1 makes SECONDS the target's own CPU time (utime + stime, read
# from /proc every few seconds; the target is stopped with SIGINT, which
# libFuzzer answers with its final stats), so that a target sharing the
# machine with other work still gets its full time. The table then also
# shows the wall and CPU seconds each target had, and the hang timeout is
# 60 s instead of 10 (so that pausing a target for a few seconds with
# SIGSTOP, e.g. to time something else, is not reported as a hang).
set -euo pipefail

usage() {
  echo "usage: $0 SECONDS [JOBS]" >&2
  exit 2
}
[ $# -ge 1 ] && [ $# -le 2 ] || usage
secs=$1
jobs=${2:-1}
[[ $secs =~ ^[0-9]+$ ]] && [ "$secs" -gt 0 ] || usage
[[ $jobs =~ ^[0-9]+$ ]] && [ "$jobs" -gt 0 ] || usage

cd "$(dirname "$0")/.."
root=$PWD

# shellcheck disable=SC2086 # FUZZ_BUILD_FLAGS is a list of flags
cargo +nightly fuzz build ${FUZZ_BUILD_FLAGS:-} >&2
triple=$(rustc +nightly -vV | sed -n 's/^host: //p')
bindir=$root/fuzz/target/$triple/release
targets=${TARGETS:-$(cargo +nightly fuzz list)}

run=$root/fuzz/runs/$(date +%Y%m%d-%H%M%S)
mkdir -p "$run"
echo "fuzzing $(echo "$targets" | wc -w) targets for ${secs}s each, $jobs at a time; logs in $run" >&2

fuzz_one() {
  local t=$1
  local new=$root/fuzz/corpus-new/$t
  local art=$run/artifacts/$t
  mkdir -p "$new" "$art" "$root/fuzz/corpus/$t"
  local args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048
    -print_final_stats=1 -artifact_prefix="$art/")
  if [ -n "${FUZZ_RUNS:-}" ]; then
    args+=(-runs="$FUZZ_RUNS")
  fi
  if [ -f "$root/fuzz/dict/$t.dict" ]; then
    args+=(-dict="$root/fuzz/dict/$t.dict")
  fi
  local status=0 t0=$SECONDS
  if [ -n "${FUZZ_CPU:-}" ]; then
    # Wall time is only a backstop; CPU time is watched below.
    args[0]=-max_total_time=$((secs * 50))
    # A unit takes milliseconds; 60 s still catches a hang, and tolerates
    # the target being paused (SIGSTOP) while the machine is measured.
    args[1]=-timeout=60
    nice "$bindir/$t" "${args[@]}" "$new" "$root/fuzz/corpus/$t" >"$run/$t.log" 2>&1 &
    local pid=$! tick cpu=0
    tick=$(getconf CLK_TCK)
    while kill -0 "$pid" 2>/dev/null; do
      cpu=$(cpu_ticks "$pid")
      if [ "$cpu" -ge $((secs * tick)) ]; then
        kill -INT "$pid" 2>/dev/null || true
        echo interrupted >"$run/$t.interrupted"
        break
      fi
      sleep 2
    done
    wait "$pid" || status=$?
    # libFuzzer exits 72 when interrupted: that is the planned end here.
    if [ -f "$run/$t.interrupted" ] && [ "$status" = 72 ]; then
      status=0
    fi
    echo $((cpu / tick)) >"$run/$t.cpu"
  else
    nice "$bindir/$t" "${args[@]}" "$new" "$root/fuzz/corpus/$t" >"$run/$t.log" 2>&1 || status=$?
  fi
  echo $((SECONDS - t0)) >"$run/$t.wall"
  echo "$status" >"$run/$t.status"
}

# utime + stime of a process, in clock ticks (fields 14 and 15 of
# /proc/PID/stat, counted after the command name's closing parenthesis).
cpu_ticks() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
  stat=${stat##*) }
  # shellcheck disable=SC2086 # split into fields on purpose
  set -- $stat
  echo $((${12} + ${13}))
}

running=0
for t in $targets; do
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
  echo "  $t ..." >&2
  fuzz_one "$t" &
  running=$((running + 1))
done
wait

failed=0
printf '%-11s %12s %8s %6s %6s %7s %8s %14s %6s %8s\n' TARGET EXECS EXEC/S WALL CPU COV FT CORPUS NEW CRASHES
for t in $targets; do
  log=$run/$t.log
  fstat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
  last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 || true)
  field() { echo "$last" | sed -n "s/.* $1: *\([^ ]*\).*/\1/p"; }
  execs=$(fstat number_of_executed_units)
  [ -n "$execs" ] || execs=$(echo "$last" | sed -n 's/^#\([0-9]*\).*/\1/p')
  # slow-unit-* files are libFuzzer's notes of a unit over 10 s (a paused
  # target writes them too), not failures.
  crashes=$(find "$run/artifacts/$t" -type f ! -name 'slow-unit-*' | wc -l)
  status=$(cat "$run/$t.status")
  if [ "$status" != 0 ] && [ "$crashes" = 0 ]; then
    crashes="exit$status"
  fi
  [ "$status" = 0 ] && [ "$crashes" = 0 ] || failed=1
  printf '%-11s %12s %8s %6s %6s %7s %8s %14s %6s %8s\n' "$t" "${execs:--}" \
    "$(fstat average_exec_per_sec)" "$(cat "$run/$t.wall")" "$(cat "$run/$t.cpu" 2>/dev/null || echo -)" \
    "$(field cov)" "$(field ft)" "$(field corp)" \
    "$(fstat new_units_added)" "$crashes"
done
if [ "$failed" = 1 ]; then
  echo "crashes: see $run/artifacts/ and the logs in $run" >&2
  exit 1
fi
