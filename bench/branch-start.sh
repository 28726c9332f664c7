#!/usr/bin/env bash
# The start of a `moat run --branch` (a new checkout each time) against the same run without
# --branch, alternated, on a repository of 10,000 files and ~200 MB of history, rootful (root)
# and rootless (test user).  Target: added time <= 1 s (median); the checkout's disk use is
# its working tree alone (objects are borrowed from the repository).
#   Usage: bench/branch-start.sh [ROUNDS]
. "$(dirname "$0")/lib.sh"
rounds=${1:-10}
image=localhost/moat-test:latest
bench_boot
out=$(mktemp -d "$top_builddir/bench/out.XXXXXX")

# make_repo DIR: 10,000 files of ~1 kB in 100 directories, and 20 commits of a 10 MB random
# file: ~200 MB of history that does not compress.
make_repo() {
	# shellcheck disable=SC2016 # expanded inside
	$how sh -c 'set -e; rm -rf "$1"; mkdir -p "$1"; cd "$1"; git init -q -b main .
		git config user.name bench; git config user.email bench@example.com
		for d in $(seq 100); do mkdir -p src/$d; for f in $(seq 100); do
			head -c 1000 /dev/urandom | base64 >src/$d/f$f.txt; done; done
		git add -A; git commit -qm files
		for i in $(seq 20); do head -c 10000000 /dev/urandom >data.bin; git add data.bin; git commit -qm "data $i"; done
		git gc -q' sh "$1"
}

for mode in root user; do
	ws=/tmp/bench-repo; [ "$mode" = user ] && ws=/home/moattest/bench-repo
	how=sb; [ "$mode" = user ] && how=sbu
	make_repo "$ws"
	home=$($how sh -c 'if [ "$(id -u)" = 0 ]; then echo /var/lib/moat; else echo "${MOAT_HOME:-$HOME/.moat}"; fi')
	time_in "$mode" moat run --image "$image" "$ws" -- true >/dev/null
	for i in $(seq "$rounds"); do
		time_in "$mode" moat run --image "$image" --branch "bench-$i" "$ws" -- sleep 600 >>"$out/branch-$mode"
		time_in "$mode" moat run --image "$image" "$ws" -- sleep 600 >>"$out/plain-$mode"
	done
	report "run start ($mode)" "--branch" "$out/branch-$mode" "plain" "$out/plain-$mode"
	printf 'added time (%s): median %.0f ms\n' "$mode" \
		"$(awk -v a="$(median <"$out/branch-$mode")" -v b="$(median <"$out/plain-$mode")" 'BEGIN { print a - b }')"
	$how sh -c 'du -sh --apparent-size "$1" | sed "s/\t.*/ the repository (working tree and .git)/"
		du -sh --apparent-size "$1/.git" | sed "s/\t.*/ its .git/"
		co=$(ls -d "$2"/checkouts/*/worktrees/bench-1)
		du -sh --apparent-size "$co" | sed "s/\t.*/ one checkout (working tree and .git)/"
		du -sh --apparent-size "$co/.git" | sed "s/\t.*/ its .git/"' sh "$ws" "$home"
	scope=; [ "$mode" = user ] && scope=--user
	$how sh -c "podman stop -a -t 0 >/dev/null 2>&1
		for _ in \$(seq 120); do [ -z \"\$(systemctl $scope list-units --plain --no-legend 'moat-*.service')\" ] && break; sleep 0.5; done
		cd '$ws' && for i in \$(seq $rounds); do moat branches rm -f bench-\$i >/dev/null; done
		moat clean >/dev/null; podman rm -af >/dev/null; rm -rf '$ws'"
done
rm -rf "$out"
