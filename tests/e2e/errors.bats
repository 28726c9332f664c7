#!/usr/bin/env bats
# The errors a newcomer meets: each one line on stderr that says what was wrong and what to
# do, with podman's exit codes, and nothing left behind — as root (system manager, rootful
# podman) and as the test user (user manager, rootless podman).

load helpers

home_of() { [ "$1" = user ] && echo /home/moattest || echo /root; }

setup_file() {
	setup_workspaces
}

teardown_file() {
	local mode
	for mode in root user; do
		as "$mode" rm -f "$(home_of "$mode")"/.config/moat/providers/nocmd.yaml
	done
}

# expect_error MODE STATUS LINE CMD...: CMD exits STATUS with exactly LINE on stderr, nothing
# on stdout, and leaves no run, container or unit behind.
expect_error() {
	local mode=$1 want_status=$2 want=$3 before after; shift 3
	before=$(count_everything "$mode")
	# (run -N: bats checks the status, and takes 127 for one it expects)
	run "-$want_status" --separate-stderr as "$mode" "$@"
	[ -z "$output" ] || { echo "stdout: $output" >&2; false; }
	[ "$stderr" = "$want" ] || { echo "stderr: $stderr" >&2; echo "want:   $want" >&2; false; }
	after=$(count_everything "$mode")
	[ "$before" = "$after" ] || { echo "left behind: $before -> $after" >&2; false; }
}

check_command_not_found() {
	local ws net mode_flag
	ws=$(workspace "$1")
	for net in open strict; do
		for mode_flag in "" -f -i; do
			expect_error "$1" 127 "moat: command not found in the image $TEST_IMAGE: nosuchcmd" \
				moat run $mode_flag --network "$net" --image "$TEST_IMAGE" "$ws" -- nosuchcmd
		done
		expect_error "$1" 127 "moat: command not found in the image $TEST_IMAGE: /no/such/file" \
			moat run -f --network "$net" --image "$TEST_IMAGE" "$ws" -- /no/such/file
		expect_error "$1" 126 "moat: command cannot be run in the image $TEST_IMAGE (permission denied): /etc/passwd" \
			moat run -f --network "$net" --image "$TEST_IMAGE" "$ws" -- /etc/passwd
	done
	# a provider whose command the image lacks
	as "$1" sh -c "mkdir -p $(home_of "$1")/.config/moat/providers && printf 'image: $TEST_IMAGE\ncommand: [nocmd-agent]\nprompt: [\"{prompt}\"]\n' >$(home_of "$1")/.config/moat/providers/nocmd.yaml"
	expect_error "$1" 127 "moat: command not found in the image $TEST_IMAGE: nocmd-agent" \
		moat nocmd -p hi -f "$ws"
	expect_error "$1" 127 "moat: command not found in the image $TEST_IMAGE: nocmd-agent" \
		moat nocmd -p hi "$ws"
}
@test "a command not in the image: 'command not found in the image', exit 127 (126 when not executable)" {
	each_mode check_command_not_found
}

@test "podman socket hints name the right manager: --system as a user needs root; CONTAINER_HOST says so" {
	local ws=/home/moattest/ws
	expect_error user 125 "moat: cannot connect to podman at /run/podman/podman.sock: Permission denied; the system's podman needs root: run moat as root (sudo) for --system, or leave out --system to use your own rootless podman" \
		moat run --system --image "$TEST_IMAGE" "$ws" -- true
	run -1 sbu moat doctor --system
	grep -qx "FAIL  podman      cannot connect to podman at /run/podman/podman.sock: Permission denied" <<<"$output"
	grep -qx " *fix: the system's podman needs root: .*" <<<"$output"
	! grep -q -- "--user start" <<<"$output"
	for mode in root user; do
		expect_error "$mode" 125 "moat: cannot connect to podman at /run/nowhere.sock: No such file or directory; this socket comes from CONTAINER_HOST: start the podman service that serves it, or unset CONTAINER_HOST" \
			env CONTAINER_HOST=unix:///run/nowhere.sock moat run --image "$TEST_IMAGE" "$(workspace "$mode")" -- true
		run -1 as "$mode" env CONTAINER_HOST=unix:///run/nowhere.sock moat doctor
		grep -qx " *fix: this socket comes from CONTAINER_HOST: .*" <<<"$output"
	done
	# as root, the system's socket is started as root
	run -1 sb env -u CONTAINER_HOST sh -c 'systemctl stop podman.socket podman.service; moat doctor; rc=$?; systemctl start podman.socket; exit $rc'
	grep -qx " *fix: start it with 'systemctl enable --now podman.socket'" <<<"$output"
}

check_workspace_hint() {
	local ws
	ws=$(workspace "$1")
	# from a directory where 'date' is no directory: the word is taken for the workspace
	expect_error "$1" 125 "moat: workspace 'date' does not exist; to run the command 'date', put it after '--' (moat run [OPTIONS] [WORKSPACE] -- date)" \
		sh -c "cd $ws && exec moat run --image $TEST_IMAGE date"
	# a path is no command: no such hint
	expect_error "$1" 125 "moat: workspace '/no/where' does not exist (No such file or directory)" \
		moat run --image "$TEST_IMAGE" /no/where
	# messages of the run store start in lower case, as every other
	run -125 --separate-stderr as "$1" moat inspect no-such-run
	[[ "$stderr" == "moat: there is no run 'no-such-run'"* ]] || { echo "stderr: $stderr" >&2; false; }
}
@test "a workspace that does not exist but could be a command: put it after '--'" { each_mode check_workspace_hint; }

@test "moat help and moat help CMD print the usage; a mistyped command gets 'did you mean'" {
	local want
	want=$(sb moat --help)
	run -0 sb moat help
	[ "$output" = "$want" ]
	for c in list run claude; do
		want=$(sb moat "$c" --help)
		run -0 sb moat help "$c"
		[ "$output" = "$want" ]
		[[ "$output" == "Usage: moat $c"* ]]
	done
	expect_error root 125 "moat: unknown command or provider 'lsit'; did you mean 'list'? ('moat --help' lists the commands)" moat lsit
	expect_error user 125 "moat: unknown command or provider 'cluade'; did you mean 'claude'? ('moat --help' lists the commands)" moat cluade -p hi
	expect_error root 125 "moat: unknown command or provider 'lsit'; did you mean 'list'? ('moat --help' lists the commands)" moat help lsit
	# nothing close: the list of providers, as before
	run -125 --separate-stderr sb moat frobnicate
	[[ "$stderr" == "moat: unknown command or provider 'frobnicate'; providers: "* ]]
}

check_provider_help() {
	local home
	home=$(home_of "$1")
	as "$1" sh -c "mkdir -p $home/.config/moat/providers && printf 'image: $TEST_IMAGE\ncommand: [nocmd-agent]\nprompt: [\"{prompt}\"]\nallow: [example.org]\n' >$home/.config/moat/providers/nocmd.yaml"
	run -0 as "$1" moat nocmd --help
	grep -qx "Its image:   $TEST_IMAGE" <<<"$output"
	grep -qx "             example.org, the hosts given with --allow" <<<"$output"
	grep -qx "      --image IMAGE     the image (default: $TEST_IMAGE)" <<<"$output"
	! grep -q "Its grants" <<<"$output"
	# a shipped agent: its own image and recipe, its grants and how to store them
	run -0 as "$1" moat claude --help
	! grep -q "debian:bookworm-slim" <<<"$output"
	grep -q "^Its image:   localhost/moat/claude:" <<<"$output"
	grep -q "built from its recipe (FROM .*node" <<<"$output"
	grep -q "^Its network: strict unless --network says otherwise" <<<"$output"
	grep -qx "Its grants:  anthropic for api.anthropic.com: 'moat grant add anthropic'" <<<"$output"
	grep -q "      --image IMAGE     the image (default: localhost/moat/claude:" <<<"$output"
}
@test "a provider's --help shows its own image or recipe, grants and network default" { each_mode check_provider_help; }

check_refused_host() {
	local ws id allow_hint
	ws=$(workspace "$1")
	as "$1" moat rm -f "refused-$1" >/dev/null 2>&1 || true
	allow_hint="refused.test is not allowed by this run's network policy (strict); allow it with '--allow refused.test' or under network: allow: in moat.yaml"
	run -0 --separate-stderr as "$1" moat run -f --network strict -n "refused-$1" --image "$TEST_IMAGE" "$ws" -- \
		sh -c 'wget -q -O- http://refused.test/ 2>/dev/null; printf "GET https://api.example.test/v1 HTTP/1.1\r\nHost: api.example.test\r\n\r\n" | nc 127.0.0.1 3128'
	# the terminal says how to allow the refused host, as the container's 403 does
	grep -qxF "moat: the run's proxy refused a connection: $allow_hint" <<<"$stderr" || { echo "stderr: $stderr" >&2; false; }
	# an https URL sent to the proxy as plain HTTP (busybox wget): a 400 that says to use CONNECT
	grep -q "^HTTP/1.1 400 Bad Request" <<<"$output"
	grep -qF "moat: https://api.example.test goes through the proxy only as CONNECT api.example.test:443, not as a plain HTTP request; set HTTPS_PROXY (not only HTTP_PROXY) to the proxy, or use a client that tunnels https through it" <<<"$output" ||
		{ echo "output: $output" >&2; false; }
	# and so does the run's journal line
	id=$(run_id_of "$1" "refused-$1")
	run -0 as "$1" journalctl $(scope_flag "$1") MOAT_RUN_ID="$id" MOAT_EVENT=network-denied -o cat
	[ "$output" = "Refused a connection: $allow_hint" ] || { echo "journal: $output" >&2; false; }
	as "$1" moat rm "$id" >/dev/null
}
@test "a refused host: the terminal and the journal say how to allow it; https as plain HTTP gets a 400 naming CONNECT" {
	each_mode check_refused_host
}

check_list_and_inspect() {
	local ws long id header row
	ws=$(workspace "$1")
	long=n23456789-123456789-123456789-123456789-123456789-123456789-$1
	long=${long:0:63}
	as "$1" moat rm -f "$long" >/dev/null 2>&1 || true
	id=$(started_id "$(mrun "$1" -n "$long" "$ws" -- true)")
	as "$1" moat wait "$id"
	# the columns stay aligned under a 63-character name: ID starts where its header does
	run -0 as "$1" moat list
	header=$(head -n 1 <<<"$output")
	row=$(grep "^$long " <<<"$output")
	[ "${header%%ID *}" != "$header" ]
	[ "${#row}" -gt 63 ]
	# (awk's index is 1-based and points at the space before ID: ID's 0-based offset)
	local at
	at=$(awk '{ print index($0, " ID ") }' <<<"$header")
	[ "${row:$at:12}" = "$id" ] || { echo "header: $header" >&2; echo "row:    $row" >&2; false; }
	# unset limits are no limit, not 0
	run -0 as "$1" moat inspect "$id"
	grep -qx "memory_bytes: no limit" <<<"$output"
	grep -qx "cpus: no limit" <<<"$output"
	as "$1" moat rm "$id" >/dev/null
	id=$(started_id "$(mrun "$1" --memory 64m --cpus 0.5 "$ws" -- true)")
	as "$1" moat wait "$id"
	run -0 as "$1" moat inspect "$id"
	grep -qx "memory_bytes: 67108864" <<<"$output"
	grep -qx "cpus: 0.5" <<<"$output"
	as "$1" moat rm "$id" >/dev/null
}
@test "list keeps its columns for 63-character names; inspect says 'no limit' for unset memory and cpus" {
	each_mode check_list_and_inspect
}

# moat doctor names podman's storage driver; vfs (a rootless podman of the user's, on a
# socket of its own, storing with vfs) gets a warning with its fix, and doctor still passes.
check_storage_driver() {
	local dir=/home/moattest/vfs
	run as "$1" moat doctor
	grep -q "^ok    storage     $( [ "$1" = user ] && echo rootless || echo rootful) podman stores images with the overlay driver$" <<<"$output" ||
		{ echo "$output" >&2; false; }
	[ "$1" = user ] || return 0
	sbu rm -rf "$dir"
	sbu mkdir -p "$dir"
	sbu systemd-run --user -q --collect --unit moat-test-vfs podman --storage-driver vfs --root "$dir/root" \
		--runroot "$dir/run" system service -t 0 "unix://$dir/podman.sock"
	for _ in $(seq 50); do sbu test -S "$dir/podman.sock" && break; sleep 0.1; done
	run sbu env CONTAINER_HOST="unix://$dir/podman.sock" moat doctor
	sbu systemctl --user stop moat-test-vfs
	grep -q "^warn  storage     rootless podman stores images with the vfs driver, " <<<"$output" || { echo "$output" >&2; false; }
	grep -q "fix: set driver = \"overlay\" under \[storage\] in ~/.config/containers/storage.conf" <<<"$output"
	! grep -q "^FAIL" <<<"$output"
}
@test "moat doctor names podman's storage driver, and warns about vfs with the fix" { each_mode check_storage_driver; }
