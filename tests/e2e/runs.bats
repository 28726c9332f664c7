#!/usr/bin/env bats
# Runs owned by systemd: moat run (fire-and-forget), the monitor, stop, wait, list, inspect,
# rm, clean — as root (system manager, rootful podman) and as the test user (user manager,
# rootless podman).

load helpers

setup_file() {
	setup_workspaces
}

check_fire_and_forget() {
	local ws id start end
	ws=$(workspace "$1")
	start=$(date +%s%N)
	run mrun "$1" "$ws" -- sh -c 'sleep 2; exit 4'
	end=$(date +%s%N)
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^Started\ [a-z0-9_.-]+\ \([0-9a-f]{12}\)\.\ Use\ \'moat\ logs\ [0-9a-f]{12}\ -f\'\ to\ follow\ output\.$ ]]
	id=$(started_id "$output")
	# returns while the container still runs (it sleeps 2 s)
	[ $(((end - start) / 1000000)) -lt 1800 ]
	run as "$1" moat inspect --json "$id"
	has_json state '"running"'
	has_json unit "\"moat-$id.service\""
	run as "$1" moat wait "$id"
	[ "$status" -eq 4 ]
	run as "$1" moat inspect --json "$id"
	has_json state '"exited"'
	has_json exit_code '4'
	has_json container_state 'null'
	assert_no_leftovers "$1" "$id"
}
@test "moat run returns at once; the run goes on, exits 4, and is cleaned up" { each_mode check_fire_and_forget; }

check_workspace_and_env() {
	local ws id
	ws=$(workspace "$1")
	as "$1" sh -c "echo hello-ws > $ws/in.txt"
	run mrun "$1" -e 'GREETING=a b "c"' "$ws" -- sh -c 'cat in.txt; echo "$GREETING" > out.txt; pwd >> out.txt'
	[ "$status" -eq 0 ]
	id=$(started_id "$output")
	run as "$1" moat wait "$id"
	[ "$status" -eq 0 ]
	run as "$1" cat "$ws/out.txt"
	[ "${lines[0]}" = 'a b "c"' ]
	[ "${lines[1]}" = /workspace ]
}
@test "the workspace is /workspace, the working directory; -e reaches the container" { each_mode check_workspace_and_env; }

check_secret_stays_out() {
	local ws id
	ws=$(workspace "$1")
	run mrun "$1" -e MOAT_TEST_SECRET=hunter2-secret "$ws" -- sh -c '[ ${#MOAT_TEST_SECRET} -eq 14 ] && sleep 3'
	id=$(started_id "$output")
	run as "$1" systemctl $(scope_flag "$1") show "moat-$id.service"
	[ "$status" -eq 0 ]
	[[ "$output" == *"MOAT_HOME="* ]]
	[[ "$output" != *hunter2* ]]
	run sb ps -eo args
	[[ "$output" == *"moat-relay $id"* ]]
	[[ "$output" != *hunter2* ]]
	run as "$1" moat inspect --json "$id"
	[[ "$output" != *hunter2* ]]
	[[ "$output" == *MOAT_TEST_SECRET* ]]
	run as "$1" moat wait "$id"
	[ "$status" -eq 0 ]
}
@test "environment values stay out of unit properties, command lines and the record" { each_mode check_secret_stays_out; }

check_resident_relay() {
	local ws id pid ppid cg
	ws=$(workspace "$1")
	run mrun "$1" "$ws" -- sleep 1000
	id=$(started_id "$output")
	# the relay that moat-monitor became hands the main PID to its grandchild and exits
	for _ in $(seq 50); do
		[ "$(sb pgrep -cf "moat-relay $id ")" = 1 ] && break
		sleep 0.1
	done
	[ "$(sb pgrep -cf "moat-relay $id ")" = 1 ]
	pid=$(as "$1" systemctl $(scope_flag "$1") show -P MainPID "moat-$id.service")
	[ "$pid" -gt 0 ]
	run sb readlink "/proc/$pid/exe"
	[[ "$output" == */libexec/moat/moat-relay ]]
	run sb cat "/proc/$pid/maps"
	[[ "$output" == *libsystemd* ]]
	[[ "$output" != *libcurl* ]]
	[[ "$output" != *libcjson* ]]
	# handed over to a grandchild of the manager, so systemd does not call it an alien
	ppid=$(sb awk '/^PPid:/ { print $2 }' "/proc/$pid/status")
	run sb cat "/proc/$ppid/comm"
	[ "$output" = systemd ]
	run as "$1" journalctl $(scope_flag "$1") -u "moat-$id.service" --no-pager
	[[ "$output" != *"not our child"* ]]
	# only moat's own processes live in the unit (it allows them all to notify systemd)
	cg=$(as "$1" systemctl $(scope_flag "$1") show -P ControlGroup "moat-$id.service")
	run sb sh -c "for p in /proc/[0-9]*; do grep -qxF '0::$cg' \$p/cgroup 2>/dev/null && readlink \$p/exe; done; true"
	[ "$status" -eq 0 ]
	[ -n "$output" ]
	[ -z "$(grep -v '/libexec/moat/moat-' <<<"$output")" ]
	run as "$1" moat stop "$id"
	[ "$status" -eq 0 ]
	run as "$1" moat inspect --json "$id"
	has_json state '"stopped"'
	assert_no_leftovers "$1" "$id"
}
@test "while the container runs, the unit's main process is the relay, without libcurl" { each_mode check_resident_relay; }

check_systemctl_stop() {
	local ws id
	ws=$(workspace "$1")
	run mrun "$1" "$ws" -- sleep 1000
	id=$(started_id "$output")
	run as "$1" systemctl $(scope_flag "$1") stop "moat-$id.service"
	[ "$status" -eq 0 ]
	run as "$1" moat inspect --json "$id"
	has_json state '"stopped"'
	has_json stopped_at '"'
	assert_no_leftovers "$1" "$id"
}
@test "systemctl stop stops the container and records stopped" { each_mode check_systemctl_stop; }

check_moat_stop() {
	local ws id
	ws=$(workspace "$1")
	run mrun "$1" -n "stop-me-$1" "$ws" -- sh -c 'trap "exit 3" TERM; while :; do sleep 0.1; done'
	id=$(started_id "$output")
	run as "$1" moat stop "stop-me-$1"
	[ "$status" -eq 0 ]
	run as "$1" moat wait "stop-me-$1"
	[ "$status" -eq 3 ]
	run as "$1" moat inspect --json "$id"
	has_json state '"stopped"'
	has_json exit_code '3'
	assert_no_leftovers "$1" "$id"
	run as "$1" moat stop "stop-me-$1"   # already ended: nothing to do
	[ "$status" -eq 0 ]
}
@test "moat stop by name: graceful, recorded as stopped with the container's code" { each_mode check_moat_stop; }

check_monitor_killed() {
	local ws id
	ws=$(workspace "$1")
	run mrun "$1" "$ws" -- sleep 1000
	id=$(started_id "$output")
	as "$1" systemctl $(scope_flag "$1") kill --kill-who=main --signal=SIGKILL "moat-$id.service"
	for _ in $(seq 100); do
		run as "$1" moat inspect --json "$id"
		has_json state '"failed"' && break
		sleep 0.1
	done
	has_json state '"failed"'
	has_json error '"the monitor ended before the run did: it was killed by signal KILL (signal)"'
	run as "$1" moat wait "$id"
	[ "$status" -eq 125 ]
	[[ "$output" == *"failed: the monitor ended before the run did"* ]]
	assert_no_leftovers "$1" "$id"
}
@test "a SIGKILLed monitor still gets cleanup: failed, with the reason, no container" { each_mode check_monitor_killed; }

check_keep() {
	local ws id
	ws=$(workspace "$1")
	run mrun "$1" --keep "$ws" -- sh -c 'exit 6'
	id=$(started_id "$output")
	run as "$1" moat wait "$id"
	[ "$status" -eq 6 ]
	run as "$1" podman inspect --format '{{.Name}} {{.State.Status}} {{.State.ExitCode}}' "moat-$id"
	[ "$output" = "moat-$id exited 6" ]
	run as "$1" moat rm "$id"
	[ "$status" -eq 0 ]
	assert_no_leftovers "$1" "$id"
	run as "$1" moat inspect "$id"
	[ "$status" -eq 125 ]
}
@test "--keep keeps the container until moat rm" { each_mode check_keep; }

check_back_to_back() {
	local ws i ids=() before after
	ws=$(workspace "$1")
	before=$(count_everything "$1")
	for i in $(seq 1 50); do
		run mrun "$1" "$ws" -- sh -c "exit $i"
		[ "$status" -eq 0 ]
		ids+=("$(started_id "$output")")
	done
	for i in $(seq 1 50); do
		run as "$1" moat wait "${ids[$((i - 1))]}"
		[ "$status" -eq "$i" ] || { echo "run $i exited $status" >&2; false; }
	done
	for i in $(seq 0 49); do assert_no_leftovers "$1" "${ids[$i]}"; done
	run as "$1" moat rm "${ids[@]}"
	[ "$status" -eq 0 ]
	after=$(count_everything "$1")
	[ "$before" = "$after" ]
}
@test "50 runs back to back: right exit codes, nothing leaked" { each_mode check_back_to_back; }

check_list_and_resolve() {
	local ws a b
	ws=$(workspace "$1")
	a=$(started_id "$(mrun "$1" -n "list-a-$1" "$ws" -- true)")
	b=$(started_id "$(mrun "$1" -n "list-b-$1" "$ws" -- sh -c 'exit 2')")
	as "$1" moat wait "$a"
	run as "$1" moat wait "$b"
	run as "$1" moat list
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "NAME "*"ID "*"STATE "*"EXIT "*"AGE "*"IMAGE"* ]]
	# newest first
	[[ "${lines[1]}" == "list-b-$1 "*"$b "*"exited "*" 2 "* ]]
	[[ "${lines[2]}" == "list-a-$1 "*"$a "*"exited "*" 0 "* ]]
	run as "$1" moat inspect "${a:0:8}"   # a unique prefix
	[ "$status" -eq 0 ]
	[[ "$output" == *"name: list-a-$1"* ]]
	run as "$1" moat inspect no-such-run
	[ "$status" -eq 125 ]
	[[ "$output" == *"no-such-run"* ]]
	run as "$1" moat rm "list-a-$1" "list-b-$1"
	[ "$status" -eq 0 ]
}
@test "list is newest first; a run is found by name, id prefix or id" { each_mode check_list_and_resolve; }

check_rm_refuses_live() {
	local ws id
	ws=$(workspace "$1")
	id=$(started_id "$(mrun "$1" "$ws" -- sleep 1000)")
	run as "$1" moat rm "$id"
	[ "$status" -eq 125 ]
	[[ "$output" == *"is still running; stop it first"* ]]
	run as "$1" moat rm -f "$id"
	[ "$status" -eq 0 ]
	assert_no_leftovers "$1" "$id"
	run as "$1" moat inspect "$id"
	[ "$status" -eq 125 ]
}
@test "rm refuses a live run without -f" { each_mode check_rm_refuses_live; }

check_clean() {
	local ws id orphan
	ws=$(workspace "$1")
	id=$(started_id "$(mrun "$1" --keep "$ws" -- true)")
	as "$1" moat wait "$id"
	# a container whose run is gone
	orphan=$(as "$1" podman create --label moat.run-id=0123456789ab "$TEST_IMAGE" true)
	run as "$1" moat clean
	[ "$status" -eq 0 ]
	[[ "$output" == "Removed "*" run"*", "*" orphaned container"*" and "*" old agent image"* ]]
	run as "$1" moat list --json
	[ "$output" = "[]" ]
	run as "$1" podman ps -a -q --filter label=moat.run-id
	[ -z "$output" ]
}
@test "clean removes ended runs and orphaned containers" { each_mode check_clean; }

# Bad input: one line on stderr, exit 125, and nothing left behind.
check_refused() {
	local mode=$1 want=$2 before after; shift 2
	before=$(count_everything "$mode")
	run --separate-stderr as "$mode" "$@"
	[ "$status" -eq 125 ] || { echo "exit $status for: $*" >&2; false; }
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 1 ] || { echo "stderr: $stderr" >&2; false; }
	[[ "$stderr" == "moat: "*"$want"* ]] || { echo "stderr: $stderr; want: $want" >&2; false; }
	after=$(count_everything "$mode")
	[ "$before" = "$after" ] || { echo "left behind: $before -> $after" >&2; false; }
}

check_bad_input() {
	local ws before
	ws=$(workspace "$1")
	# a missing image is pulled, as podman run does: one that cannot be ends with podman's reason
	before=$(count_everything "$1")
	run --separate-stderr as "$1" moat run --image localhost/nope:1 "$ws" -- true
	[ "$status" -eq 125 ]
	[ -z "$output" ]
	[[ "$(tail -n 1 <<<"$stderr")" == "moat: cannot pull localhost/nope:1: "* ]] || { echo "stderr: $stderr" >&2; false; }
	[ "$(count_everything "$1")" = "$before" ]
	check_refused "$1" "invalid run name 'Bad/Name'" moat run --image "$TEST_IMAGE" -n Bad/Name "$ws" -- true
	check_refused "$1" "invalid run name" moat run --image "$TEST_IMAGE" -n ../x "$ws" -- true
	as "$1" moat run --image "$TEST_IMAGE" -n "taken-$1" "$ws" -- true >/dev/null
	as "$1" moat wait "taken-$1"   # ended, but its record keeps the name
	check_refused "$1" "the name 'taken-$1' is already taken" moat run --image "$TEST_IMAGE" -n "taken-$1" "$ws" -- true
	as "$1" moat rm "taken-$1"
	check_refused "$1" "mount source '/no/such/dir' does not exist" moat run --image "$TEST_IMAGE" -m /no/such/dir:/x "$ws" -- true
	check_refused "$1" "invalid environment 'NOVALUE'" moat run --image "$TEST_IMAGE" -e NOVALUE "$ws" -- true
	check_refused "$1" "invalid environment variable name" moat run --image "$TEST_IMAGE" -e '1A=b' "$ws" -- true
	check_refused "$1" "cannot connect to podman at /run/nowhere.sock" \
		env CONTAINER_HOST=unix:///run/nowhere.sock moat run --image "$TEST_IMAGE" "$ws" -- true
	check_refused "$1" "unknown option '--frobnicate'" moat run --frobnicate "$ws" -- true
	check_refused "$1" "invalid --memory 'lots'" moat run --memory lots "$ws" -- true
	check_refused "$1" "workspace '/no/where' does not exist" moat run --image "$TEST_IMAGE" /no/where -- true
}
@test "bad input: a clear error, exit 125, nothing left behind" { each_mode check_bad_input; }

@test "an unreachable systemd manager: a clear error, nothing left behind" {
	check_refused user "cannot reach the systemd user manager" \
		env DBUS_SESSION_BUS_ADDRESS=unix:path=/run/nowhere XDG_RUNTIME_DIR=/run/user/$(id -u moattest) \
		moat run --image "$TEST_IMAGE" /home/moattest/ws -- true
}

check_podman_idle_exit() {
	local ws id
	ws=$(workspace "$1")
	id=$(started_id "$(mrun "$1" "$ws" -- sh -c 'sleep 7; exit 3')")
	# podman.service exits after 5 s idle; the monitor's wait must survive that
	run as "$1" moat wait "$id"
	[ "$status" -eq 3 ]
	assert_no_leftovers "$1" "$id"
}
@test "the podman service's idle exit mid-run does not lose the exit" { each_mode check_podman_idle_exit; }

check_podman_restart() {
	local ws id
	ws=$(workspace "$1")
	id=$(started_id "$(mrun "$1" "$ws" -- sh -c 'sleep 3; exit 8')")
	sleep 1
	as "$1" systemctl $(scope_flag "$1") restart podman.service
	run as "$1" moat wait "$id"
	[ "$status" -eq 8 ]
	assert_no_leftovers "$1" "$id"
}
@test "a podman restart mid-run does not lose the exit" { each_mode check_podman_restart; }

@test "moat --help lists the commands that work; --version prints the version" {
	run sb moat --help
	[ "$status" -eq 0 ]
	for c in run logs stop wait list inspect rm clean providers; do
		grep -q "^  $c " <<<"$output"
	done
	for c in run logs stop wait list inspect rm clean providers; do
		run sb moat "$c" --help
		[ "$status" -eq 0 ]
		[[ "$output" == "Usage: moat $c"* ]]
		run sb man -w "moat-$c"
		[ "$status" -eq 0 ]
	done
	run sb moat no-such-command
	[ "$status" -eq 125 ]
	[[ "$output" == "moat: unknown command or provider 'no-such-command'; providers: claude, codex, "*"gemini; 'moat --help' lists the commands" ]]
}
