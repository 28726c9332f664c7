#!/usr/bin/env bash
# Resident memory of one run's moat-monitor against the conmon of the same run, side by side
# (several runs at once, rootful and rootless).  Target: ratio <= 1.0.
#   Usage: bench/monitor-memory.sh [RUNS]
. "$(dirname "$0")/lib.sh"
runs=${1:-5}
image=localhost/moat-test:latest
bench_boot
for mode in root user; do
	ws=/tmp/bench-ws; [ "$mode" = user ] && ws=/home/moattest/bench-ws
	how=sb; [ "$mode" = user ] && how=sbu
	$how mkdir -p "$ws"
	for _ in $(seq "$runs"); do
		$how moat run --image "$image" "$ws" -- sh -c 'echo some output; sleep 30' >/dev/null
	done
	sleep 2
	# RSS in KiB of every moat-monitor and conmon in the sandbox
	mon=$(sb sh -c 'for p in $(pgrep -x moat-monitor); do grep VmRSS /proc/$p/status; done' | awk '{ s += $2; n++ } END { printf "%.0f %d", s / n, n }')
	con=$(sb sh -c 'for p in $(pgrep -x conmon); do grep VmRSS /proc/$p/status; done' | awk '{ s += $2; n++ } END { printf "%.0f %d", s / n, n }')
	set -- $mon; m=$1 mn=$2
	set -- $con; c=$1 cn=$2
	printf 'monitor memory (%s): moat-monitor %d KiB RSS (mean of %d), conmon %d KiB (mean of %d), ratio %.3f\n' \
		"$mode" "$m" "$mn" "$c" "$cn" "$(awk -v a="$m" -v b="$c" 'BEGIN { print a / b }')"
	$how sh -c 'for r in $(moat list --json | grep -o "\"id\":\"[0-9a-f]*\"" | cut -d\" -f4); do moat stop $r; done; moat clean' >/dev/null
done
