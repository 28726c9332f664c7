#!/usr/bin/env bash
# Resident memory of one run's monitor (the unit's main process while the container runs:
# moat-relay) against the conmon of the same run, side by side (several runs at once,
# rootful and rootless).  Target: ratio <= 1.0.
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
	scope=; [ "$mode" = user ] && scope=--user
	monitors=$($how sh -c "for u in \$(systemctl $scope list-units --plain --no-legend 'moat-*.service' | cut -d' ' -f1); do
		systemctl $scope show -P MainPID \$u; done" | tr '\n' ' ')
	owner=root; [ "$mode" = user ] && owner=moattest
	conmons=$(sb pgrep -u "$owner" -x conmon | tr "\n" " ")
	# Rss, Pss and private (dirty + clean) KiB, averaged over every monitor / conmon
	for prog in monitor conmon; do
		pids=$monitors; [ "$prog" = conmon ] && pids=$conmons
		sb sh -c "for p in $pids; do cat /proc/\$p/smaps_rollup; done" |
			awk -v prog="$prog" '/^Rss:/ { r += $2; n++ } /^Pss:/ { p += $2 } /^Private_(Clean|Dirty):/ { u += $2 }
				END { printf "%s %.0f %.0f %.0f %d\n", prog, r / n, p / n, u / n, n }'
	done >"$top_builddir/bench/.mem"
	read -r _ mr mp mu mn < <(sed -n 1p "$top_builddir/bench/.mem")
	read -r _ cr cp cu cn < <(sed -n 2p "$top_builddir/bench/.mem")
	rm -f "$top_builddir/bench/.mem"
	printf 'monitor memory (%s, %d monitors, %d conmons): RSS %d vs %d KiB (ratio %.2f), PSS %d vs %d KiB (ratio %.2f), private %d vs %d KiB (ratio %.2f)\n' \
		"$mode" "$mn" "$cn" "$mr" "$cr" "$(awk -v a="$mr" -v b="$cr" 'BEGIN { print a / b }')" \
		"$mp" "$cp" "$(awk -v a="$mp" -v b="$cp" 'BEGIN { print a / b }')" \
		"$mu" "$cu" "$(awk -v a="$mu" -v b="$cu" 'BEGIN { print a / b }')"
	$how sh -c 'for r in $(moat list --json | grep -o "\"id\":\"[0-9a-f]*\"" | cut -d\" -f4); do moat stop $r; done; moat clean' >/dev/null
done
