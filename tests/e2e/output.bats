#!/usr/bin/env bats
# Run output in the journal: the monitor's lossless relay, moat logs and moat run -f, as root
# (system manager) and as the test user (user manager).

load helpers

setup_file() {
	setup_workspaces
}

check_200k() {
	local ws id scope
	ws=$(workspace "$1")
	scope=$(scope_flag "$1")
	# run -f prints every line in order and exits with the run's code
	run --separate-stderr mrun "$1" -f -n "burst-$1" "$ws" -- sh -c 'seq 1 200000; exit 3'
	[ "$status" -eq 3 ]
	[ "${#lines[@]}" -eq 200000 ]
	[ "$(printf '%s\n' "${lines[@]}" | md5sum)" = "$(seq 1 200000 | md5sum)" ]
	[[ "$stderr" =~ ^Run\ burst-$1\ \(([0-9a-f]{12})\)\ exited\ with\ code\ 3$ ]]
	id=${BASH_REMATCH[1]}
	# moat logs: the same 200,000
	[ "$(as "$1" moat logs "$id" | md5sum)" = "$(seq 1 200000 | md5sum)" ]
	# journalctl -u shows them all under the unit, the last line included
	[ "$(as "$1" journalctl $scope -u "moat-$id" -o cat | grep -cx '[0-9]*')" -eq 200000 ]
	# -n 5 is the last five lines
	run as "$1" moat logs -n 5 "$id"
	[ "$output" = "$(seq 199996 200000)" ]
	as "$1" moat rm "$id"
}
@test "200,000 lines: run -f, moat logs and journalctl -u each show all of them" { each_mode check_200k; }

check_bytes() {
	local ws id
	ws=$(workspace "$1")
	run mrun "$1" "$ws" -- sh -c 'head -c 1048576 /dev/zero | tr "\0" x; echo
		printf "bin\001\377\033[31mred\r\n"; echo err-line >&2; printf last-no-newline'
	id=$(started_id "$output")
	as "$1" moat wait "$id"
	as "$1" sh -c "moat logs $id >/tmp/logs-$1.out 2>/tmp/logs-$1.err"
	as "$1" sh -c "{ head -c 1048576 /dev/zero | tr '\\0' x; echo; printf 'bin\\001\\377\\033[31mred\\r\\n'; printf last-no-newline; } >/tmp/want-$1.out"
	run as "$1" cmp "/tmp/want-$1.out" "/tmp/logs-$1.out"
	[ "$status" -eq 0 ]
	run as "$1" cat "/tmp/logs-$1.err"
	[ "$output" = err-line ]
	as "$1" moat rm "$id"
}
@test "a 1 MiB line, binary bytes and a last line without newline come back byte-exact" { each_mode check_bytes; }

check_logs_follow() {
	local ws id
	ws=$(workspace "$1")
	id=$(started_id "$(mrun "$1" "$ws" -- sh -c 'for i in 1 2 3; do echo tick $i; sleep 0.5; done')")
	run as "$1" moat logs -f "$id"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'tick 1\ntick 2\ntick 3')" ]
	# on an ended run: everything, then exit; options may follow RUN, as 'Started' says
	run as "$1" moat logs "$id" -f
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 3 ]
	run as "$1" moat logs -t "$id"
	[[ "${lines[0]}" =~ ^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z\ tick\ 1$ ]]
	as "$1" moat rm "$id"
}
@test "logs -f follows to the end; on an ended run it prints all and exits; -t" { each_mode check_logs_follow; }

check_closed_pipe() {
	local ws id
	ws=$(workspace "$1")
	id=$(started_id "$(mrun "$1" "$ws" -- seq 1 50000)")
	as "$1" moat wait "$id"
	run --separate-stderr as "$1" sh -c "moat logs $id | head -n 2"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '1\n2')" ]
	[ -z "$stderr" ]
	as "$1" moat rm "$id"
}
@test "moat logs | head exits quietly" { each_mode check_closed_pipe; }

check_ctrl_c() {
	local ws
	ws=$(workspace "$1")
	# SIGINT as a terminal's Ctrl+C would send it; the run traps TERM and exits 5
	run as "$1" sh -c "moat run -f --image $TEST_IMAGE -n ctrlc-$1 $ws -- sh -c 'echo started; trap \"echo bye; exit 5\" TERM; while :; do sleep 0.1; done' >/tmp/ctrlc-$1.out 2>/tmp/ctrlc-$1.err &
		pid=\$!; sleep 2; kill -INT \$pid; wait \$pid; echo rc=\$?"
	[ "$output" = rc=5 ]
	run as "$1" cat /tmp/ctrlc-$1.out
	[ "$output" = "$(printf 'started\nbye')" ]
	run as "$1" cat /tmp/ctrlc-$1.err
	[[ "$output" == *"Stopping ctrlc-$1"* ]]
	[[ "${lines[-1]}" =~ ^Run\ ctrlc-$1\ \([0-9a-f]{12}\)\ stopped\ with\ code\ 5$ ]]
	run as "$1" moat inspect --json "ctrlc-$1"
	has_json state '"stopped"'
	as "$1" moat rm "ctrlc-$1"
}
@test "Ctrl+C during run -f stops the run, streams to its end and exits with its code" { each_mode check_ctrl_c; }

check_cli_killed() {
	local ws
	ws=$(workspace "$1")
	as "$1" sh -c "moat run -f --image $TEST_IMAGE -n killcli-$1 $ws -- sh -c 'sleep 2; echo done; exit 6' >/dev/null 2>&1 &
		pid=\$!; sleep 1; kill -KILL \$pid"
	run as "$1" moat wait "killcli-$1"
	[ "$status" -eq 6 ]
	run as "$1" moat logs "killcli-$1"
	[ "$output" = done ]
	as "$1" moat rm "killcli-$1"
}
@test "killing moat run -f leaves the run alone" { each_mode check_cli_killed; }

check_monitor_killed_follow() {
	local ws id=
	ws=$(workspace "$1")
	as "$1" sh -c "moat run -f --image $TEST_IMAGE -n lostmon-$1 $ws -- sleep 1000 >/tmp/lostmon-$1.out 2>&1; echo rc=\$? >>/tmp/lostmon-$1.out" &
	for _ in $(seq 100); do
		id=$(run_id_of "$1" "lostmon-$1")
		[ -n "$id" ] && as "$1" systemctl $(scope_flag "$1") is-active -q "moat-$id" && break
		sleep 0.1
	done
	as "$1" systemctl $(scope_flag "$1") kill --kill-who=main --signal=SIGKILL "moat-$id"
	wait
	run as "$1" cat "/tmp/lostmon-$1.out"
	[[ "$output" == *"Run lostmon-$1 ($id) failed"* ]]
	[ "${lines[-1]}" = rc=125 ]
	as "$1" moat rm "lostmon-$1"
}
@test "a SIGKILLed monitor: run -f ends with a clear message and a non-zero exit" { each_mode check_monitor_killed_follow; }

check_journal_fields() {
	local ws id scope
	ws=$(workspace "$1")
	scope=$(scope_flag "$1")
	id=$(started_id "$(mrun "$1" "$ws" -- sh -c 'echo out-line; echo err-line >&2; exit 2')")
	as "$1" moat wait "$id" || true
	run as "$1" journalctl $scope -u "moat-$id" -o export
	[[ "$output" == *"MOAT_RUN_ID=$id"* ]]
	run as "$1" journalctl $scope MOAT_RUN_ID="$id" MOAT_STREAM=stdout -o cat
	[ "$output" = out-line ]
	run as "$1" journalctl $scope MOAT_RUN_ID="$id" MOAT_STREAM=stderr -o cat
	[ "$output" = err-line ]
	run as "$1" journalctl $scope MOAT_RUN_ID="$id" MOAT_STREAM=stderr -o export
	[[ "$output" == *"PRIORITY=3"* ]]
	run as "$1" journalctl $scope MOAT_RUN_ID="$id" MOAT_EVENT=exit -o export
	[[ "$output" == *"MOAT_EXIT_CODE=2"* ]]
	[[ "$output" == *"MOAT_STATE=exited"* ]]
	as "$1" moat rm "$id"
}
@test "journal entries carry MOAT_RUN_ID, MOAT_STREAM, PRIORITY and an end record" { each_mode check_journal_fields; }
