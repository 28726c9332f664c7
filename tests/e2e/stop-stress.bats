#!/usr/bin/env bats
# Runs stopped at random moments of their start, by moat stop or systemctl stop, while moat
# clean runs in a loop beside them: each ends stopped (or exited), within its stop timeout,
# with a quiet journal and nothing left; clean removes none of the starting runs.  The delays
# come from a fixed seed (MOAT_STRESS_SEED to replay), printed on failure.

load helpers

SEED=${MOAT_STRESS_SEED:-22}
RUNS=30        # per manager
WAVE=5         # started together
STOP_TIMEOUT_MS=30000 # the unit's TimeoutStopSec: the container's 10 s grace and 20 s more

setup_file() {
	setup_workspaces
}

# The driver of one run, inside the sandbox: starts it, waits DELAY ms, stops it by ROUTE
# (moat stop by name, retried until the name exists; systemctl stop, retried until the unit
# is loaded), and notes moat run's status and how long the stop that took took.
write_driver() {
	as "$1" sh -c "cat >$2/drive.sh" <<'EOS'
#!/bin/bash
scope=$1 name=$2 delay=$3 route=$4 ws=$5 image=$6 out=$7
moat run -n "$name" --image "$image" "$ws" -- \
	sh -c 'trap "exit 7" TERM; i=0; while [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done' \
	>"$out/$name.out" 2>"$out/$name.err" &
pid=$!
sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
ok=
# until the stop is taken (moat run may have returned already: it returns once the run runs)
end=$(($(date +%s) + 20))
while [ "$(date +%s)" -lt "$end" ]; do
	t0=$(date +%s%3N)
	if [ "$route" = moat ]; then
		moat stop "$name" >>"$out/$name.stop" 2>&1 && ok=1
	else
		id=$(moat list 2>/dev/null | awk -v n="$name" '$1 == n { print $2 }')
		[ -n "$id" ] && systemctl $scope stop "moat-$id.service" >>"$out/$name.stop" 2>&1 && ok=1
	fi
	t1=$(date +%s%3N)
	[ -n "$ok" ] && break
	sleep 0.01
done
wait "$pid"
echo $? >"$out/$name.rc"
[ -n "$ok" ] && echo $((t1 - t0)) >"$out/$name.ms"
EOS
}

stress() {
	local mode=$1 scope ws out name delay route i rc err id state ms noise failed=0 n_stopped=0
	scope=$(scope_flag "$mode")
	ws=$(workspace "$mode")
	out=$ws/stress
	as "$mode" rm -rf "$out"
	as "$mode" mkdir -p "$out"
	write_driver "$mode" "$out"
	RANDOM=$SEED
	as "$mode" sh -c "while [ ! -e $out/done ]; do moat clean >/dev/null 2>>$out/clean.err; done" &
	for ((i = 0; i < RUNS; i += WAVE)); do
		local cmds=
		for ((j = i; j < i + WAVE && j < RUNS; j++)); do
			delay=$((RANDOM % 801))
			route=$([ $((RANDOM % 2)) = 0 ] && echo moat || echo systemctl)
			name=stress-$j-$mode
			echo "$name $delay $route" >>"$BATS_FILE_TMPDIR/plan-$mode"
			cmds+="bash $out/drive.sh '$scope' $name $delay $route $ws $TEST_IMAGE $out & "
		done
		as "$mode" bash -c "$cmds wait"
	done
	as "$mode" touch "$out/done"
	wait

	while read -r name delay route; do
		rc=$(as "$mode" cat "$out/$name.rc")
		err=$(as "$mode" cat "$out/$name.err")
		id=$(as "$mode" cat "$out/$name.out" | sed -n 's/^Started .* (\([0-9a-f]\{12\}\))\. .*/\1/p')
		[ -n "$id" ] || id=$(sed -n 's/^moat: run .* (\([0-9a-f]\{12\}\)) was stopped while it started$/\1/p' <<<"$err")
		ms=$(as "$mode" cat "$out/$name.ms" 2>/dev/null || echo none)
		state=$(as "$mode" journalctl $scope -u "moat-$id.service" MOAT_EVENT=exit -o json 2>/dev/null |
			grep -o '"MOAT_STATE":"[a-z]*"' | cut -d'"' -f4)
		noise=$(as "$mode" journalctl $scope -u "moat-$id.service" -o cat 2>/dev/null |
			grep -E 'no such container|There is no run|killed by signal' || true)
		if ! { [ "$rc" = 0 ] && [ -z "$err" ]; } &&
			[ "$err" != "moat: run $name ($id) was stopped while it started" ]; then
			echo "$name (delay $delay ms, $route): moat run exited $rc: $err" >&2
			failed=1
		elif [ -z "$id" ] || { [ "$state" != stopped ] && [ "$state" != exited ]; }; then
			echo "$name (delay $delay ms, $route) $id: ended '$state'" >&2
			failed=1
		elif [ "$ms" = none ] || [ "$ms" -gt "$STOP_TIMEOUT_MS" ]; then
			echo "$name (delay $delay ms, $route) $id: the stop took $ms ms: $(as "$mode" sort "$out/$name.stop" | uniq -c)" >&2
			failed=1
		elif [ -n "$noise" ]; then
			echo "$name (delay $delay ms, $route) $id: journal noise: $noise" >&2
			failed=1
		elif ! assert_no_leftovers "$mode" "$id"; then
			failed=1
		fi
		[ "$state" = stopped ] && n_stopped=$((n_stopped + 1))
		# a record clean has not removed yet ended as the journal says
		run as "$mode" moat inspect --json "$id"
		if [ "$status" -eq 0 ] && ! grep -Eq '"state":[[:space:]]*"(stopped|exited)"' <<<"$output"; then
			echo "$name $id: the record says: $output" >&2
			failed=1
		fi
	done <"$BATS_FILE_TMPDIR/plan-$mode"
	run as "$mode" cat "$out/clean.err"
	[ -z "$output" ] || { echo "moat clean: $output" >&2; failed=1; }
	{ echo "# $mode: $n_stopped of $RUNS stopped, the rest exited (seed $SEED)" >&3; } 2>/dev/null || true
	as "$mode" moat clean >/dev/null
	if [ "$failed" != 0 ]; then
		echo "seed $SEED (MOAT_STRESS_SEED=$SEED replays it)" >&2
		return 1
	fi
}

@test "runs stopped at random moments of their start end stopped, quietly, leaving nothing; clean spares them" { each_mode stress; }
