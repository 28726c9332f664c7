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
done
rm -rf "$out"
