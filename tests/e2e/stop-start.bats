#!/usr/bin/env bats
# A stop while moat run is still starting the run: the unit, which exists by then, ends the
# run and cleans up; moat run waits for that, says so and exits 125.  A podman-gate between
# moat and podman holds the start at each point while systemctl stop comes in.

load helpers

setup_file() {
	setup_workspaces
}

# The journal of the run's unit without systemd's own lines, message only.
unit_lines() {
	local mode=$1 id=$2
	as "$mode" journalctl $(scope_flag "$mode") -u "moat-$id.service" -o short --no-hostname |
		grep -v ' systemd\[[0-9]*\]: ' | grep -v '^-- ' | sed 's/^[^]]*\]: //'
}

# stop_at MODE POINT ROUTE PATTERN request|response: holds the start at POINT, stops the run
# meanwhile by ROUTE (systemctl: the unit, which must be loaded; moat: moat stop, which must
# not return before the stop took effect), then lets the start go on.  PATTERN "monitor" holds
# the run's monitor before it runs (MOAT_TEST_MONITOR_GATE); any other holds the first podman
# call whose request contains it (or its answer).
stop_at() {
	local mode=$1 point=$2 route=$3 pattern=$4 hold=$5 scope dir name id state host gate=
	scope=$(scope_flag "$mode")
	name=stop-$point-$route-$mode
	dir=$(workspace "$mode")/gate-$point-$route
	if [ "$pattern" = monitor ]; then
		as "$mode" rm -rf "$dir"
		as "$mode" mkdir -p "$dir"
		gate="MOAT_TEST_MONITOR_GATE=$dir"
		host=
	else
		gate_start "$mode" "moat-test-gate-$point" "$dir" "$pattern" "$hold"
		host="CONTAINER_HOST=unix://$dir/gate.sock"
	fi
	as "$mode" sh -c "$host $gate moat run --image $TEST_IMAGE -n $name $(workspace "$mode") \
		-- sh -c 'echo started; trap \"exit 7\" TERM; while :; do sleep 0.1; done' >$dir/out 2>$dir/err; echo \$? >$dir/rc" &
	for _ in $(seq 100); do as "$mode" test -e "$dir/held" && break; sleep 0.1; done
	as "$mode" test -e "$dir/held"
	id=$(run_id_of "$mode" "$name")
	[ -n "$id" ]
	if [ "$route" = systemctl ]; then
		as "$mode" systemctl $scope stop --no-block "moat-$id.service"
		for _ in $(seq 50); do
			state=$(as "$mode" systemctl $scope show -P ActiveState "moat-$id.service")
			[ "$state" = deactivating ] || [ "$state" = inactive ] && break
			sleep 0.1
		done
		[ "$state" = deactivating ] || [ "$state" = inactive ]
	else
		as "$mode" sh -c "moat stop $name >$dir/stop.out 2>$dir/stop.err; echo \$? >$dir/stop.rc" &
		# the stop is under way and waits for the start, which the gate holds; a monitor held
		# before it runs dies of the stop, which ends there, before the gate lets go
		if [ -z "$gate" ]; then
			for _ in $(seq 10); do as "$mode" test ! -e "$dir/stop.rc"; sleep 0.1; done
		else
			for _ in $(seq 600); do as "$mode" test -e "$dir/stop.rc" && break; sleep 0.1; done
		fi
	fi
	as "$mode" touch "$dir/release"
	if [ "$route" = moat ]; then
		for _ in $(seq 600); do as "$mode" test -e "$dir/stop.rc" && break; sleep 0.1; done
		# when moat stop returns, the run has ended as stopped
		run as "$mode" moat inspect --json "$id"
		has_json state '"stopped"'
		run as "$mode" cat "$dir/stop.rc" "$dir/stop.out" "$dir/stop.err"
		[ "$output" = 0 ]
	fi
	wait
	if [ -z "$gate" ]; then as "$mode" systemctl $scope stop "moat-test-gate-$point"; fi

	run as "$mode" cat "$dir/rc"
	[ "$output" = 125 ]
	run as "$mode" cat "$dir/out"
	[ -z "$output" ]
	run as "$mode" cat "$dir/err"
	[ "$output" = "moat: run $name ($id) was stopped while it started" ]
	run as "$mode" moat inspect --json "$id"
	has_json state '"stopped"'
	has_json stopped_at '"20'
	assert_no_leftovers "$mode" "$id"
	STOPPED_ID=$id
	STOPPED_NAME=$name
}

# stopped_before_start MODE POINT ROUTE PATTERN HOLD: the container never started.
stopped_before_start() {
	local id name
	stop_at "$@"
	id=$STOPPED_ID
	name=$STOPPED_NAME
	run as "$1" moat inspect --json "$id"
	has_json exit_code null
	run unit_lines "$1" "$id"
	[ "$output" = "Run $name ($id) was stopped before its container started" ]
	run as "$1" moat wait "$id"
	[ "$status" -eq 125 ]
	[ "$output" = "moat: run $name ($id) was stopped before its container started" ]
	as "$1" moat rm "$id"
}

# Before the unit is loaded only moat stop can name the run; from then on either route.
check_before_create() { stopped_before_start "$1" precreate moat "/containers/create" request; }
@test "stopped after the record was written, before the container and the unit: stopped, nothing left" { each_mode check_before_create; }

check_during_create() { stopped_before_start "$1" create moat "/containers/create" response; }
@test "stopped while podman created the container (no unit yet): moat stop waits, the run ends stopped" { each_mode check_during_create; }

check_before_monitor() {
	stopped_before_start "$1" monitor systemctl monitor -
	stopped_before_start "$1" monitor moat monitor -
}
@test "stopped with the unit loaded, before its monitor ran: stopped, not failed, the record kept" { each_mode check_before_monitor; }

check_before_attach() { stopped_before_start "$1" attach systemctl "/attach?" request; }
@test "stopped before the monitor attached: stopped, no exit code, one journal line, nothing left" { each_mode check_before_attach; }

check_before_start() {
	stopped_before_start "$1" created systemctl "/attach?" response
	stopped_before_start "$1" created moat "/attach?" response
}
@test "stopped with the container created and attached, not started: the same, by either route" { each_mode check_before_start; }

check_after_start() {
	local id
	stop_at "$1" started systemctl "/start HTTP" response
	id=$STOPPED_ID
	run as "$1" moat inspect --json "$id"
	has_json exit_code 7
	run unit_lines "$1" "$id"
	[ "$output" = "$(printf 'started\nRun stop-started-systemctl-%s (%s) stopped with code 7' "$1" "$id")" ]
	as "$1" moat rm "$id"
}
@test "stopped after podman started the container: the relay stops it; its code is recorded" { each_mode check_after_start; }

check_stop_ended() {
	local id
	run mrun "$1" -n "ended-$1" "$(workspace "$1")" -- true
	id=$(started_id "$output")
	as "$1" moat wait "$id"
	run as "$1" moat stop "ended-$1"
	[ "$status" -eq 0 ]
	[ "$output" = "Run ended-$1 ($id) had already ended: exited with code 0." ]
	run as "$1" moat inspect --json "$id"
	has_json state '"exited"'
	as "$1" moat rm "$id"
}
@test "moat stop of a run that has ended says so, changes nothing and exits 0" { each_mode check_stop_ended; }
