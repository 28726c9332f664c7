#!/usr/bin/env bats
# moat run -i: a real terminal (tmux) attached to the run's container, as root (system
# manager) and as the test user (user manager); and piped stdin without a terminal.

load helpers

TMUX_SOCKET=moat-e2e

setup_file() {
	setup_workspaces
}

teardown() {
	tx kill-server 2>/dev/null || true
}

# The command a pane types to start moat run -i in MODE, then to print its exit code.
moat_i() {
	local mode=$1; shift
	local as_user=
	[ "$mode" = user ] && as_user=--user
	echo "stty -a >$BATS_TEST_TMPDIR/stty-before; $SANDBOX exec $as_user moat run -i --image $TEST_IMAGE $*; echo EXIT=\$?; stty -a >$BATS_TEST_TMPDIR/stty-after"
}

check_shell() {
	local ws
	ws=$(workspace "$1")
	pane_start "sh-$1"
	tx send-keys -t "sh-$1" "$(moat_i "$1" -n "tty-$1" "$ws" -- sh)" Enter
	wait_pane "sh-$1" '^/workspace #'
	tx send-keys -t "sh-$1" 'echo typed-$((6*7)); stty size' Enter
	wait_pane "sh-$1" '^typed-42$'
	wait_pane "sh-$1" '^30 100$'
	# the window size follows the pane
	tx resize-window -t "sh-$1" -x 120 -y 40
	sleep 0.5
	tx send-keys -t "sh-$1" 'stty size' Enter
	wait_pane "sh-$1" '^40 120$'
	tx resize-window -t "sh-$1" -x 100 -y 30
	sleep 0.5
	tx send-keys -t "sh-$1" 'exit 7' Enter
	wait_pane "sh-$1" '^EXIT=7$'
	wait_pane "sh-$1" "^Run tty-$1 \([0-9a-f]{12}\) exited with code 7$"
	sleep 0.3
	# the terminal is as it was
	diff "$BATS_TEST_TMPDIR/stty-before" "$BATS_TEST_TMPDIR/stty-after"
	run as "$1" moat inspect --json "tty-$1"
	has_json state '"exited"'
	has_json exit_code 7
	has_json tty true
	has_json started_at '"'
	has_json stopped_at '"'
	# the session's output also reached the journal
	run as "$1" moat logs "tty-$1"
	[[ "$output" == *typed-42* ]]
	as "$1" moat rm "tty-$1"
}
@test "a shell in the container: typed commands, the window size, exit 7, the terminal restored" { each_mode check_shell; }

check_stop_from_elsewhere() {
	local ws
	ws=$(workspace "$1")
	pane_start "stop-$1"
	tx send-keys -t "stop-$1" "$(moat_i "$1" -n "istop-$1" "$ws" -- sh -c "'trap \"exit 3\" TERM; echo ready; while :; do sleep 0.1; done'")" Enter
	wait_pane "stop-$1" '^ready$'
	run as "$1" moat stop "istop-$1"
	[ "$status" -eq 0 ]
	wait_pane "stop-$1" '^EXIT=3$'
	wait_pane "stop-$1" "^Run istop-$1 \([0-9a-f]{12}\) stopped with code 3$"
	sleep 0.3
	diff "$BATS_TEST_TMPDIR/stty-before" "$BATS_TEST_TMPDIR/stty-after"
	run as "$1" moat inspect --json "istop-$1"
	has_json state '"stopped"'
	as "$1" moat rm "istop-$1"
}
@test "moat stop from another terminal ends the session and restores the terminal" { each_mode check_stop_from_elsewhere; }

check_escape() {
	local ws
	ws=$(workspace "$1")
	pane_start "esc-$1"
	tx send-keys -t "esc-$1" "$(moat_i "$1" -n "iesc-$1" "$ws" -- sh -c "'trap \"exit 4\" TERM; echo ready; while :; do sleep 0.1; done'")" Enter
	wait_pane "esc-$1" '^ready$'
	tx send-keys -t "esc-$1" C-] C-] C-]
	wait_pane "esc-$1" '^EXIT=4$'
	wait_pane "esc-$1" "^Run iesc-$1 \([0-9a-f]{12}\) stopped with code 4$"
	run as "$1" moat inspect --json "iesc-$1"
	has_json state '"stopped"'
	as "$1" moat rm "iesc-$1"
}
@test "Ctrl-] three times stops the run from inside; the record says stopped" { each_mode check_escape; }

check_ctrl_c_to_program() {
	local ws
	ws=$(workspace "$1")
	pane_start "cc-$1"
	tx send-keys -t "cc-$1" "$(moat_i "$1" -n "icc-$1" "$ws" -- sh -c "'trap \"echo got-int\" INT; echo ready; read x; exit 5'")" Enter
	wait_pane "cc-$1" '^ready$'
	tx send-keys -t "cc-$1" C-c
	wait_pane "cc-$1" 'got-int'
	tx send-keys -t "cc-$1" Enter
	wait_pane "cc-$1" '^EXIT=5$'
	as "$1" moat rm "icc-$1"
}
@test "Ctrl+C goes to the program in the container" { each_mode check_ctrl_c_to_program; }

check_piped_stdin() {
	local ws
	ws=$(workspace "$1")
	run as "$1" sh -c "printf 'a\\nb\\n' | moat run -i --image $TEST_IMAGE -n pipe-$1 $ws -- cat"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = a ]
	[ "${lines[1]}" = b ]
	[[ "${lines[2]}" =~ ^Run\ pipe-$1\ \([0-9a-f]{12}\)\ exited\ with\ code\ 0$ ]]
	run as "$1" moat logs "pipe-$1"
	[ "$output" = "$(printf 'a\nb')" ]
	as "$1" moat rm "pipe-$1"
}
@test "without a terminal, -i streams stdin: printf 'a\\nb\\n' | moat run -i -- cat" { each_mode check_piped_stdin; }

check_hangup() {
	local ws
	ws=$(workspace "$1")
	pane_start "hup-$1"
	tx send-keys -t "hup-$1" "$(moat_i "$1" -n "ihup-$1" "$ws" -- sh -c "'trap \"exit 6\" TERM; echo ready; while :; do sleep 0.1; done'")" Enter
	wait_pane "hup-$1" '^ready$'
	# closing the terminal hangs up moat: the run is stopped
	tx kill-session -t "hup-$1"
	for _ in $(seq 100); do
		run as "$1" moat inspect --json "ihup-$1"
		has_json state '"stopped"' 2>/dev/null && break
		sleep 0.1
	done
	has_json state '"stopped"'
	has_json exit_code 6
	as "$1" moat rm "ihup-$1"
}
@test "closing the terminal stops the run" { each_mode check_hangup; }

# The sandbox's dbus-daemons close a connection that has not authenticated within 5 s
# (tests/sandbox lowers auth_timeout from 30 s and 240 s): a session longer than that must still
# end with the run's status and code, and Ctrl-] must still reach systemd.
check_long_session() {
	local ws
	ws=$(workspace "$1")
	run --separate-stderr as "$1" sh -c "moat run -i --image $TEST_IMAGE -n long-$1 $ws -- sh -c 'sleep 7; exit 3' </dev/null"
	[ "$status" -eq 3 ] || { echo "exit $status: $stderr" >&2; false; }
	[[ "$stderr" =~ Run\ long-$1\ \([0-9a-f]{12}\)\ exited\ with\ code\ 3 ]]
	as "$1" moat rm "long-$1"
	pane_start "long-$1"
	tx send-keys -t "long-$1" "$(moat_i "$1" -n "ilong-$1" "$ws" -- sh -c "'trap \"exit 4\" TERM; echo ready; while :; do sleep 0.1; done'")" Enter
	wait_pane "long-$1" '^ready$'
	sleep 7
	tx send-keys -t "long-$1" C-] C-] C-]
	wait_pane "long-$1" '^EXIT=4$'
	wait_pane "long-$1" "^Run ilong-$1 \([0-9a-f]{12}\) stopped with code 4$"
	as "$1" moat rm "ilong-$1"
}
@test "a session longer than dbus-daemon's auth_timeout ends with its status; Ctrl-] still stops it" { each_mode check_long_session; }
