#!/usr/bin/env bats
# The trust model of DESIGN.md, attacked the way an agent inside the container (or another
# local user) would, as root (system manager, rootful podman) and as the test user (user
# manager, rootless podman): nothing the attacker writes widens a later run, reaches the host
# or speaks for moat.

load helpers

setup_file() {
	setup_workspaces
}

# forge MODE ID: journal entries that name run ID, from writers that are not the run's: the
# user nobody (another local user) and, as MODE's own user, a unit that is not the run's.
forge() {
	local mode=$1 id=$2 entries
	entries="MOAT_RUN_ID=$id
MOAT_STREAM=stdout
MOAT_SEQ=1
MESSAGE=forged-line

MOAT_RUN_ID=$id
MOAT_EVENT=network-denied
MOAT_HOST=forged.example

MOAT_RUN_ID=$id
MOAT_EVENT=exit
MOAT_STATE=exited
MOAT_EXIT_CODE=0
MESSAGE=forged-end"
	sb runuser -u nobody -- sh -c "printf '%s\n' '$entries' | logger --journald"
	as "$mode" systemd-run $(scope_flag "$mode") -q --wait --collect \
		sh -c "printf '%s\n' '$entries' | logger --journald"
	sleep 0.5 # journald has them all
}

check_forged_records() {
	local ws id start elapsed
	ws=$(workspace "$1")
	run mrun "$1" -n "forged-$1" --network strict "$ws" -- sh -c 'echo real-line; sleep 5; exit 3'
	[ "$status" -eq 0 ]
	id=$(started_id "$output")
	forge "$1" "$id"
	# -f ends with the run's own end, not the forged one
	start=$SECONDS
	run --separate-stderr as "$1" moat logs -f "$id"
	elapsed=$((SECONDS - start))
	[ "$status" -eq 0 ] || { echo "logs -f: status $status, stdout: $output, stderr: $stderr" >&2; return 1; }
	[ "$elapsed" -ge 2 ] || { echo "logs -f ended after ${elapsed}s, before the run" >&2; return 1; }
	[ "$output" = real-line ]
	run as "$1" moat logs "$id"
	[ "$output" = real-line ]
	run as "$1" moat logs -n 1 "$id"
	[ "$output" = real-line ]
	run as "$1" moat wait "$id"
	[ "$status" -eq 3 ]
	run as "$1" moat inspect --json "$id"
	[[ "$output" != *forged.example* ]]
	has_json exit_code 3
	as "$1" moat rm "$id" >/dev/null
}
@test "records forged by another user or another unit change nothing logs, logs -f, wait or inspect report" {
	each_mode check_forged_records
}
