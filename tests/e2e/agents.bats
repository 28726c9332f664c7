#!/usr/bin/env bats
# Agents as data and moat.yaml: provider commands (moat PROVIDER -p PROMPT [-f]), moat
# providers, the workspace's moat.yaml, and the workspace itself — as root (system manager)
# and as the test user (user manager, rootless podman).

load helpers

home_of() { [ "$1" = user ] && echo /home/moattest || echo /root; }
home_owner() { [ "$1" = user ] && echo moattest:moattest || echo root:root; }

setup_file() {
	setup_workspaces
	local mode home
	for mode in root user; do
		home=$(home_of "$mode")
		# a test provider: prints its argv one per line, and the passed-through variable
		as "$mode" sh -c "mkdir -p $home/.config/moat/providers && cat >$home/.config/moat/providers/echo.yaml" <<-EOF
		image: $TEST_IMAGE
		command: [sh, -c, 'for a; do printf "arg=[%s]\n" "\$a"; done; echo "key=[\$MOAT_TEST_KEY]"; sleep \${MOAT_TEST_SLEEP:-0}', agent]
		prompt: [--prompt, "{prompt}"]
		interactive_command: [sh]
		env: [MOAT_TEST_KEY, MOAT_TEST_SLEEP]
		EOF
	done
}

# Later files list the providers: the test ones go.
teardown_file() {
	local mode
	for mode in root user; do
		as "$mode" rm -f "$(home_of "$mode")"/.config/moat/providers/{echo,keeper}.yaml
	done
}

check_providers_list() {
	run as "$1" moat providers
	[ "$status" -eq 0 ]
	[[ "$output" == *"claude "*"codex "*"echo "*"gemini "* ]]
	run --separate-stderr as "$1" moat nosuchagent -p hi
	[ "$status" -eq 125 ]
	[ "$stderr" = "moat: unknown command or provider 'nosuchagent'; providers: claude, codex, echo, gemini; 'moat --help' lists the commands" ]
	# a user's file overrides a shipped one
	as "$1" sh -c "printf 'image: my/own-claude\ncommand: [claude]\n' >$(home_of "$1")/.config/moat/providers/claude.yaml"
	run as "$1" moat providers
	[[ "$output" == *"claude       my/own-claude"* ]]
	as "$1" rm "$(home_of "$1")/.config/moat/providers/claude.yaml"
	run as "$1" moat providers
	[[ "$output" =~ "claude       localhost/moat/claude:"[0-9a-f]{12}$'\n' ]]
	run --separate-stderr as "$1" moat echo --help
	[ "$status" -eq 0 ]
	[[ "$output" == "Usage: moat echo [OPTIONS] [WORKSPACE] [-p PROMPT] [-f]"* ]]
}
@test "moat providers lists the shipped and the user's providers; an unknown one is refused" { each_mode check_providers_list; }

check_prompts() {
	local ws prompt want
	ws=$(workspace "$1")
	for prompt in 'fix the failing tests' "a \"quoted\" 'prompt' with \$HOME and \`x\`" $'two\nlines' 'ünïcödé ✓ 日本' '-rf /' ''; do
		want=$(printf 'arg=[--prompt]\narg=[%s]\nkey=[]' "$prompt")
		run --separate-stderr as "$1" moat echo "$ws" -p "$prompt" -f
		[ "$status" -eq 0 ] || { echo "prompt <$prompt>: exit $status: $stderr" >&2; false; }
		[ "$output" = "$want" ] || { echo "prompt <$prompt>: got <$output>" >&2; false; }
	done
}
@test "-p -f: the prompt reaches the agent's argv exactly as typed" { each_mode check_prompts; }

check_fire_and_forget_agent() {
	local ws id
	ws=$(workspace "$1")
	run as "$1" moat echo "$ws" -p "in the background" -- --extra
	[ "$status" -eq 0 ]
	id=$(started_id "$output")
	[ -n "$id" ]
	run as "$1" moat wait "$id"
	[ "$status" -eq 0 ]
	run as "$1" moat logs "$id"
	[ "$output" = "$(printf 'arg=[--prompt]\narg=[in the background]\narg=[--extra]\nkey=[]')" ]
	as "$1" moat rm "$id"
}
@test "-p alone is fire-and-forget; extra arguments after --" { each_mode check_fire_and_forget_agent; }

check_secret_pass_through() {
	local ws id
	ws=$(workspace "$1")
	run as "$1" env MOAT_TEST_KEY=s3cret-pass-42 MOAT_TEST_SLEEP=3 moat echo "$ws" -p hello
	id=$(started_id "$output")
	[ -n "$id" ]
	# while it runs: not on any command line, not in the unit, not in the record
	run sb ps -eo args
	[[ "$output" != *s3cret-pass-42* ]]
	run as "$1" systemctl $(scope_flag "$1") show "moat-$id.service"
	[[ "$output" != *s3cret-pass-42* ]]
	run as "$1" moat inspect --json "$id"
	[[ "$output" != *s3cret-pass-42* ]]
	[[ "$output" == *MOAT_TEST_KEY* ]]
	as "$1" moat wait "$id"
	# but in the container
	run as "$1" moat logs "$id"
	[[ "$output" == *"key=[s3cret-pass-42]"* ]]
	as "$1" moat rm "$id"
}
@test "passed-through variables reach the container only" { each_mode check_secret_pass_through; }

# A workspace of its own with a moat.yaml, approved (moat trust refuses a malformed one,
# which runs then report): yaml_ws MODE NAME TEXT
yaml_ws() {
	local dir
	dir=$(workspace "$1")/$2
	as "$1" sh -c "rm -rf $dir && mkdir -p $dir/data && echo data-file >$dir/data/f && cat >$dir/moat.yaml" <<<"$3"
	as "$1" moat trust "$dir" >/dev/null 2>&1 || true
	echo "$dir"
}

check_yaml_fields() {
	local ws id
	ws=$(yaml_ws "$1" yaml-fields "name: from-yaml-$1
image: $TEST_IMAGE
command: ['sh', '-c', 'echo \"cmd G=\$G\"; cat /data/f; touch /data/x 2>/dev/null && echo writable || echo read-only']
env:
  G: from yaml
mounts: ['data:/data:ro']
container:
  memory: 64m
  cpus: '0.5'")
	run --separate-stderr as "$1" moat run -f "$ws"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'cmd G=from yaml\ndata-file\nread-only')" ]
	[[ "$stderr" == "Run from-yaml-$1 ("* ]]
	run as "$1" moat inspect --json "from-yaml-$1"
	has_json memory_bytes 67108864
	has_json cpus 0.5
	as "$1" moat rm "from-yaml-$1"
	if [ "$1" = root ]; then
		# the limit is real (rootless podman on cgroup v1 cannot set one)
		run --separate-stderr as root moat run -f -n "mem-root" "$ws" -- \
			cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us
		[ "${lines[0]}" = 67108864 ]
		[ "${lines[1]}" = 50000 ]
		as root moat rm mem-root
	fi
	# flags override the file
	run --separate-stderr as "$1" moat run -f -n "flagged-$1" -e G=from-flag "$ws" -- sh -c 'echo "G=$G"'
	[ "$output" = "G=from-flag" ]
	[[ "$stderr" == "Run flagged-$1 ("* ]]
	as "$1" moat rm "flagged-$1"
}
@test "each moat.yaml field changes what runs; flags override the file" { each_mode check_yaml_fields; }

check_yaml_interactive_and_agent() {
	local ws
	ws=$(yaml_ws "$1" yaml-interactive "image: $TEST_IMAGE
interactive: true
command: [cat]")
	run as "$1" sh -c "echo piped-in | moat run -n yi-$1 $ws"
	[ "${lines[0]}" = piped-in ]
	as "$1" moat rm "yi-$1"
	ws=$(yaml_ws "$1" yaml-agent "agent: echo")
	# the agent without a prompt: its interactive command (sh), reading stdin
	run as "$1" sh -c "echo 'echo from-agent' | moat run -n ya-$1 $ws"
	[ "${lines[0]}" = from-agent ]
	as "$1" moat rm "ya-$1"
}
@test "moat.yaml interactive and agent" { each_mode check_yaml_interactive_and_agent; }

check_yaml_errors() {
	local ws before after
	ws=$(yaml_ws "$1" yaml-bad "name: x
command: [unclosed")
	before=$(count_everything "$1")
	run --separate-stderr as "$1" moat run --image "$TEST_IMAGE" "$ws"
	[ "$status" -eq 125 ]
	[[ "$stderr" =~ ^moat:\ $ws/moat.yaml:[0-9]+:[0-9]+:\  ]]
	[ "$(count_everything "$1")" = "$before" ]
	ws=$(yaml_ws "$1" yaml-type "interactive: perhaps")
	run --separate-stderr as "$1" moat run --image "$TEST_IMAGE" "$ws" -- true
	[ "$status" -eq 125 ]
	[ "$stderr" = "moat: $ws/moat.yaml:1:14: interactive must be true or false, not 'perhaps'" ]
	ws=$(yaml_ws "$1" yaml-mem "container:
  memory: lots")
	run --separate-stderr as "$1" moat run --image "$TEST_IMAGE" "$ws" -- true
	[ "$status" -eq 125 ]
	[[ "$stderr" == "moat: invalid container.memory 'lots'"* ]]
	[ "$(count_everything "$1")" = "$before" ]
	# an unknown key is a warning, and the run goes ahead
	ws=$(yaml_ws "$1" yaml-unknown "name: warned-$1
imgae: typo")
	run --separate-stderr as "$1" moat run -f --image "$TEST_IMAGE" "$ws" -- true
	[ "$status" -eq 0 ]
	[[ "$stderr" == "moat: warning: $ws/moat.yaml:2: unknown key 'imgae' (ignored)"* ]]
	as "$1" moat rm "warned-$1"
}
@test "bad moat.yaml: an error with line and column, nothing started; unknown keys warn" { each_mode check_yaml_errors; }

@test "a file written in /workspace by a rootless run belongs to the user on the host" {
	local ws
	ws=$(workspace user)
	run sbu moat run -f --image "$TEST_IMAGE" "$ws" -- sh -c 'echo made >/workspace/made-by-run'
	[ "$status" -eq 0 ]
	run sb stat -c %U "$ws/made-by-run"
	[ "$output" = moattest ]
}

# A provider that shows who it runs as and what its home holds, and counts its runs there.
write_state_provider() {
	local home
	home=$(home_of "$1")
	as "$1" sh -c "cat >$home/.config/moat/providers/keeper.yaml" <<-'EOF2'
	image: localhost/moat-test:latest
	command: [sh, -c, 'echo "uid=$(id -u) gid=$(id -g) home=$HOME fixed=$FIXED"; cat "$HOME/.seeded"; echo; echo run >>"$HOME/runs"; echo "runs=$(wc -l <"$HOME/runs")"; touch /workspace/by-agent', agent]
	prompt: ["{prompt}"]
	user: 1234:1235
	home: /home/keeper
	environment:
	  FIXED: from the provider
	seed:
	  .seeded: seeded once
	EOF2
}

check_agent_state() {
	local ws other home
	write_state_provider "$1"
	home=$(home_of "$1")
	ws=$(workspace "$1")/state-a
	other=$(workspace "$1")/state-b
	as "$1" rm -rf "$ws" "$other" "$home/.moat/agents/keeper"
	[ "$1" = user ] || as root rm -rf /var/lib/moat/agents/keeper
	as "$1" mkdir -p "$ws" "$other"
	run --separate-stderr as "$1" moat keeper --network none "$ws" -p one -f
	[ "$status" -eq 0 ] || { echo "$stderr" >&2; false; }
	[ "${lines[1]}" = "seeded once" ]
	[ "${lines[2]}" = "runs=1" ]
	# not root: the provider's user, mapped to the caller, so its files are the caller's
	[ "${lines[0]}" = "uid=1234 gid=1235 home=/home/keeper fixed=from the provider" ]
	run sb stat -c %U:%G "$ws/by-agent" "$(as "$1" moat state path keeper "$ws")/runs"
	[ "${lines[0]}" = "$(home_owner "$1")" ]
	[ "${lines[1]}" = "$(home_owner "$1")" ]
	# a rootful run's mapped mounts go with it
	[ "$1" = user ] || [ -z "$(sb sh -c 'ls /run/moat/mounts; grep /run/moat/mounts /proc/self/mountinfo')" ]
	# the home is kept for the next run in this workspace, and only there
	as "$1" sh -c "printf changed >\$(moat state path keeper $ws)/.seeded"
	run --separate-stderr as "$1" moat keeper --network none "$ws" -p two -f
	[ "${lines[1]}" = changed ]
	[ "${lines[2]}" = "runs=2" ]
	run --separate-stderr as "$1" moat keeper --network none "$other" -p three -f
	[ "${lines[1]}" = "seeded once" ]
	[ "${lines[2]}" = "runs=1" ]
	# moat state lists both and removes one; the grant store and the records are never in it
	run --separate-stderr as "$1" moat state
	[ "$status" -eq 0 ]
	[[ "$output" == *keeper*"$ws"* ]]
	[[ "$output" == *keeper*"$other"* ]]
	run --separate-stderr as "$1" moat state rm keeper "$ws"
	[ "$status" -eq 0 ]
	run --separate-stderr as "$1" moat keeper --network none "$ws" -p four -f
	[ "${lines[2]}" = "runs=1" ]
	run --separate-stderr as "$1" moat state rm keeper "$ws/nowhere"
	[ "$status" -eq 125 ]
	[[ "$stderr" == "moat: "*"keeper keeps no state for"* ]]
}
@test "an agent's home is kept per workspace, seeded once, listed and removed with moat state" { each_mode check_agent_state; }
