#!/usr/bin/env bats
# The sandbox itself: the parts every other e2e test relies on are real and working.

load helpers

@test "the sandbox runs its own systemd as PID 1" {
	run sb cat /proc/1/comm
	[ "$status" -eq 0 ]
	[ "$output" = systemd ]
	run sb systemctl is-system-running
	[ "$output" = running ]
}

@test "a transient system unit's output reaches the journal" {
	unit=smoke-$RANDOM$RANDOM
	run sb systemd-run --quiet --wait --unit "$unit" echo "hello from $unit"
	[ "$status" -eq 0 ]
	run sb journalctl --quiet -u "$unit" -o cat
	[ "$status" -eq 0 ]
	grep -qx "hello from $unit" <<<"$output"
}

@test "a transient user unit's output reaches the user's journal" {
	unit=smoke-$RANDOM$RANDOM
	# the writer stays a moment: a line from a process that has exited may lose its
	# _SYSTEMD_USER_UNIT (systemd issue 2913), which -u matches on
	run sbu systemd-run --user --quiet --wait --unit "$unit" sh -c "echo 'hello from $unit'; sleep 1"
	[ "$status" -eq 0 ]
	# journald may still be writing the entry when the unit has ended.
	for _ in $(seq 50); do
		run sbu journalctl --user --quiet -u "$unit" -o cat
		grep -qx "hello from $unit" <<<"$output" && break
		sleep 0.1
	done
	grep -qx "hello from $unit" <<<"$output"
}

@test "podman answers _ping on the rootful socket" {
	run sb curl -sS --unix-socket /run/podman/podman.sock http://d/_ping
	[ "$status" -eq 0 ]
	[ "$output" = OK ]
}

@test "podman answers _ping on the rootless socket" {
	run sbu sh -c 'curl -sS --unix-socket "$XDG_RUNTIME_DIR/podman/podman.sock" http://d/_ping'
	[ "$status" -eq 0 ]
	[ "$output" = OK ]
	# and it really is the user's own service, not root's
	run sbu sh -c 'curl -sS --unix-socket "$XDG_RUNTIME_DIR/podman/podman.sock" http://d/v4.0.0/libpod/info'
	[[ "$output" == *'"rootless":true'* ]]
}

@test "the test image runs under rootful and rootless podman" {
	run sb podman run --rm "$TEST_IMAGE" sh -c 'echo root:$(id -u)'
	[ "$status" -eq 0 ]
	[ "$output" = root:0 ]
	run sbu podman run --rm "$TEST_IMAGE" sh -c 'echo user:$(id -u)'
	[ "$status" -eq 0 ]
	[ "$output" = user:0 ]
	run sbu podman run --rm --network none "$TEST_IMAGE" true
	[ "$status" -eq 0 ]
}

@test "the installed moat is on PATH for root and the test user" {
	run sb moat --version
	[ "$status" -eq 0 ]
	[[ "$output" == "moat "* ]]
	run sbu moat --version
	[ "$status" -eq 0 ]
	[[ "$output" == "moat "* ]]
}
