#!/usr/bin/env bash
# `moat run` until it returns (the container is running) against `podman run -d` with the same
# image and command, alternated, rootful (root) and rootless (test user).  Target: ratio of
# medians <= 0.9.  Each start is timed on a quiet system: the container before it has exited
# and its teardown (podman's cleanup, moat's finish) is over, so neither side pays for the
# other's.   Usage: bench/run-start.sh [ROUNDS]
. "$(dirname "$0")/lib.sh"
rounds=${1:-20}
image=localhost/moat-test:latest
bench_boot
out=$(mktemp -d "$top_builddir/bench/out.XXXXXX")
for mode in root user; do
	ws=/tmp/bench-ws; [ "$mode" = user ] && ws=/home/moattest/bench-ws
	how=sb; [ "$mode" = user ] && how=sbu
	$how mkdir -p "$ws"
	time_in "$mode" moat run --image "$image" "$ws" -- true >/dev/null
	time_in "$mode" podman run -d "$image" true >/dev/null
	for _ in $(seq "$rounds"); do
		time_in "$mode" moat run --image "$image" "$ws" -- sleep 1 >>"$out/moat-$mode"
		sleep 1.5
		time_in "$mode" podman run -d "$image" sleep 1 >>"$out/podman-$mode"
		sleep 1.5
	done
	sleep 2
	$how sh -c 'moat clean >/dev/null; podman rm -af >/dev/null'
	report "run start ($mode)" "moat run" "$out/moat-$mode" "podman run -d" "$out/podman-$mode"
done
rm -rf "$out"
