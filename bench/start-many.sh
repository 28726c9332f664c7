#!/usr/bin/env bash
# N runs started at once (default 200), each printing 200 lines, rootful: every one must end
# exited with its own code, with all its lines in the journal, and leave nothing; the wall
# time until all have ended, against N concurrent `podman run -d` of the same image and
# command (until all have exited).  Goal: ratio <= 1.0.  Takes minutes.
#   Usage: bench/start-many.sh [N]
. "$(dirname "$0")/lib.sh"
n=${1:-200}
image=localhost/moat-test:latest
bench_boot
ws=/tmp/bench-many
sb rm -rf "$ws"
sb mkdir -p "$ws/out"

# podman alone: started together, waited for together
podman_ms=$(sb bash -c "s=\$(date +%s%3N)
	for i in \$(seq $n); do podman run -d --name bench-p\$i $image sh -c \"seq 200; exit \$((i % 7))\" >/dev/null & done; wait
	for i in \$(seq $n); do podman wait bench-p\$i >/dev/null & done; wait
	echo \$((\$(date +%s%3N) - s))")
sb bash -c "podman rm -f \$(podman ps -aq --filter name=bench-p) >/dev/null"

# moat: started together, each waited for by moat wait
moat_ms=$(sb bash -c "s=\$(date +%s%3N)
	for i in \$(seq $n); do
		(moat run -n bench-m\$i --image $image $ws -- sh -c \"seq 200; exit \$((i % 7))\" >$ws/out/\$i.out 2>$ws/out/\$i.err
		 echo \$? >$ws/out/\$i.rc; moat wait bench-m\$i >/dev/null 2>$ws/out/\$i.werr; echo \$? >$ws/out/\$i.code) &
	done; wait
	echo \$((\$(date +%s%3N) - s))")

bad=0
for i in $(seq "$n"); do
	rc=$(sb cat "$ws/out/$i.rc") code=$(sb cat "$ws/out/$i.code")
	if [ "$rc" != 0 ] || [ "$code" != $((i % 7)) ]; then
		echo "run $i: moat run $rc ($(sb cat "$ws/out/$i.err")), moat wait $code, not $((i % 7)) ($(sb cat "$ws/out/$i.werr"));" \
			"its record: $(sb moat inspect "bench-m$i" 2>&1 | grep -E '^(state|exit_code|error):' | paste -sd' ')" >&2
		bad=$((bad + 1))
		continue
	fi
	lines=$(sb moat logs "bench-m$i" | wc -l)
	[ "$lines" = 200 ] || { echo "run $i: $lines lines of 200 in the journal" >&2; bad=$((bad + 1)); }
done
sb moat clean >/dev/null
left=$(sb sh -c "podman ps -aq --filter label=moat.run-id | wc -l; systemctl list-units --all --no-legend 'moat-*.service' | wc -l" | paste -sd' ')
echo "start-many: $((n - bad))/$n runs ended exited with their own code and all their lines; left (containers units): $left"
awk -v m="$moat_ms" -v p="$podman_ms" -v n="$n" 'BEGIN {
	printf "start-many (%d at once, root): moat %.1f s, podman run -d %.1f s, ratio %.2f (goal <= 1.0)\n",
		n, m / 1000, p / 1000, m / p }'
[ "$bad" = 0 ]
