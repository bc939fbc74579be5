#!/bin/sh
# Compares the outputs of two qscope binaries over every capture in
# captures/ (and, if present, the big mixed capture), in every output
# format. Exits non-zero at the first difference.
#
#   benches/same-output.sh OLD_BIN NEW_BIN [EXTRA.pcap...]
#
# Outputs of the big captures are compared as streams (cmp of two pipes),
# so nothing large is written to disk.
set -u
old=$1
new=$2
shift 2
root=$(cd "$(dirname "$0")/.." && pwd)
fail=0
n=0

same() {
    # same LABEL ARGS...: runs both binaries with ARGS and compares
    # standard output and the exit status.
    label=$1
    shift
    o=$(mktemp) e=$(mktemp)
    "$old" "$@" >"$o" 2>/dev/null
    so=$?
    "$new" "$@" >"$e" 2>/dev/null
    sn=$?
    n=$((n + 1))
    if ! cmp -s "$o" "$e" || [ "$so" != "$sn" ]; then
        echo "DIFFERENT: $label (status $so vs $sn)"
        cmp "$o" "$e" | head -1
        fail=1
    fi
    rm -f "$o" "$e"
}

same_stream() {
    label=$1
    shift
    n=$((n + 1))
    a=$("$old" "$@" 2>/dev/null | sha256sum)
    b=$("$new" "$@" 2>/dev/null | sha256sum)
    if [ "$a" != "$b" ]; then
        echo "DIFFERENT: $label"
        fail=1
    fi
}

for f in $(find "$root/captures" -name '*.pcap' -o -name '*.pcapng' | sort); do
    same "$f jsonl" export "$f" --format jsonl
    same "$f json" export "$f" --format json
    same "$f ek" export "$f" --format ek
    same "$f jsonl secrets" export "$f" --show-secrets
    same "$f print" print "$f"
    same "$f print -V" print -V "$f"
    same "$f print -V secrets" print -V --show-secrets "$f"
    same "$f stats" stats "$f" --expert
    same "$f stats json" stats "$f" --format json
    same "$f stats all sessions" stats "$f" --sessions 0 --expert --show-secrets
    same "$f stats -Y" stats "$f" -Y 'qmp or qm' --format json
done

for f in "$@"; do
    same_stream "$f jsonl" export "$f" --format jsonl
    same_stream "$f json" export "$f" --format json
    same_stream "$f ek" export "$f" --format ek
    same_stream "$f stats json" stats "$f" --format json
    same_stream "$f stats" stats "$f" --expert --sessions 0
    same_stream "$f print" print "$f"
done

if [ "$fail" = 0 ]; then
    echo "same output: $n comparisons"
fi
exit $fail
