#!/usr/bin/env bats
# The shipped agents as a user runs them: `moat claude`, `moat codex` and `moat gemini` with
# the providers as installed, their real CLIs in the images built from the shipped recipes
# (agent-images.bats), and grants stored with `moat grant add`.  Fake model APIs answer on the
# real API names (tests/fake-model-api.py as moat-test-models, on 10.99.0.3 with a
# certificate of the sandbox's test CA) and log each request's headers.  As root (system
# manager, rootful podman) and as the test user (user manager, rootless podman).

load helpers

TMUX_SOCKET=moat-e2e-agents
MODELS_LOG=$MOAT_SANDBOX_STATE/models.log

setup_file() {
	setup_workspaces
	: >"$MODELS_LOG"
	sb systemctl start moat-test-models
	head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$MOAT_SANDBOX_STATE/agents-salt"
}

teardown() {
	tx kill-server 2>/dev/null || true
}

teardown_file() {
	local mode agent
	sb systemctl stop moat-test-models
	for mode in root user; do
		as "$mode" moat grant rm anthropic claude openai gemini >/dev/null 2>&1 || true
		for agent in claude codex gemini; do as "$mode" moat state rm "$agent" >/dev/null 2>&1 || true; done
	done
}

# A secret per mode and grant, made here, so that a find of it anywhere is a leak.
secret_of() { echo "sk-e2e-$2-$1-$(cat "$MOAT_SANDBOX_STATE/agents-salt")"; }

# store MODE GRANT: GRANT's secret stored as a user does it, the value on stdin.
store() {
	as "$1" sh -c "printf '%s' '$(secret_of "$1" "$2")' | moat grant add $2" >/dev/null
}

# agent_ws MODE NAME: a workspace of its own for one test, made empty.
agent_ws() {
	local ws
	case $1 in
	root) ws=/tmp/agents/$2 ;;
	user) ws=/home/moattest/agents/$2 ;;
	esac
	as "$1" rm -rf "$ws"
	as "$1" mkdir -p "$ws"
	echo "$ws"
}

# in_ws MODE WS COMMAND...: COMMAND typed in WS, as a user starts an agent in a project.
in_ws() {
	local mode=$1 ws=$2; shift 2
	as "$mode" sh -c 'cd "$1" && shift && exec "$@"' sh "$ws" "$@"
}

log_mark() { wc -l <"$MODELS_LOG"; }

# header_since MARK PATH HEADER: the value of HEADER ("-" without one) of each request the
# fake APIs logged after line MARK whose path starts with PATH, one per line.
header_since() {
	python3 - "$MODELS_LOG" "$@" <<-'EOF'
	import json, sys
	log, mark, prefix, header = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4].lower()
	for line in open(log).readlines()[mark:]:
	    r = json.loads(line)
	    if r["path"].startswith(prefix):
	        print({k.lower(): v for k, v in r["headers"].items()}.get(header, "-"))
	EOF
}

# all_are EXPECTED: $lines holds at least MIN (default 1) lines, each EXPECTED.
all_are() {
	local l min=${2:-1}
	[ "${#lines[@]}" -ge "$min" ] || { echo "only ${#lines[@]} requests: $output" >&2; return 1; }
	for l in "${lines[@]}"; do
		[ "$l" = "$1" ] || { echo "a request had '$l', not '$1'" >&2; return 1; }
	done
}

# owned_by_caller MODE FILE: FILE belongs to the user who ran moat, on the host.
owned_by_caller() {
	local want got
	want=$(as "$1" sh -c 'echo "$(id -u):$(id -g)"')
	got=$(as "$1" stat -c %u:%g "$2")
	[ "$got" = "$want" ] || { echo "$2 is owned by $got, not $want" >&2; return 1; }
}

# ended_clean MODE ID: the run exited 0 through its strict network and was refused nothing.
ended_clean() {
	run as "$1" moat inspect --json "$2"
	has_json state '"exited"'
	has_json exit_code 0
	has_json network '"strict"'
	has_json network_denied '[]'
}

# run_id_in TEXT: the id in TEXT's "Run NAME (ID) exited with code 0".
run_id_in() {
	local re='Run [^ ]+ \(([0-9a-f]{12})\) exited with code 0'
	[[ "$1" =~ $re ]] && echo "${BASH_REMATCH[1]}"
}

# print_run MODE AGENT GRANT ANSWER: `moat AGENT -p` in a new workspace, with GRANT stored,
# asked to write a file in /workspace: it exits 0 and prints ANSWER (the fake model's, after
# the tool call).  Sets ws, secret, mark (the server log's line before it) and id.
print_run() {
	local mode=$1 agent=$2 grant=$3 answer=$4
	agent_image "$mode" "$agent" >/dev/null
	ws=$(agent_ws "$mode" "$agent-print")
	secret=$(secret_of "$mode" "$grant")
	store "$mode" "$grant"
	mark=$(log_mark)
	run --separate-stderr in_ws "$mode" "$ws" moat "$agent" -p "MOAT-WRITE /workspace/by-$agent.txt written" -f
	[ "$status" -eq 0 ] || { echo "status $status: $output $stderr" >&2; return 1; }
	[[ "$output" == *"$answer wrote=/workspace/by-$agent.txt"* ]] || { echo "no answer: $output" >&2; return 1; }
	id=$(run_id_in "$stderr")
	[[ "$stderr" != *"moat: warning"* ]] || { echo "$stderr" >&2; return 1; }
}

# print_run_done MODE AGENT: what the agent wrote is the caller's, the run exited through
# its strict network refused nothing, and no secret was left anywhere.
print_run_done() {
	[ "$(as "$1" cat "$ws/by-$2.txt")" = written ]
	owned_by_caller "$1" "$ws/by-$2.txt"
	ended_clean "$1" "$id"
	secret_nowhere_after "$1" "$secret" "$ws"
	as "$1" moat rm "$id"
}

check_claude_print() {
	local ws secret mark id
	as "$1" moat grant rm claude >/dev/null 2>&1 || true
	print_run "$1" claude anthropic "FAKE-ANTHROPIC-ANSWER turn=1"
	[ "$output" = "FAKE-ANTHROPIC-ANSWER turn=1 wrote=/workspace/by-claude.txt" ]
	# every model request had the stored key, exactly, in place of the placeholder: the
	# tool call's and its answer's
	run header_since "$mark" /v1/messages x-api-key
	all_are "$secret" 2
	run header_since "$mark" / authorization
	all_are "-"
	print_run_done "$1" claude
}
@test "moat claude -p: the answer, the stored key on the wire, files the caller's, nothing refused, no secret" {
	each_mode check_claude_print
}

# A subscription: the token of `claude setup-token`, stored as the claude grant, goes as
# Claude Code sends CLAUDE_CODE_OAUTH_TOKEN; with no API key stored, nothing warns.
check_claude_token() {
	local mode=$1 ws secret mark id
	agent_image "$mode" claude >/dev/null
	ws=$(agent_ws "$mode" claude-token)
	secret=$(secret_of "$mode" claude)
	store "$mode" claude
	as "$mode" moat grant rm anthropic >/dev/null 2>&1 || true
	mark=$(log_mark)
	run --separate-stderr in_ws "$mode" "$ws" moat claude -p 'hello' -f
	[ "$status" -eq 0 ] || { echo "status $status: $output $stderr" >&2; false; }
	[ "$output" = "FAKE-ANTHROPIC-ANSWER turn=1" ]
	[[ "$stderr" != *warning* ]] || { echo "$stderr" >&2; false; }
	id=$(run_id_in "$stderr")
	run header_since "$mark" /v1/messages authorization
	all_are "Bearer $secret"
	run header_since "$mark" / x-api-key
	all_are "-"
	run as "$mode" moat inspect --json "$id"
	[[ "$output" == *'"CLAUDE_CODE_OAUTH_TOKEN"'* && "$output" != *'"ANTHROPIC_API_KEY"'* ]]
	ended_clean "$mode" "$id"
	secret_nowhere_after "$mode" "$secret" "$ws"
	as "$mode" moat rm "$id"
	as "$mode" moat grant rm claude
}
@test "moat claude -p with a subscription's token: sent as Claude Code sends it, no warning, no secret" {
	each_mode check_claude_token
}

# The command a pane types to start the agent in WS as MODE, then to print its exit code.
moat_in() {
	local mode=$1 ws=$2; shift 2
	local as_user=
	[ "$mode" = user ] && as_user=--user
	echo "clear; $SANDBOX exec $as_user sh -c 'cd $ws && exec moat $*'; echo EXIT=\$?"
}

# type_prompt PANE TEXT: TEXT typed, then Enter once the agent has taken it.
type_prompt() {
	tx send-keys -t "$1" -l "$2"
	sleep 0.5
	tx send-keys -t "$1" Enter
}

# dialogs PANE: fails if the pane shows one of Claude Code's first-run questions.
no_dialog() {
	local screen
	screen=$(tx capture-pane -p -t "$1")
	if grep -Eiq 'Do you want to use this API key|trust the files|Choose the text style|Press Enter to continue|Select login method|Bypass Permissions mode' <<<"$screen"; then
		echo "a dialog: $screen" >&2
		return 1
	fi
}

check_claude_interactive() {
	local mode=$1 ws other secret id cid p=claude-$1
	agent_image "$mode" claude >/dev/null
	ws=$(agent_ws "$mode" claude-chat)
	other=$(agent_ws "$mode" claude-other)
	secret=$(secret_of "$mode" anthropic)
	store "$mode" anthropic
	pane_start "$p"
	tx resize-window -t "$p" -x 120 -y 40

	# the first run reaches the prompt with no question, and answers
	tx send-keys -t "$p" "$(moat_in "$mode" "$ws" claude -n "chat1-$mode")" Enter
	wait_pane "$p" 'bypass permissions on' 30
	no_dialog "$p"
	type_prompt "$p" "hello there"
	wait_pane "$p" 'FAKE-ANTHROPIC-ANSWER turn=1' 20
	id=$(run_id_of "$mode" "chat1-$mode")
	# every process of the container runs as the image's user, not root
	cid=$(as "$mode" podman ps -q --filter "label=moat.run-id=$id")
	run as "$mode" podman exec "$cid" sh -c 'for p in /proc/[0-9]*; do stat -c %u "$p"; done | sort -u'
	[ "$output" = 1000 ] || { echo "uids in the container: $output" >&2; false; }
	secret_nowhere_running "$mode" "$id" "$secret" "$ws"
	type_prompt "$p" /exit
	wait_pane "$p" '^EXIT=0$' 20
	wait_pane "$p" "^Run chat1-$mode \\($id\\) exited with code 0$"
	# its updater, changelog and plugin hosts were never asked for
	ended_clean "$mode" "$id"

	# the second run there resumes the session: the old turn is on the screen, the next is
	# the session's second; Ctrl-C twice ends it as Claude Code ends, with 0
	tx clear-history -t "$p"
	tx send-keys -t "$p" "$(moat_in "$mode" "$ws" claude -n "chat2-$mode" -- --continue)" Enter
	wait_pane "$p" 'bypass permissions on' 30
	wait_pane "$p" 'FAKE-ANTHROPIC-ANSWER turn=1'
	type_prompt "$p" "again"
	wait_pane "$p" 'FAKE-ANTHROPIC-ANSWER turn=2' 20
	tx send-keys -t "$p" C-c
	sleep 0.3
	tx send-keys -t "$p" C-c
	wait_pane "$p" '^EXIT=0$' 20
	wait_pane "$p" "^Run chat2-$mode \\([0-9a-f]{12}\\) exited with code 0$"

	# another workspace's agent has none of it: Claude Code finds no session to continue
	tx clear-history -t "$p"
	tx send-keys -t "$p" "$(moat_in "$mode" "$other" claude -n "chat3-$mode" -- --continue)" Enter
	wait_pane "$p" '^EXIT=1$' 30
	wait_pane "$p" 'No conversation found to continue'
	wait_pane "$p" "^Run chat3-$mode \\([0-9a-f]{12}\\) exited with code 1$"

	# each workspace has its own home, and the sessions were kept in the first one's
	run as "$mode" moat state path claude "$ws"
	[ "$status" -eq 0 ]
	as "$mode" sh -c "ls '$output'/.claude/projects/-workspace/*.jsonl" >/dev/null
	[ "$output" != "$(as "$mode" moat state path claude "$other")" ]
	secret_nowhere_after "$mode" "$secret" "$ws"
	for n in chat1 chat2 chat3; do as "$mode" moat rm "$n-$mode"; done
}
@test "moat claude on a terminal: no dialog, an answer, not root, resumed in its workspace only, /exit and Ctrl-C end it with 0" {
	each_mode check_claude_interactive
}

check_codex_print() {
	local ws secret mark id
	print_run "$1" codex openai "FAKE-OPENAI-ANSWER turn=1"
	# HTTPS from the start (no websocket tried), with the stored key
	run header_since "$mark" /v1/responses authorization
	all_are "Bearer $secret" 2
	run header_since "$mark" /v1/responses upgrade
	all_are "-"
	print_run_done "$1" codex
}
@test "moat codex -p: the answer over HTTPS with the stored key, files the caller's, nothing refused" {
	each_mode check_codex_print
}

check_gemini_print() {
	local ws secret mark id
	print_run "$1" gemini gemini "FAKE-GEMINI-ANSWER turn=1"
	run header_since "$mark" /v1beta/models/ x-goog-api-key
	all_are "$secret" 2
	# the key went in its header only, never in a URL
	run grep -c '"path": "[^"]*key=' "$MODELS_LOG"
	[ "$output" = 0 ]
	print_run_done "$1" gemini
}
@test "moat gemini -p: the answer with the stored key in its header, files the caller's, nothing refused" {
	each_mode check_gemini_print
}
