#!/usr/bin/env bash
# A create + start + wait + remove cycle of /bin/true through lib/podman.c (tests/podman-probe
# cycle) against `podman run --rm` with the same image and command, alternated, rootful and
# rootless.  Target: ratio of medians <= 0.8.   Usage: bench/podman-cycle.sh [ROUNDS]
. "$(dirname "$0")/lib.sh"
rounds=${1:-30}
image=localhost/moat-test:latest
bench_boot
out=$(mktemp -d "$top_builddir/bench/out.XXXXXX")
for mode in root user; do
	# warm both paths (socket activation, image cache)
	time_in "$mode" /run/moat-sandbox/bin/podman-probe cycle "$image" /bin/true >/dev/null
	time_in "$mode" podman run --rm "$image" /bin/true >/dev/null
	for _ in $(seq "$rounds"); do
		time_in "$mode" /run/moat-sandbox/bin/podman-probe cycle "$image" /bin/true >>"$out/lib-$mode"
		time_in "$mode" podman run --rm "$image" /bin/true >>"$out/cli-$mode"
	done
	report "cycle ($mode)" libmoat "$out/lib-$mode" "podman run --rm" "$out/cli-$mode"
	# where a cycle's time goes: most of "wait" is podman's own clean-up (conmon's exit
	# command tears the network down holding the container's lock), which podman run pays too
	how=sb; [ "$mode" = user ] && how=sbu
	for _ in $(seq 10); do
		$how env MOAT_PROBE_STEPS=1 /run/moat-sandbox/bin/podman-probe cycle "$image" /bin/true 2>&1 >/dev/null
	done >"$out/steps-$mode"
	printf 'cycle steps (%s), medians:' "$mode"
	for step in create start wait remove; do
		printf ' %s %.1f ms' "$step" "$(awk -v s="$step" '$1 == s { print $2 }' "$out/steps-$mode" | median)"
	done
	echo
done
rm -rf "$out"
