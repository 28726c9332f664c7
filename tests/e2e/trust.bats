#!/usr/bin/env bats
# The trust model of DESIGN.md, attacked the way an agent inside the container (or another
# local user) would, as root (system manager, rootful podman) and as the test user (user
# manager, rootless podman): nothing the attacker writes widens a later run, reaches the host
# or speaks for moat.

load helpers

setup_file() {
	setup_workspaces
}

# forge_entry FIELDS...: one journal entry of those fields, sent the way the monitor sends its
# own (journald's native socket), by a process that lives on for a second, so that journald
# attributes it to the sender's unit (an exited sender's may be lost; journal-reader.c).
forge_entry() {
	python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto("".join(f + "\n" for f in sys.argv[1:]).encode(), "/run/systemd/journal/socket")
time.sleep(1)' "$@"
}

# forge MODE ID: entries that name run ID, from writers that are not the run's: the user
# nobody (another local user) and, as MODE's own user, a unit that is not the run's.
forge() {
	local mode=$1 id=$2 fields i
	fields=("MOAT_RUN_ID=$id MOAT_STREAM=stdout MOAT_SEQ=1 MESSAGE=forged-line"
		"MOAT_RUN_ID=$id MOAT_EVENT=network-denied MOAT_HOST=forged.example MESSAGE=forged-denied"
		"MOAT_RUN_ID=$id MOAT_EVENT=exit MOAT_STATE=exited MOAT_EXIT_CODE=0 MESSAGE=forged-end")
	for i in "${fields[@]}"; do
		# shellcheck disable=SC2086 # one word per field
		sb runuser -u nobody -- bash -c "$(declare -f forge_entry); forge_entry $i" &
		as "$mode" systemd-run $(scope_flag "$mode") -q --wait --collect \
			bash -c "$(declare -f forge_entry); forge_entry $i" &
	done
	wait
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
	[ "$output" = real-line ] || { echo "logs -f printed: $output" >&2; return 1; }
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

# home_of MODE: the default MOAT_HOME of MODE's runs.
home_of() { [ "$1" = root ] && echo /var/lib/moat || echo /home/moattest/.moat; }

check_mount_of_moat_home() {
	local ws home before
	ws=$(workspace "$1")
	home=$(home_of "$1")
	before=$(count_everything "$1")
	as "$1" mkdir -p "$home/grants"
	# straight, through a symbolic link the agent planted in the workspace, and through ../
	as "$1" rm -f "$ws/.cache-link"
	as "$1" ln -s "$home/grants" "$ws/.cache-link"
	for src in "$home/grants" "$ws/.cache-link" "$ws/../../..$home"; do
		run --separate-stderr mrun "$1" -m "$src:/var/cache/x:ro" "$ws" -- cat /var/cache/x/anything
		[ "$status" -eq 125 ] || { echo "-m $src: status $status: $output $stderr" >&2; return 1; }
		[[ "$stderr" == *"is inside $home, which holds moat's runs, grants or settings"* ]] ||
			{ echo "-m $src: $stderr" >&2; return 1; }
	done
	as "$1" rm -f "$ws/.cache-link"
	[ "$(count_everything "$1")" = "$before" ]
}
@test "MOAT_HOME and the grant store are never a mount's source, however the path leads there" {
	each_mode check_mount_of_moat_home
}

check_workspace_holds_home() {
	local ws home out
	if [ "$1" = root ]; then
		ws=/tmp/ws-root
		home=/tmp/ws-root/moat-home
	else
		ws=/home/moattest
		home=/home/moattest/.moat
	fi
	as "$1" mkdir -p "$home/grants"
	as "$1" sh -c "echo marker-secret > $home/grants/marker"
	run --separate-stderr as "$1" env MOAT_HOME="$home" moat run --image "$TEST_IMAGE" -f "$ws" -- \
		sh -c "ls -A /workspace/${home#"$ws"/}; cat /workspace/${home#"$ws"/}/grants/marker; echo done"
	as "$1" rm -f "$home/grants/marker"
	[ "$status" -eq 0 ] || { echo "status $status: $output $stderr" >&2; return 1; }
	[[ "$output" != *marker-secret* ]]
	[[ "$output" != *runs* ]]
	[[ "$output" == *done* ]]
}
@test "a workspace that contains MOAT_HOME shows it empty inside the container" {
	each_mode check_workspace_holds_home
}

# git_repo MODE DIR: a repository with one commit, made on the host.
git_repo() {
	as "$1" rm -rf "$2"
	as "$1" mkdir -p "$2"
	as "$1" sh -c "cd $2 && git init -q && git -c user.name=t -c user.email=t@t commit -q --allow-empty -m init"
}

check_git_stays_host() {
	local ws pwned
	ws=$(workspace "$1")/repo
	pwned=$(workspace "$1")/pwned
	git_repo "$1" "$ws"
	as "$1" rm -f "$pwned.hook" "$pwned.fsmonitor" "$pwned.commondir"
	run --separate-stderr mrun "$1" -e PWNED="$pwned" -f "$ws" -- sh -c '
		try() { if sh -c "$2" 2>/dev/null; then echo "$1 written"; else echo "$1 refused"; fi; }
		try hook "printf \"#!/bin/sh\ntouch %s.hook\n\" $PWNED > .git/hooks/pre-commit && chmod +x .git/hooks/pre-commit"
		try config "printf \"[core]\n\tfsmonitor = touch %s.fsmonitor\n\" $PWNED >> .git/config"
		try move "mv .git .git-moved"
		try commondir "cp -r .git evil && printf \"[core]\n\tfsmonitor = touch %s.commondir\n\" $PWNED >>evil/config && echo ../evil >.git/commondir"
		echo obj > .git/objects/test-object && echo objects-writable
		echo ref > .git/refs/heads/test.lock && mv .git/refs/heads/test.lock .git/refs/heads/test && echo refs-writable
		echo idx >> .git/index && echo index-writable'
	[[ "$output" == *"hook refused"* ]] || { echo "$output $stderr" >&2; return 1; }
	[[ "$output" == *"config refused"* ]]
	[[ "$output" == *"move refused"* ]]
	[[ "$output" == *"commondir written"* ]]
	[[ "$output" == *objects-writable* ]]
	[[ "$output" == *refs-writable* ]]
	[[ "$output" == *index-writable* ]]
	as "$1" sh -c "cd $ws && git status >/dev/null 2>&1; git -c user.name=t -c user.email=t@t commit -q --allow-empty -m two" || true
	as "$1" test ! -e "$pwned.hook"
	as "$1" test ! -e "$pwned.fsmonitor"
	# .git itself stays writable, so a commondir could be made: it was moved aside when the
	# run ended, before moat run -f returned, and the host's git never followed it
	as "$1" test ! -e "$pwned.commondir"
	as "$1" test -e "$ws/.git/commondir.moat-refused"
	as "$1" test ! -e "$ws/.git/commondir"
	as "$1" rm -rf "$ws"
}
@test "a hook or an fsmonitor written inside the container does not run on the host's next git" {
	each_mode check_git_stays_host
}

# A submodule is a repository the host's `git status` looks into with that repository's own
# config and hooks: .git/modules is read-only inside, and what a run plants in a repository it
# can write (a vendored one registered in the index) is set aside when it ends.
check_submodule_stays_host() {
	local ws pwned g='git -c user.name=t -c user.email=t@t -c protocol.file.allow=always'
	ws=$(workspace "$1")/subrepo
	pwned=$(workspace "$1")/pwned-sub
	git_repo "$1" "$ws"
	as "$1" rm -f "$pwned".*
	as "$1" sh -c "cd $ws && $g init -q vendored && $g -C vendored commit -q --allow-empty -m v &&
		$g add vendored 2>/dev/null && $g init -q lib-src && $g -C lib-src commit -q --allow-empty -m l &&
		$g submodule add -q ./lib-src lib && $g commit -q -m subs"
	run --separate-stderr mrun "$1" -e PWNED="$pwned" -f "$ws" -- sh -c '
		try() { if sh -c "$2" 2>/dev/null; then echo "$1 written"; else echo "$1 refused"; fi; }
		try modules "printf \"[core]\n\tfsmonitor = touch %s.modules\n\" $PWNED >> .git/modules/lib/config"
		try new-module "mkdir .git/modules/evil"
		try vendored "printf \"[core]\n\tfsmonitor = touch %s.vendored\n\" $PWNED >> vendored/.git/config"
		try hook "printf \"#!/bin/sh\ntouch %s.hook\n\" $PWNED > vendored/.git/hooks/post-checkout && chmod +x vendored/.git/hooks/post-checkout"'
	[[ "$output" == *"modules refused"* ]] || { echo "$output $stderr" >&2; return 1; }
	[[ "$output" == *"new-module refused"* ]]
	[[ "$output" == *"vendored written"* ]]
	[[ "$output" == *"hook written"* ]]
	# set aside when the run ended, before moat run -f returned
	as "$1" test -e "$ws/vendored/.git/config.moat-refused"
	as "$1" test -e "$ws/vendored/.git/hooks.moat-refused/post-checkout"
	as "$1" sh -c "cd $ws && git status >/dev/null 2>&1; git -C vendored status >/dev/null 2>&1; git -C lib status >/dev/null 2>&1" || true
	run as "$1" sh -c "ls $pwned.* 2>/dev/null"
	[ -z "$output" ] || { echo "ran on the host: $output" >&2; return 1; }
	# the user's own submodule is untouched, and still works
	as "$1" test -e "$ws/.git/modules/lib/config"
	as "$1" git -C "$ws/lib" log --oneline -1
	as "$1" rm -rf "$ws"
}
@test "a submodule's config or hooks written inside the container do not run on the host's next git" {
	each_mode check_submodule_stays_host
}

check_planted_moat_yaml() {
	local ws home id
	ws=$(workspace "$1")/planted
	home=$(home_of "$1")
	as "$1" rm -rf "$ws"
	as "$1" mkdir -p "$ws" "$home/grants"
	as "$1" sh -c "echo grant-secret > $home/grants/planted-marker"
	# the agent of one run leaves a policy for the next: open network, any host, host
	# variables, and a link to the grant store mounted
	run --separate-stderr mrun "$1" -f "$ws" -- sh -c "ln -s $home/grants .cache-link &&
		printf 'network:\n  policy: open\n  allow: [\"*.evil.example\"]\nenv: {PLANTED: yes}\nmounts: [\".cache-link:/var/cache/x:ro\"]\n' > moat.yaml"
	[ "$status" -eq 0 ] || { echo "$output $stderr" >&2; return 1; }
	# the next plain run does not obey it: one line, naming the file and the approving command
	run --separate-stderr mrun "$1" -f "$ws" -- sh -c 'cat /var/cache/x/planted-marker; echo "PLANTED=$PLANTED"'
	[ "$status" -eq 125 ] || { echo "status $status: $output $stderr" >&2; return 1; }
	[ "$stderr" = "moat: $ws/moat.yaml is not approved (it is new, or changed since you approved it); review it, then approve it with 'moat trust $ws'" ]
	[[ "$output" != *grant-secret* ]]
	# approving shows what it widens; the grant store stays out of reach even then
	run as "$1" moat trust "$ws"
	[ "$status" -eq 0 ]
	[[ "$output" == *"network: open (was: the default)"* ]]
	[[ "$output" == *"allow: *.evil.example"* ]]
	[[ "$output" == *"env: PLANTED=yes"* ]]
	[[ "$output" == *"mount: $ws/.cache-link:/var/cache/x:ro"* ]]
	run --separate-stderr mrun "$1" -f "$ws" -- sh -c 'cat /var/cache/x/planted-marker'
	[ "$status" -eq 125 ]
	[[ "$stderr" == *"is inside $home"* ]]
	# an approved file without the mount is obeyed, until the agent changes it
	as "$1" sh -c "printf 'env: {APPROVED: yes}\n' > $ws/moat.yaml"
	run as "$1" moat trust "$ws"
	[ "$status" -eq 0 ]
	run --separate-stderr mrun "$1" -f "$ws" -- sh -c 'echo "APPROVED=$APPROVED"; echo "env: {APPROVED: agent}" > moat.yaml'
	[ "$status" -eq 0 ]
	[ "$output" = APPROVED=yes ]
	run --separate-stderr mrun "$1" -f "$ws" -- true
	[ "$status" -eq 125 ]
	[[ "$stderr" == *"not approved"* ]]
	run as "$1" moat trust "$ws"
	[[ "$output" == *"env: APPROVED=agent"* ]]
	as "$1" rm -rf "$ws" "$home/grants/planted-marker"
}
@test "a moat.yaml the agent planted is not obeyed until approved; approving is one command" {
	each_mode check_planted_moat_yaml
}
