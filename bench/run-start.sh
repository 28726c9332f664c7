#!/usr/bin/env bash
# `moat run` until it returns (the container is running) against `podman run -d` with the same
# image and command, alternated, rootful (root) and rootless (test user).  Target: ratio of
# medians <= 0.9.  The containers outlive the measurement, so no exit and no teardown
# (podman's cleanup, moat's finish) of either side runs while the other is timed.
#   Usage: bench/run-start.sh [ROUNDS]
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
		time_in "$mode" moat run --image "$image" "$ws" -- sleep 600 >>"$out/moat-$mode"
		time_in "$mode" podman run -d "$image" sleep 600 >>"$out/podman-$mode"
	done
	scope=; [ "$mode" = user ] && scope=--user
	$how sh -c "podman stop -a -t 0 >/dev/null 2>&1
		for _ in \$(seq 60); do [ -z \"\$(systemctl $scope list-units --plain --no-legend 'moat-*.service')\" ] && break; sleep 0.5; done
		moat clean >/dev/null; podman rm -af >/dev/null"
	report "run start ($mode)" "moat run" "$out/moat-$mode" "podman run -d" "$out/podman-$mode"
done
rm -rf "$out"
