#!/usr/bin/env bats
# A user manager without moat's journald drop-in in force (the sandbox's second test user):
# journald drops most of a burst, and the run's end record with it.  moat warns before the
# run, says where lines are missing and how many, and still ends with the run's own code.

load helpers

BARE_WS=/home/moatbare

@test "moat run warns that output may be dropped, once, with the fix; the run starts anyway" {
	local uid
	uid=$(sbb id -u)
	run --separate-stderr sbb moat run --image "$TEST_IMAGE" -n warned "$BARE_WS" -- true
	[ "$status" -eq 0 ]
	[[ "$output" == "Started warned ("* ]]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "moat: warning: journald will drop bursts of output from your runs (user@$uid.service "* ]]
	[[ "$stderr" == *"moat's drop-in user@.service.d/moat.conf is read, but your user manager started before it was; fix: log out and in again, or: sudo systemctl restart user@$uid.service" ]]
	sbb moat wait warned
	sbb moat rm warned
}

@test "moat doctor names the drop-in and its fix, and fails" {
	local uid
	uid=$(sbb id -u)
	run sbb moat doctor
	[ "$status" -eq 1 ]
	[[ "$output" == *$'\nFAIL  journald    journald will drop bursts of output from your runs'*"user@.service.d/moat.conf"* ]]
	[[ "$output" == *"fix: log out and in again, or: sudo systemctl restart user@$uid.service"* ]]
	[[ "$output" == "ok    podman      rootless podman "* ]]
	[[ "$output" == *$'\nok    manager     the systemd user manager '* ]]
	[[ "$output" == *$'\nok    subids      moatbare has 65536 subordinate uids and 65536 gids'* ]]
	# the test user's manager has the drop-in in force
	run sbu moat doctor
	[[ "$output" == *$'\nok    journald    user@'*"runs with moat's journald rate limit (1000000000 lines per 1000 ms)"* ]]
}

@test "200,000 lines that journald mostly drops: -f reports the gap and exits 3, logs exits 1, wait and inspect know 3" {
	local id kept dropped
	run --separate-stderr sbb moat run -f --image "$TEST_IMAGE" -n burst-bare "$BARE_WS" -- sh -c 'seq 1 200000; exit 3'
	[ "$status" -eq 3 ]
	kept=${#lines[@]}
	dropped=$((200000 - kept))
	echo "kept $kept of 200000" >&2
	[ "$kept" -gt 0 ] && [ "$kept" -lt 200000 ]
	# what was kept came through byte for byte, in order: the first KEPT lines
	[ "$(printf '%s\n' "${lines[@]}" | md5sum)" = "$(seq 1 "$kept" | md5sum)" ]
	[[ "${stderr_lines[-1]}" =~ ^Run\ burst-bare\ \(([0-9a-f]{12})\)\ exited\ with\ code\ 3\;\ journald\ dropped\ $dropped\ lines\ of\ its\ output$ ]]
	id=${BASH_REMATCH[1]}
	[ "${stderr_lines[-2]}" = "moat: journald dropped $dropped lines of this run here" ]

	run --separate-stderr sbb moat logs "$id"
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq "$kept" ]
	[ "$stderr" = "moat: journald dropped $dropped lines of this run here" ]
	run --separate-stderr sbb moat logs -n 5 "$id"
	[ "$status" -eq 1 ]
	[ "$output" = "$(seq $((kept - 4)) "$kept")" ]
	[ "$stderr" = "moat: journald dropped $dropped lines of this run here" ]

	run sbb moat wait "$id"
	[ "$status" -eq 3 ]
	run sbb moat inspect --json "$id"
	has_json state '"exited"'
	has_json exit_code 3
	has_json output_lines 200000
	sbb moat rm "$id"
}
