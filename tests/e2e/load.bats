#!/usr/bin/env bats
# Many runs started at once, where podman serialises the creates and each moat run waits long
# for its turn: every run starts and ends with its own code.  The sandbox lowers dbus-daemon's
# auth_timeout to 5 s, so a connection opened early and first used after podman's create
# would be dropped here within seconds (issue 22: 197 of 200 failed that way at 30 s).

load helpers

setup_file() {
	setup_workspaces
}

# at_once MODE N: N fire-and-forget runs started together, run I printing 20 lines and
# exiting I % 7; each must start, end exited with its code, with its lines, leave nothing.
at_once() {
	local mode=$1 n=$2 dir ws id code
	ws=$(workspace "$mode")
	dir=$ws/at-once
	as "$mode" rm -rf "$dir"
	as "$mode" mkdir -p "$dir"
	as "$mode" sh -c "for i in \$(seq $n); do
		(moat run -n many-\$i-$mode --image $TEST_IMAGE $ws -- sh -c \"seq 20; exit \$((i % 7))\" \
			>$dir/\$i.out 2>$dir/\$i.err; echo \$? >$dir/\$i.rc) &
	done; wait"
	for i in $(seq "$n"); do
		run as "$mode" cat "$dir/$i.rc" "$dir/$i.err"
		[ "$output" = 0 ] || { echo "run $i: $output" >&2; return 1; }
	done
	for i in $(seq "$n"); do
		id=$(started_id "$(as "$mode" cat "$dir/$i.out")")
		[ -n "$id" ]
		run as "$mode" moat wait "$id"
		code=$((i % 7))
		[ "$status" -eq "$code" ] || { echo "run $i ($id): exit $status, not $code: $output" >&2; return 1; }
		run as "$mode" moat logs "$id"
		[ "$output" = "$(seq 20)" ]
		run as "$mode" moat inspect --json "$id"
		has_json state '"exited"'
		as "$mode" moat rm "$id"
		assert_no_leftovers "$mode" "$id"
	done
}

check_60_at_once() { at_once "$1" 60; }
@test "60 runs started at once all start and end with their own code, with dbus' auth_timeout at 5 s" { each_mode check_60_at_once; }

# One run whose podman create takes longer than dbus-daemon's auth_timeout (held by the
# podman-gate for 7 s, the sandbox's timeout being 5 s), as a create does on a loaded host:
# the bus moat opened before it must still serve the start after it.
check_slow_create() {
	local mode=$1 dir name=slow-create-$1 id
	dir=$(workspace "$mode")/gate-slow-create
	gate_start "$mode" "moat-test-gate-slow-$mode" "$dir" "containers/create" request
	as "$mode" sh -c "CONTAINER_HOST=unix://$dir/gate.sock moat run -n $name --image $TEST_IMAGE \
		$(workspace "$mode") -- sh -c 'echo slow; exit 3' >$dir/out 2>$dir/err; echo \$? >$dir/rc" &
	for _ in $(seq 100); do as "$mode" test -e "$dir/held" && break; sleep 0.1; done
	as "$mode" test -e "$dir/held"
	sleep 7
	as "$mode" touch "$dir/release"
	wait
	run as "$mode" cat "$dir/rc" "$dir/err"
	[ "$output" = 0 ] || { echo "moat run: $output" >&2; return 1; }
	id=$(started_id "$(as "$mode" cat "$dir/out")")
	run as "$mode" moat wait "$id"
	[ "$status" -eq 3 ]
	run as "$mode" moat logs "$id"
	[ "$output" = slow ]
	as "$mode" systemctl $(scope_flag "$mode") stop "moat-test-gate-slow-$mode" || true
	as "$mode" moat rm "$id"
	assert_no_leftovers "$mode" "$id"
}
@test "a podman create slower than dbus' auth_timeout still starts its run" { each_mode check_slow_create; }
