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

# stop_at MODE POINT PATTERN request|response: holds the first podman call whose request
# contains PATTERN (or its answer), stops the unit meanwhile, then lets it go on.
stop_at() {
	local mode=$1 point=$2 pattern=$3 hold=$4 scope dir name id state
	scope=$(scope_flag "$mode")
	name=stop-$point-$mode
	dir=$(workspace "$mode")/gate-$point
	gate_start "$mode" "moat-test-gate-$point" "$dir" "$pattern" "$hold"
	as "$mode" sh -c "CONTAINER_HOST=unix://$dir/gate.sock moat run --image $TEST_IMAGE -n $name $(workspace "$mode") \
		-- sh -c 'echo started; trap \"exit 7\" TERM; while :; do sleep 0.1; done' >$dir/out 2>$dir/err; echo \$? >$dir/rc" &
	for _ in $(seq 100); do as "$mode" test -e "$dir/held" && break; sleep 0.1; done
	as "$mode" test -e "$dir/held"
	id=$(run_id_of "$mode" "$name")
	[ -n "$id" ]
	as "$mode" systemctl $scope stop --no-block "moat-$id.service"
	for _ in $(seq 50); do
		state=$(as "$mode" systemctl $scope show -P ActiveState "moat-$id.service")
		[ "$state" = deactivating ] && break
		sleep 0.1
	done
	[ "$state" = deactivating ]
	as "$mode" touch "$dir/release"
	wait
	as "$mode" systemctl $scope stop "moat-test-gate-$point"

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
}

# stopped_before_start MODE POINT PATTERN HOLD: the container never started.
stopped_before_start() {
	local id
	stop_at "$1" "$2" "$3" "$4"
	id=$STOPPED_ID
	run as "$1" moat inspect --json "$id"
	has_json exit_code null
	run unit_lines "$1" "$id"
	[ "$output" = "Run stop-$2-$1 ($id) was stopped before its container started" ]
	run as "$1" moat wait "$id"
	[ "$status" -eq 125 ]
	[ "$output" = "moat: run stop-$2-$1 ($id) was stopped before its container started" ]
	as "$1" moat rm "$id"
}

check_before_attach() { stopped_before_start "$1" attach "/attach?" request; }
@test "stopped before the monitor attached: stopped, no exit code, one journal line, nothing left" { each_mode check_before_attach; }

check_before_start() { stopped_before_start "$1" created "/attach?" response; }
@test "stopped with the container created and attached, not started: the same" { each_mode check_before_start; }

check_after_start() {
	local id
	stop_at "$1" started "/start HTTP" response
	id=$STOPPED_ID
	run as "$1" moat inspect --json "$id"
	has_json exit_code 7
	run unit_lines "$1" "$id"
	[ "$output" = "$(printf 'started\nRun stop-started-%s (%s) stopped with code 7' "$1" "$id")" ]
	as "$1" moat rm "$id"
}
@test "stopped after podman started the container: the relay stops it; its code is recorded" { each_mode check_after_start; }
