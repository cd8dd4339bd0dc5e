#!/usr/bin/env bash
# bench/startup.sh — what `loadgate version` costs to start (issue 12's
# weight goals: stripped binary ≤ 20 MB, ≤ 12 MiB resident, ≤ 20 ms), beside
# two floors built the same way (CGO_ENABLED=0, -trimpath, -s -w, as the
# release): a Go "hello world" (bench/cmd/hello) and a program that only links
# the AWS SDK packages the AWS runner needs (bench/cmd/sdkfloor). Go runs every
# linked package's initialisers in every command, so the SDK's share is paid
# by `loadgate version` too.
#
# ROUNDS rounds, the three programs interleaved in each, RUNS runs per program
# per round with `perf stat -r` (mean wall time and page faults of the runs);
# peak RSS from /usr/bin/time, median of 15 runs per round. Prints one table
# (medians over rounds, min–max). On this project's VM a page fault costs
# ~12 µs, so wall time follows the page-fault count and the host's load; the
# load average is shown from before and after.
#
# Usage: bench/startup.sh            (ROUNDS=5 RUNS=100, about a minute)
#        BIN=/tmp/loadgate-old bench/startup.sh   (time another build instead)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-5}
RUNS=${RUNS:-100}
command -v perf >/dev/null || { echo "startup.sh: needs perf (apt-get install linux-perf)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "startup.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
build() { (cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$work/$1" "$2"); }
build hello ./bench/cmd/hello
build sdkfloor ./bench/cmd/sdkfloor
if [ -n "${BIN:-}" ]; then cp "$BIN" "$work/loadgate"; else build loadgate ./cmd/loadgate; fi

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A cmd=([hello]="$work/hello" [sdkfloor]="$work/sdkfloor" [loadgate]="$work/loadgate version")
names="hello sdkfloor loadgate"
for _ in $(seq "$ROUNDS"); do
	for n in $names; do
		# shellcheck disable=SC2086
		perf stat -r "$RUNS" -e page-faults ${cmd[$n]} 2>"$work/perf" >/dev/null
		faults=$(awk '/page-faults/{gsub(",", "", $1); print $1}' "$work/perf")
		ms=$(awk '/seconds time elapsed/{printf "%.2f", $1*1000}' "$work/perf")
		# shellcheck disable=SC2086
		rss=$(for _ in $(seq 15); do /usr/bin/time -f %M ${cmd[$n]} 2>&1 >/dev/null | tail -1; done | sort -n | sed -n 8p)
		echo "$n $ms $faults $rss" >>"$work/rows"
	done
done
load=$(cut -d' ' -f1-3 /proc/loadavg)
printf '| program | wall ms (median, min–max of %s rounds × %s runs) | page faults | peak RSS MiB | stripped size MB |\n|---|---|---|---|---|\n' "$ROUNDS" "$RUNS"
col() { awk -v n="$1" -v c="$2" '$1==n{print $c}' "$work/rows" | sort -g; }
med() { awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}'; }
for n in $names; do
	ms=$(col "$n" 2)
	printf '| %s | %s (%s–%s) | %s | %s | %s |\n' "$n" "$(med <<<"$ms")" "$(head -1 <<<"$ms")" "$(tail -1 <<<"$ms")" \
		"$(col "$n" 3 | med)" "$(col "$n" 4 | med | awk '{printf "%.1f", $1/1024}')" \
		"$(stat -c %s "$work/$n" | awk '{printf "%.1f", $1/1e6}')"
done
echo
echo "load average: $load_start before, $load after"
