#!/usr/bin/env bats
# moat exec: commands in a running run's container, as root (system manager, rootful podman)
# and as the test user (user manager, rootless podman); a terminal session under tmux.

load helpers

TMUX_SOCKET=moat-e2e-exec

setup_file() {
	setup_workspaces
}

teardown() {
	tx kill-server 2>/dev/null || true
}

# A run that sleeps, for commands to run in; prints its id.
sleeper() {
	local out
	out=$(mrun "$1" -n "$2" "$(workspace "$1")" -- sleep 1000)
	started_id "$out"
}

check_exec_streams() {
	local id
	id=$(sleeper "$1" "exec-$1")
	# stdout and stderr apart, byte for byte; the exit code passed through
	run --separate-stderr as "$1" moat exec "exec-$1" -- sh -c 'echo out-line; printf "bin\001\377"; echo err-line >&2; exit 7'
	[ "$status" -eq 7 ]
	[ "$output" = "$(printf 'out-line\nbin\001\377')" ]
	[ "$stderr" = err-line ]
	# -e, the working directory, the run's environment
	run as "$1" moat exec -e EXTRA=x "$id" -- sh -c 'echo "$EXTRA $(pwd)"'
	[ "$status" -eq 0 ]
	[ "$output" = "x /workspace" ]
	# -i: stdin reaches the command, and its end is EOF
	run as "$1" sh -c "printf 'a\nb\n' | moat exec -i $id -- sh -c 'wc -l; cat'"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | tr -d ' ')" = 2 ]
	# without -i the command reads nothing, even with moat's stdin open
	run as "$1" sh -c "printf 'x\n' | moat exec $id -- cat"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	# a command that cannot run: podman's codes
	run -127 as "$1" moat exec "$id" -- /no/such/binary
	# the run itself goes on
	run as "$1" moat inspect --json "$id"
	has_json state '"running"'
	as "$1" moat stop "$id"
	# an ended run has no container
	run --separate-stderr as "$1" moat exec "$id" -- true
	[ "$status" -eq 125 ]
	[ "$stderr" = "moat: run exec-$1 ($id) is stopped, not running: there is no container to run a command in" ]
	as "$1" moat rm "$id"
}
@test "exec: stdout and stderr apart, the exit code, -e, -i, an ended run refused" { each_mode check_exec_streams; }

# The exec sessions of container $2 (podman inspect as MODE $1) and the conmon processes
# that serve it, counted as root, who sees every user's.
exec_traces() {
	echo "sessions=$(as "$1" podman inspect --format '{{len .ExecIDs}}' "$2") conmons=$(sb pgrep -fc "^/usr/bin/conmon .*-c $2")"
}

# exec_traces_back MODE CONTAINER WANT: the traces come back to WANT within 15 s (a guard
# stops a command that ignores SIGTERM after 10 s).
exec_traces_back() {
	local i now
	for i in $(seq 60); do
		now=$(exec_traces "$1" "$2")
		[ "$now" = "$3" ] && return 0
		sleep 0.25
	done
	echo "exec traces: $now, want $3" >&2
	return 1
}

check_exec_leaves_nothing() {
	local id ctr before i
	id=$(sleeper "$1" "exec-leak-$1")
	for i in $(seq 40); do
		ctr=$(as "$1" moat inspect --json "$id" | sed -n 's/.*"container_id":[[:space:]]*"\([0-9a-f]\{64\}\)".*/\1/p')
		[ -n "$ctr" ] && break
		sleep 0.25
	done
	[ -n "$ctr" ]
	before=$(exec_traces "$1" "$ctr")
	[ "$before" = "sessions=0 conmons=1" ]
	# every call ends its session: none left after 50, at once
	as "$1" sh -c "for i in \$(seq 50); do moat exec $id -- true || exit 1; done"
	exec_traces_back "$1" "$ctr" "$before"
	# moat killed by SIGKILL mid-command: its guard ends the command and the session
	as "$1" sh -c "moat exec $id -- sleep 600 & sleep 1; kill -KILL \$!"
	exec_traces_back "$1" "$ctr" "$before"
	# ... even a command that ignores SIGTERM
	as "$1" sh -c "moat exec $id -- sh -c 'trap \"\" TERM; sleep 600' & sleep 1; kill -KILL \$!"
	exec_traces_back "$1" "$ctr" "$before"
	# Ctrl-C without a terminal ends the command: its SIGTERM status
	run as "$1" sh -c "moat exec $id -- sleep 600 & sleep 1; kill -INT \$!; wait \$!"
	[ "$status" -eq 143 ]
	[ "$(exec_traces "$1" "$ctr")" = "$before" ]
	# the run ending under a command: no conmon of its container stays
	as "$1" sh -c "moat exec $id -- sleep 600 & sleep 1; moat stop $id; wait" || true
	for i in $(seq 20); do
		[ "$(sb pgrep -fc "^/usr/bin/conmon .*-c $ctr")" = 0 ] && break
		sleep 0.25
	done
	[ "$(sb pgrep -fc "^/usr/bin/conmon .*-c $ctr")" = 0 ]
	as "$1" moat rm "$id"
}
@test "exec: no session and no conmon stays, whether moat exits, is killed, or the run ends" { each_mode check_exec_leaves_nothing; }

check_exec_tty() {
	local id as_user=
	[ "$1" = user ] && as_user=--user
	id=$(sleeper "$1" "exec-tty-$1")
	pane_start "x-$1"
	tx send-keys -t "x-$1" "stty -a >$BATS_TEST_TMPDIR/before; $SANDBOX exec $as_user moat exec -it $id -- sh; echo EXIT=\$?; stty -a >$BATS_TEST_TMPDIR/after" Enter
	wait_pane "x-$1" '^/workspace #'
	tx send-keys -t "x-$1" 'tty; stty size' Enter
	wait_pane "x-$1" '^/dev/pts/'
	wait_pane "x-$1" '^30 100$'
	tx resize-window -t "x-$1" -x 120 -y 40
	sleep 0.5
	tx send-keys -t "x-$1" 'stty size' Enter
	wait_pane "x-$1" '^40 120$'
	tx resize-window -t "x-$1" -x 100 -y 30
	sleep 0.5
	tx send-keys -t "x-$1" 'exit 3' Enter
	wait_pane "x-$1" '^EXIT=3$'
	sleep 0.3
	diff "$BATS_TEST_TMPDIR/before" "$BATS_TEST_TMPDIR/after"
	run as "$1" moat inspect --json "$id"
	has_json state '"running"'
	as "$1" moat stop "$id"
	as "$1" moat rm "$id"
}
@test "exec -it: a shell on a terminal, its size kept in sync, exit 3, the terminal restored" { each_mode check_exec_tty; }
