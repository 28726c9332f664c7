#!/usr/bin/env bash
# Output through the journal, as the test user (user manager, rootless podman):
#  - relay throughput: 200,000 lines from a container until `moat run -f` ends, against the
#    floor, the same lines written straight to the journal by a unit (`systemd-run --user
#    --wait seq`, then until its last line is in the journal).  Target: ratio >= 0.8 (lines/s).
#    bench/journal-ceiling.sh shows why the relay stays below it.
#  - `moat logs` of those 200,000 lines against `journalctl --user -u moat-<id> -o cat`.
#    Target: time ratio <= 1.0.
#  - follow latency: a line written in the container to its arrival on `moat run -f`'s
#    stdout.  Target: median <= 50 ms.
#   Usage: bench/relay.sh [LINES]
. "$(dirname "$0")/lib.sh"
lines=${1:-200000}
image=localhost/moat-test:latest
bench_boot
ws=/home/moattest/bench-ws
sbu mkdir -p "$ws"
out=$(mktemp -d "$top_builddir/bench/out.XXXXXX")

for round in 1 2 3; do
	time_in user sh -c "moat run -f --image $image -n relay-$round $ws -- seq 1 $lines >/dev/null 2>&1" >>"$out/relay"
	time_in user sh -c "systemd-run --user --quiet --wait -p LogRateLimitIntervalSec=1s -p LogRateLimitBurst=1000000000 \
		--unit floor-$round seq 1 $lines
		until [ \"\$(journalctl --user -u floor-$round -n 1 -o cat 2>/dev/null)\" = $lines ]; do sleep 0.02; done" >>"$out/floor"
done
rm_ms=$(median <"$out/relay"); fl_ms=$(median <"$out/floor")
printf 'relay throughput: moat %.0f lines/s (%.0f ms), floor %.0f lines/s (%.0f ms), ratio %.3f\n' \
	"$(awk -v n="$lines" -v t="$rm_ms" 'BEGIN { print n / t * 1000 }')" "$rm_ms" \
	"$(awk -v n="$lines" -v t="$fl_ms" 'BEGIN { print n / t * 1000 }')" "$fl_ms" \
	"$(awk -v a="$rm_ms" -v b="$fl_ms" 'BEGIN { print b / a }')"

id=$(sbu moat inspect --json relay-1 | sed -n 's/.*"id":[^"]*"\([0-9a-f]*\)".*/\1/p' | head -1)
for _ in $(seq 5); do
	time_in user moat logs "$id" >>"$out/logs"
	time_in user journalctl --user -u "moat-$id" -o cat >>"$out/journalctl"
done
report "moat logs of $lines lines" "moat logs" "$out/logs" "journalctl -o cat" "$out/journalctl"

# latency: the container prints line i once the host has created go.i in the workspace
sbu sh -c "rm -f $ws/go.* $ws/sent.*; moat run -f --image $image -n latency $ws -- sh -c \
	'i=0; while [ \$i -lt 20 ]; do while [ ! -e go.\$i ]; do usleep 500; done; echo line \$i; i=\$((i + 1)); done' 2>/dev/null |
	while read -r _ n; do echo \"\$n \$(date +%s%N)\"; done >/tmp/arrivals &
	sleep 1
	for i in \$(seq 0 19); do date +%s%N >$ws/sent.\$i; touch $ws/go.\$i; sleep 0.2; done
	wait
	while read -r n t; do echo \$(( (t - \$(cat $ws/sent.\$n)) / 1000 )); done </tmp/arrivals" |
	awk '{ printf "%.3f\n", $1 / 1000 }' >"$out/latency"
printf 'follow latency: median %.1f ms, max %.1f ms (n=%d)\n' "$(median <"$out/latency")" \
	"$(sort -n "$out/latency" | tail -1)" "$(wc -l <"$out/latency")"
rm -rf "$out"
