#!/usr/bin/env bats
# lib/podman.c against the real podman service, rootful (as root) and rootless (as the test
# user), through tests/podman-probe: one probe subcommand per client call.

load helpers

PROBE=/run/moat-sandbox/bin/podman-probe

setup_file() {
	# A registry on the sandbox's loopback to pull from; nothing outside is reachable.
	sb systemctl start moat-test-registry
	for _ in $(seq 50); do
		sb curl -sf http://127.0.0.1:5000/v2/ >/dev/null && break
		sleep 0.1
	done
	sb podman push -q "$TEST_IMAGE" localhost:5000/moat-probe:latest
}

check_ping() {
	run as "$1" "$PROBE" ping
	[ "$status" -eq 0 ]
	[[ "$output" == 4.* ]]
}
@test "ping reports the libpod API version" { each_mode check_ping; }

check_unreachable() {
	run as "$1" env CONTAINER_HOST=unix:///run/nowhere/podman.sock "$PROBE" ping
	[ "$status" -eq 1 ]
	[[ "$output" == *"/run/nowhere/podman.sock"* ]]
	[[ "$output" == *"No such file or directory"* ]]
	[[ "$output" == *"this socket comes from CONTAINER_HOST: start the podman service that serves it"* ]]
	[ "${#lines[@]}" -eq 1 ]
}
@test "an unreachable socket names the path, the errno and the fix" { each_mode check_unreachable; }

@test "CONTAINER_HOST other than unix:// is refused" {
	run sb env CONTAINER_HOST=tcp://127.0.0.1:8080 "$PROBE" ping
	[ "$status" -eq 1 ]
	[[ "$output" == *"CONTAINER_HOST=tcp://127.0.0.1:8080 is not supported"* ]]
}

@test "the socket follows XDG_RUNTIME_DIR rootless and /run/podman rootful" {
	run sb "$PROBE" socket
	[ "$output" = /run/podman/podman.sock ]
	run sbu "$PROBE" socket
	[ "$output" = "/run/user/$(id -u moattest)/podman/podman.sock" ]
	run sbu env CONTAINER_HOST=unix:///x/y.sock "$PROBE" socket
	[ "$output" = /x/y.sock ]
}

check_exists() {
	run as "$1" "$PROBE" exists "$TEST_IMAGE"
	[ "$status" -eq 0 ]
	[ "$output" = yes ]
	run as "$1" "$PROBE" exists localhost/no-such-image:1
	[ "$status" -eq 3 ]
	[ "$output" = no ]
	# a name cannot climb out of its path segment into another endpoint
	run as "$1" "$PROBE" exists "../../_ping"
	[ "$output" = no ]
	run as "$1" "$PROBE" exists ".."
	[ "$status" -eq 1 ]
}
@test "image exists: yes, no, and names kept inside their URL segment" { each_mode check_exists; }

check_pull() {
	as "$1" podman rmi -f localhost:5000/moat-probe:latest >/dev/null 2>&1 || true
	run as "$1" "$PROBE" pull localhost:5000/moat-probe:latest
	[ "$status" -eq 0 ]
	[[ "$output" == *"progress: Trying to pull localhost:5000/moat-probe:latest..."* ]]
	[[ "$output" == *"progress: Writing manifest to image destination"* ]]
	[[ "${lines[-1]}" =~ ^[0-9a-f]{64}$ ]]
	run as "$1" "$PROBE" exists localhost:5000/moat-probe:latest
	[ "$output" = yes ]
}
@test "pull streams progress and returns the image id" { each_mode check_pull; }

check_pull_late_error() {
	# podman answers 200 and reports the failure inside the stream
	run as "$1" "$PROBE" pull localhost:5999/nothing:here
	[ "$status" -eq 1 ]
	[[ "$output" == *"progress: Trying to pull localhost:5999/nothing:here"* ]]
	[[ "${lines[-1]}" == "podman-probe: cannot pull localhost:5999/nothing:here: "*"connection refused"* ]]
}
@test "a pull that fails after HTTP 200 is an error" { each_mode check_pull_late_error; }

check_run_cycle() {
	local id
	run as "$1" "$PROBE" create -l moat.run-id=probe1 -e "GREETING=a \"quoted\" value" -w /tmp \
		"$TEST_IMAGE" sh -c 'echo "$GREETING in $(pwd)"; echo to-stderr >&2; exit 4'
	[ "$status" -eq 0 ]
	id=$output
	[[ "$id" =~ ^[0-9a-f]{64}$ ]]
	run as "$1" "$PROBE" start "$id"
	[ "$status" -eq 0 ]
	run as "$1" "$PROBE" wait "$id"
	[ "$status" -eq 0 ]
	[ "$output" = 4 ]
	run as "$1" "$PROBE" inspect "$id"
	[ "$output" = "status=exited running=0 exit_code=4 oom_killed=0" ]
	# stdout and stderr come back apart
	run --separate-stderr as "$1" "$PROBE" logs "$id"
	[ "$status" -eq 0 ]
	[ "$output" = 'a "quoted" value in /tmp' ] || { echo "stdout: $output; stderr: $stderr" >&2; false; }
	[ "$stderr" = to-stderr ]
	run as "$1" "$PROBE" rm "$id"
	[ "$status" -eq 0 ]
	run as "$1" "$PROBE" inspect "$id"
	[ "$status" -eq 3 ]
	run as "$1" "$PROBE" rm "$id"
	[ "$status" -eq 3 ]
}
@test "create, start, wait, inspect, logs, remove" { each_mode check_run_cycle; }

check_errors_carry_message() {
	run as "$1" "$PROBE" start no-such-container
	[ "$status" -eq 1 ]
	[ "$output" = 'podman-probe: no container with name or ID "no-such-container" found: no such container' ]
	run as "$1" "$PROBE" create localhost/no-such-image:1 true
	[ "$status" -eq 1 ]
	[[ "$output" == "podman-probe: cannot create the container: "*"no-such-image"* ]]
}
@test "non-2xx replies become errors carrying podman's message" { each_mode check_errors_carry_message; }

check_logs_follow() {
	local id
	id=$(as "$1" "$PROBE" create "$TEST_IMAGE" sh -c 'for i in 1 2 3; do echo line$i; sleep 0.2; done; seq 1 20000')
	as "$1" "$PROBE" start "$id"
	run as "$1" "$PROBE" logs -f "$id"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = line1 ]
	[ "${lines[2]}" = line3 ]
	[ "${#lines[@]}" -eq 20003 ]
	[ "${lines[-1]}" = 20000 ]
	as "$1" "$PROBE" rm -f "$id"
}
@test "logs -f streams until the container exits, every line" { each_mode check_logs_follow; }

check_stop_kill() {
	local id
	# a TERM trap: stop's grace lets it exit by itself
	id=$(as "$1" "$PROBE" create "$TEST_IMAGE" sh -c 'trap "exit 42" TERM; while :; do sleep 0.1; done')
	as "$1" "$PROBE" start "$id"
	run as "$1" "$PROBE" stop "$id" 10
	[ "$status" -eq 0 ]
	run as "$1" "$PROBE" wait "$id"
	[ "$output" = 42 ]
	run as "$1" "$PROBE" stop "$id" 10   # 304: already stopped is fine
	[ "$status" -eq 0 ]
	as "$1" "$PROBE" rm "$id"

	id=$(as "$1" "$PROBE" create "$TEST_IMAGE" sleep 1000)
	as "$1" "$PROBE" start "$id"
	run as "$1" "$PROBE" start "$id"   # 304: already running is fine
	[ "$status" -eq 0 ]
	run as "$1" "$PROBE" kill "$id" SIGKILL
	[ "$status" -eq 0 ]
	run as "$1" "$PROBE" wait "$id"
	[ "$output" = 137 ]
	as "$1" "$PROBE" rm "$id"
}
@test "stop with grace, kill with a signal" { each_mode check_stop_kill; }

check_resize() {
	local id
	id=$(as "$1" "$PROBE" create -t -i "$TEST_IMAGE" sleep 1000)
	run as "$1" "$PROBE" resize "$id" 30 100   # not running yet: podman refuses
	[ "$status" -eq 1 ]
	[[ "$output" == *"can only resize created or running containers"* ]] ||
		[[ "$output" == *"container state improper"* ]]
	as "$1" "$PROBE" start "$id"
	run as "$1" "$PROBE" resize "$id" 30 100
	[ "$status" -eq 0 ]
	as "$1" "$PROBE" rm -f "$id"
}
@test "resize a terminal container" { each_mode check_resize; }

check_list() {
	local a b
	a=$(as "$1" "$PROBE" create -n "probe-list-a-$1" -l moat.run-id=aaa111 "$TEST_IMAGE" true)
	b=$(as "$1" "$PROBE" create -n "probe-list-b-$1" -l other=1 "$TEST_IMAGE" true)
	run as "$1" "$PROBE" list moat.run-id
	[ "$status" -eq 0 ]
	[[ "$output" == *"$a probe-list-a-$1 "*" aaa111"* ]]
	[[ "$output" != *"$b"* ]]
	run as "$1" "$PROBE" list moat.run-id=aaa111
	[ "${#lines[@]}" -eq 1 ]
	as "$1" "$PROBE" rm -f "$a"
	as "$1" "$PROBE" rm -f "$b"
}
@test "list by label" { each_mode check_list; }

check_connection_lost() {
	local id scope=
	[ "$1" = user ] && scope=--user
	id=$(as "$1" "$PROBE" create "$TEST_IMAGE" sh -c 'sleep 3; exit 9')
	as "$1" "$PROBE" start "$id"
	# podman dies while a wait is in flight: the wait must say so, not invent an exit
	as "$1" sh -c "$PROBE wait $id >/tmp/wait-$1.out 2>&1; echo \$? >/tmp/wait-$1.rc" &
	sleep 1
	as "$1" systemctl $scope kill --kill-who=main --signal=SIGKILL podman.service
	wait
	run as "$1" cat "/tmp/wait-$1.rc" "/tmp/wait-$1.out"
	[ "${lines[0]}" = 4 ] || { echo "wait said: $output" >&2; false; }
	[[ "${lines[1]}" == *"connection to podman at "*" lost"* ]]
	# the container outlived the service; the next request activates it again and a new
	# wait gets the real exit code
	run as "$1" "$PROBE" wait "$id"
	[ "$status" -eq 0 ]
	[ "$output" = 9 ]
	as "$1" "$PROBE" rm -f "$id"
}
@test "podman killed during wait: a lost connection, not an exit" { each_mode check_connection_lost; }

check_graceful_restart() {
	local id scope=
	[ "$1" = user ] && scope=--user
	id=$(as "$1" "$PROBE" create "$TEST_IMAGE" sh -c 'sleep 2; exit 7')
	as "$1" "$PROBE" start "$id"
	as "$1" sh -c "$PROBE wait $id >/tmp/wait-$1.out 2>&1; echo \$? >>/tmp/wait-$1.out" &
	sleep 0.5
	# a restart lets the in-flight wait finish first
	as "$1" systemctl $scope restart podman.service
	wait
	run as "$1" cat "/tmp/wait-$1.out"
	[ "${lines[0]}" = 7 ]
	[ "${lines[1]}" = 0 ]
	as "$1" "$PROBE" rm -f "$id"
}
@test "podman restarted during wait: the wait still gets the exit" { each_mode check_graceful_restart; }

check_idle_exit() {
	local id
	id=$(as "$1" "$PROBE" create "$TEST_IMAGE" sh -c 'sleep 7; exit 5')
	as "$1" "$PROBE" start "$id"
	# the service exits after 5 s idle and is socket-activated again by the next request
	sleep 6.5
	run as "$1" "$PROBE" wait "$id"
	[ "$status" -eq 0 ]
	[ "$output" = 5 ]
	as "$1" "$PROBE" rm -f "$id"
}
@test "the service's idle exit does not lose the container's exit" { each_mode check_idle_exit; }
