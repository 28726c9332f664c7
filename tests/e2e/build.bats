#!/usr/bin/env bats
# Agents' images built on demand from their provider's recipe, through podman's build
# endpoint: once, never again while the recipe stands, anew when it changes; a failing step
# named; progress on a terminal; any other missing image pulled — as root (rootful podman)
# and as the test user (rootless).

load helpers

TMUX_SOCKET=moat-e2e-build

home_of() { [ "$1" = user ] && echo /home/moattest || echo /root; }

# The base image comes from the sandbox's registry, so that pulls are part of the builds.
BASE=localhost:5000/moat-base:latest

setup_file() {
	setup_workspaces
	sb systemctl start moat-test-registry
	for _ in $(seq 50); do sb curl -fs http://127.0.0.1:5000/v2/ >/dev/null && break; sleep 0.1; done
	sb podman push -q "$TEST_IMAGE" "$BASE"
}

teardown() {
	tx kill-server 2>/dev/null || true
}

# The test providers go with the file: other files list the providers.
teardown_file() {
	local mode
	for mode in root user; do
		as "$mode" sh -c "rm -f $(home_of "$mode")/.config/moat/providers/bb*.yaml"
	done
}

# provider MODE NAME RUN-COMMAND...: a provider built from the test image with these steps,
# whose agent prints /marker.
provider() {
	local mode=$1 name=$2 dir
	shift 2
	dir=$(home_of "$mode")/.config/moat/providers
	{
		echo "build:"
		echo "  from: $BASE"
		echo "  run:"
		# each a YAML single-quoted string: a command may start with ': ' or '- '
		for step; do printf "    - '%s'\n" "${step//\'/\'\'}"; done
		echo "command: [cat, /marker]"
	} | as "$mode" sh -c "mkdir -p $dir && cat >$dir/$name.yaml"
}

# The image a provider's runs use, as moat providers says.
image_of() {
	as "$1" moat providers | awk -v n="$2" '$1 == n { print $2 }'
}

# gated MODE DIR CMD...: CMD with moat talking to podman through a podman-gate, which marks
# the first build request that passes (DIR/held) and is let go at once; sets status, output
# and stderr as bats' run does.
gated() {
	local mode=$1 dir=$2
	shift 2
	gate_start "$mode" moat-test-gate-build "$dir" /libpod/build request
	as "$mode" sh -c "CONTAINER_HOST=unix://$dir/gate.sock $* >$dir/out 2>$dir/err; echo \$? >$dir/rc" &
	for _ in $(seq 300); do
		as "$mode" test -e "$dir/held" && as "$mode" touch "$dir/release"
		as "$mode" test -e "$dir/rc" && break
		sleep 0.2
	done
	wait
	as "$mode" systemctl $(scope_flag "$mode") stop moat-test-gate-build
	status=$(as "$mode" cat "$dir/rc")
	output=$(as "$mode" cat "$dir/out")
	stderr=$(as "$mode" cat "$dir/err")
}

check_built_once() {
	local ws image image2 dir
	ws=$(workspace "$1")
	provider "$1" bb 'echo built-1 > /marker'
	image=$(image_of "$1" bb)
	[[ "$image" =~ ^localhost/moat/bb:[0-9a-f]{12}$ ]]
	as "$1" sh -c "podman rmi -f $image $BASE >/dev/null 2>&1 || true"

	# missing: built (the base image pulled on the way), then run
	run --separate-stderr as "$1" moat bb "$ws" -f
	[ "$status" -eq 0 ] || { echo "$stderr" >&2; false; }
	[ "$output" = built-1 ]
	[[ "$stderr" == *"Building $image for provider bb"* ]]
	[[ "$stderr" == *"STEP 1/4: FROM $BASE"*"Trying to pull $BASE..."*"STEP 2/4: RUN echo built-1 > /marker"* ]]
	[[ "$stderr" == *"Built $image for provider bb"* ]]
	run as "$1" podman image inspect --format '{{index .Labels "io.moat.recipe"}} {{index .Labels "io.moat.provider"}}' "$image"
	[[ "$output" =~ ^sha256:${image##*:}[0-9a-f]{52}\ bb$ ]]

	# present: no build request reaches podman
	dir=$(workspace "$1")/gate-build
	gated "$1" "$dir" moat bb "$ws" -f
	[ "$status" -eq 0 ] || { echo "$stderr" >&2; false; }
	[ "$output" = built-1 ]
	[[ "$stderr" != *Build* ]]
	run as "$1" test -e "$dir/held"
	[ "$status" -ne 0 ]

	# a changed recipe is another image, built
	provider "$1" bb 'echo built-2 > /marker'
	image2=$(image_of "$1" bb)
	[ "$image2" != "$image" ]
	as "$1" sh -c "podman rmi -f $image2 >/dev/null 2>&1 || true"
	gated "$1" "$dir" moat bb "$ws" -f
	[ "$status" -eq 0 ] || { echo "$stderr" >&2; false; }
	[ "$output" = built-2 ]
	[[ "$stderr" == *"Built $image2 for provider bb"* ]]
	run as "$1" test -e "$dir/held"
	[ "$status" -eq 0 ] # the gate saw the build request

	# moat build: on request, from the cache, the base image pulled only with --pull; the
	# image's name on stdout
	run --separate-stderr as "$1" moat build bb
	[ "$status" -eq 0 ]
	[ "$output" = "$image2" ]
	[[ "$stderr" != *"Trying to pull"* ]]
	run --separate-stderr as "$1" moat build --pull --no-cache bb
	[ "$status" -eq 0 ]
	[ "$output" = "$image2" ]
	[[ "$stderr" == *"Trying to pull $BASE..."* ]]
	as "$1" podman rmi -f "$image" "$image2" >/dev/null
}
@test "an agent's image: built when missing, not again, anew for a changed recipe; moat build" {
	each_mode check_built_once
}

check_failing_step() {
	local ws image before after
	ws=$(workspace "$1")
	provider "$1" bbfail 'echo built > /marker' 'echo first words; echo last words; exit 3' 'echo never'
	image=$(image_of "$1" bbfail)
	before=$(as "$1" moat list --json | { grep -c "\"id\":" || true; })
	run --separate-stderr as "$1" moat bbfail "$ws" -f
	[ "$status" -eq 125 ]
	[ -z "$output" ]
	# off a terminal the output came as it was, then one error naming the step
	[[ "$stderr" == *$'\nfirst words\nlast words\n'* ]]
	[ "$(tail -n 1 <<<"$stderr")" = "moat: building the image of provider bbfail failed at step 3/6 (RUN echo first words; echo last words; exit 3): while running runtime: exit status 3" ]
	[[ "$stderr" != *"echo never"* ]]
	# nothing half-built carries the name; no run, no container of the step
	run as "$1" podman image exists "$image"
	[ "$status" -eq 1 ]
	after=$(as "$1" moat list --json | { grep -c "\"id\":" || true; })
	[ "$before" = "$after" ]
	run as "$1" podman ps -a --storage --format '{{.Image}}'
	[[ "$output" != *bbfail* ]]
	[ "$(as "$1" podman ps -a --storage -q | wc -l)" = "$(as "$1" podman ps -a -q | wc -l)" ]
	# moat build says the same
	run --separate-stderr as "$1" moat build bbfail
	[ "$status" -eq 125 ]
	[ -z "$output" ]
	[[ "$(tail -n 1 <<<"$stderr")" == "moat: building the image of provider bbfail failed at step 3/6 ("* ]]
	# a recipe that cannot be one: refused before podman is asked
	provider "$1" bbfail ''
	run --separate-stderr as "$1" moat bbfail "$ws" -f
	[ "$status" -eq 125 ]
	[[ "$stderr" == "moat: "*"build.run item 1 is empty" ]]
}
@test "a failing RUN step: one error naming the step, its output; no image, no run" { each_mode check_failing_step; }

# On a terminal: one status line rewritten in place ([N/M], the instruction, the last line),
# in bold unless NO_COLOR; a failure prints the step's last lines, then the error.
check_terminal_progress() {
	local as_user= pane=b-$1 long line
	[ "$1" = user ] && as_user=--user
	long=$(printf 'x%.0s' $(seq 150))
	provider "$1" bbtty 'echo progress-line; sleep 3' ": $long; echo long-step; sleep 3" 'echo tail-a; echo tail-b; exit 4'
	pane_start "$pane"
	tx send-keys -t "$pane" "$SANDBOX exec $as_user moat build --no-cache bbtty; echo EXIT=\$?" Enter
	wait_pane "$pane" '^\[2/6\] RUN echo progress-line; sleep 3: progress-line'
	tx capture-pane -p -e -t "$pane" | grep -qF $'\e[1m[2/6]'
	# one status line: podman's STEP lines never reach the screen
	! tx capture-pane -p -t "$pane" | grep -q 'STEP '
	# a step longer than the terminal is cut to fit on its one line
	wait_pane "$pane" '^\[3/6\] RUN : xxxx'
	run tx capture-pane -p -t "$pane"
	line=$(grep '^\[3/6\]' <<<"$output")
	[ "${#line}" -le 99 ]
	[[ "$output" != *long-step* ]] # no room left for the output after it
	[[ "$(grep -A1 '^\[3/6\]' <<<"$output" | tail -n 1)" != x* ]] # nothing wrapped
	wait_pane "$pane" '^EXIT=125$'
	run tx capture-pane -p -J -t "$pane"
	[[ "$output" == *$'moat: the last lines of step 4\'s output:\n  tail-a\n  tail-b\nmoat: building the image of provider bbtty failed at step 4/6 (RUN echo tail-a; echo tail-b; exit 4): while running runtime: exit status 4\nEXIT=125'* ]]
	[[ "$output" != *"[4/6]"* ]] # the status line was cleared
	# NO_COLOR: the same line, no escape
	tx send-keys -t "$pane" "clear; $SANDBOX exec $as_user env NO_COLOR=1 moat build --no-cache bbtty; echo EXIT=\$?" Enter
	wait_pane "$pane" '^\[2/6\] RUN echo progress-line; sleep 3: progress-line'
	! tx capture-pane -p -e -t "$pane" | grep -qF $'\e[1m'
	wait_pane "$pane" '^EXIT=125$'
}
@test "on a terminal: one status line in place, bold unless NO_COLOR; a failure's last lines" { each_mode check_terminal_progress; }

check_pull() {
	local ws image=localhost:5000/moat-pulled:latest
	ws=$(workspace "$1")
	sb podman push -q "$TEST_IMAGE" "$image"
	as "$1" sh -c "podman rmi -f $image >/dev/null 2>&1 || true"
	run --separate-stderr as "$1" moat run -f --image "$image" "$ws" -- echo ran
	[ "$status" -eq 0 ] || { echo "$stderr" >&2; false; }
	[ "$output" = ran ]
	[[ "$stderr" == *"Trying to pull $image..."* ]]
	run as "$1" podman image exists "$image"
	[ "$status" -eq 0 ]
	# present: not pulled again
	run --separate-stderr as "$1" moat run -f --image "$image" "$ws" -- echo ran
	[ "$output" = ran ]
	[[ "$stderr" != *"Trying to pull"* ]]
	as "$1" podman rmi -f "$image" >/dev/null
}
@test "moat run pulls a missing image, with its progress, as podman run does" { each_mode check_pull; }

check_clean_images() {
	local ws old new id
	ws=$(workspace "$1")
	provider "$1" bbclean 'echo one > /marker'
	old=$(as "$1" moat build bbclean 2>/dev/null)
	provider "$1" bbclean 'echo two > /marker'
	new=$(as "$1" moat build bbclean 2>/dev/null)
	[ -n "$old" ] && [ -n "$new" ] && [ "$old" != "$new" ]
	# an old image a run still uses stays
	id=$(started_id "$(as "$1" moat run --image "$old" "$ws" -- sleep 1000)")
	run as "$1" moat clean
	[ "$status" -eq 0 ]
	[[ "$output" == *" and 0 old agent images." ]]
	as "$1" podman image exists "$old"
	as "$1" moat stop "$id" >/dev/null
	# then it goes; the recipe's current image stays
	run as "$1" moat clean
	[ "$status" -eq 0 ]
	[[ "$output" == "Removed 1 run, "*" and 1 old agent image." ]]
	run as "$1" podman image exists "$old"
	[ "$status" -eq 1 ]
	as "$1" podman image exists "$new"
	# a provider that is gone leaves nothing to keep
	as "$1" rm "$(home_of "$1")/.config/moat/providers/bbclean.yaml"
	run as "$1" moat clean
	[[ "$output" == *" and 1 old agent image." ]]
	run as "$1" podman image exists "$new"
	[ "$status" -eq 1 ]
	# other images are not moat's to remove
	as "$1" podman image exists "$TEST_IMAGE"
}
@test "moat clean removes agents' images their recipe no longer names, not one in use" { each_mode check_clean_images; }
