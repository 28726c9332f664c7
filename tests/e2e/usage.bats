#!/usr/bin/env bats
# What an agent did and what it cost (issue 25): the proxy's request log (moat trace), token
# usage read from the model APIs' answers (moat usage, inspect), what a run's container used,
# and time limits — as root (system manager, rootful podman) and as the test user (user
# manager, rootless podman).  The fake model APIs (tests/fake-model-api.py as
# moat-test-models on 10.99.0.3, on the real API names) send the usage each test asks for
# (fake_usage=...) and log each exchange's bytes on the wire; the HTTPS test servers
# (moat-test-https) play a host reached through a plain tunnel.

load helpers

CURL_IMAGE=localhost/moat-curl:latest
MODELS_LOG=$MOAT_SANDBOX_STATE/models.log
HTTPS_LOG=$MOAT_SANDBOX_STATE/https.log

setup_file() {
	setup_workspaces
	: >"$MODELS_LOG"
	: >"$HTTPS_LOG"
	sb systemctl start moat-test-models moat-test-https
	head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$MOAT_SANDBOX_STATE/usage-salt"
	# an agent that is a shell with curl, whose grant goes to the fake model APIs
	cat >"$MOAT_SANDBOX_STATE/usageagent.yaml" <<-'EOF'
	image: localhost/moat-curl:latest
	command: [sh, -c]
	prompt: ["{prompt}"]
	allow: [allowed.test]
	grants:
	  fakeapis:
	    env: [FAKE_KEY]
	    inject:
	      - hosts: [api.anthropic.com, api.openai.com, generativelanguage.googleapis.com]
	        header: x-api-key
	EOF
	for mode in root user; do
		as "$mode" sh -c 'mkdir -p "$HOME/.config/moat/providers" &&
			cp /run/moat-sandbox/usageagent.yaml "$HOME/.config/moat/providers/usageagent.yaml"'
	done
}

teardown_file() {
	sb systemctl stop moat-test-models moat-test-https
	for mode in root user; do
		as "$mode" moat grant rm fakeapis >/dev/null 2>&1 || true
		as "$mode" sh -c 'rm -f "$HOME/.config/moat/providers/usageagent.yaml"'
	done
}

salt() { cat "$MOAT_SANDBOX_STATE/usage-salt"; }
secret_of() { echo "sk-usage-e2e-$1-$(salt)"; }

store_secret() {
	as "$1" sh -c "printf '%s' '$(secret_of "$1")' | moat grant add fakeapis" >/dev/null
}

log_mark() { wc -l <"$MODELS_LOG"; }

# usage_agent MODE NAME SCRIPT: SCRIPT under `moat usageagent -f` (strict, with its grant);
# prints the run's id.
usage_agent() {
	local out
	out=$(as "$1" moat usageagent -f -n "$2" "$(workspace "$1")" -p "$3" 2>&1) ||
		{ echo "the run failed: $out" >&2; return 1; }
	[[ "$out" =~ Run\ $2\ \(([0-9a-f]{12})\)\ exited\ with\ code\ 0 ]] ||
		{ echo "no end of run in: $out" >&2; return 1; }
	echo "${BASH_REMATCH[1]}"
}

# check_against_log TRACE MARK: each request of the JSON lines TRACE matches, in order, what
# the fake APIs logged after line MARK: method, path without its query, status, the bytes each
# way, and the tokens they sent (an unknown usage where they sent a malformed or cut one).
check_against_log() {
	python3 - "$MODELS_LOG" "$2" "$1" <<-'EOF'
	import json, sys
	log = [json.loads(l) for l in open(sys.argv[1]).readlines()[int(sys.argv[2]):]]
	trace = [json.loads(l) for l in open(sys.argv[3]) if l.strip()]
	reqs = [t for t in trace if t["event"] == "request"]
	if len(reqs) != len(log):
	    sys.exit("%d requests traced, %d logged:\n%s\n%s" % (len(reqs), len(log), reqs, log))
	for t, l in zip(reqs, log):
	    want = (l["method"], l["path"].split("?")[0], l["status"], l["req_bytes"], l["resp_bytes"])
	    got = (t["method"], t["path"], t["status"], t["bytes_up"], t["bytes_down"])
	    if got != want:
	        sys.exit("traced %s, logged %s" % (got, want))
	    sent = l.get("usage_sent")
	    if sent is None:
	        continue
	    if "api" not in t:
	        sys.exit("no usage for %s" % (t,))
	    if isinstance(sent, str):
	        if t["usage"] is not None:
	            sys.exit("a %s usage block was read: %s" % (sent, t))
	        continue
	    u = t["usage"] or {}
	    got = (u.get("input_tokens"), u.get("output_tokens"), u.get("cache_read_tokens"), u.get("cache_write_tokens"))
	    want = (sent["input"], sent["output"], sent["cache_read"], sent["cache_write"])
	    if got != want:
	        sys.exit("%s %s: tokens %s, sent %s" % (t["host"], t["path"], got, want))
	EOF
}

check_trace() {
	local id mark secret q ws out tmp
	secret=$(secret_of "$1")
	q="Q-$1-$(salt)"
	ws=$(workspace "$1")
	store_secret "$1"
	mark=$(log_mark)
	id=$(usage_agent "$1" "trace-$1" "
		curl -sS -o /dev/null 'https://api.anthropic.com/v1/messages?beta=true&qtoken=$q' \
			-H 'x-api-key: \$FAKE_KEY' -d '{\"model\":\"claude-sonnet-4-5\"}'
		curl -sS -o /dev/null 'https://api.anthropic.com/api/claude_cli/bootstrap?qtoken=$q'
		curl -sS -o /dev/null 'https://api.anthropic.com/no/such/path'
		curl -sS -o /dev/null https://allowed.test/tunnelled-$1
		curl -sS -o /dev/null https://denied.test/refused-$1; true")
	tmp=$BATS_TEST_TMPDIR/trace.json
	as "$1" moat trace --json "$id" >"$tmp"
	check_against_log "$tmp" "$mark"
	# the tunnel, as the test server saw it, and the refusal
	grep -q "^allowed.test GET /tunnelled-$1 " "$HTTPS_LOG"
	grep -q '"event":"tunnel","host":"allowed.test","port":443,"bytes_up":[1-9][0-9]*,"bytes_down":[1-9]' "$tmp"
	grep -q '"event":"denied","host":"denied.test","reason":"policy"' "$tmp"
	# in order: three requests, the tunnel, the refusal
	run python3 -c 'import json,sys; print(" ".join(json.loads(l)["event"] for l in open(sys.argv[1])))' "$tmp"
	[ "$output" = "request request request tunnel denied" ]
	# the text form: a header, then one line each
	run as "$1" moat trace "$id"
	[ "${#lines[@]}" -eq 6 ]
	[[ "${lines[1]}" =~ request\ +POST\ +api.anthropic.com/v1/messages\ +200\  ]]
	[[ "${lines[3]}" =~ request\ +GET\ +api.anthropic.com/no/such/path\ +404\  ]]
	[[ "${lines[5]}" =~ denied\ .*denied.test\ .*\ policy$ ]]
	# no secret and no query string in any record, anywhere
	[[ "$(cat "$tmp")$output" != *"$secret"* && "$(cat "$tmp")$output" != *"$q"* ]]
	out=$(sb sh -c "journalctl -o export | grep -ac '$q'" || true)
	[ "$out" = 0 ] || { echo "the query string is in the journal ($out)" >&2; return 1; }
	secret_nowhere_after "$1" "$secret" "$ws"
	as "$1" moat rm "$id"
}
@test "moat trace: each request, tunnel and refusal, as the servers saw them; no secret, no query" { each_mode check_trace; }

# usage_script IN OUT: requests to every model API the shipped agents use, streamed and not,
# whose answers report tokens derived from IN and OUT, then a malformed and a cut usage
# block, and a last request that shows the proxy went on.
usage_script() {
	local a=$1 b=$2 body
	body="-H 'content-type: application/json' -d"
	cat <<-EOF
	set -e
	curl -sS -o /dev/null 'https://api.anthropic.com/v1/messages?fake_usage=$a,$b,3,4' $body '{"model":"claude-sonnet-4-5"}'
	curl -sS -o /dev/null 'https://api.anthropic.com/v1/messages?beta=true&fake_usage=$((a + 1)),$((b + 1)),5,6' $body '{"model":"claude-sonnet-4-5","stream":true}'
	curl -sS -o /dev/null 'https://api.openai.com/v1/responses?fake_usage=$a,$b,2,0' $body '{"model":"gpt-5"}'
	curl -sS -o /dev/null 'https://api.openai.com/v1/responses?fake_usage=$((a + 2)),$((b + 2)),1,0' $body '{"model":"gpt-5","stream":true}'
	curl -sS -o /dev/null 'https://api.openai.com/v1/chat/completions?fake_usage=$a,$b,0,0' $body '{"model":"gpt-5","stream":true}'
	curl -sS -o /dev/null 'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:generateContent?fake_usage=$a,$b,4,0' $body '{}'
	curl -sS -o /dev/null 'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse&fake_usage=$((a + 3)),$((b + 3)),0,0' $body '{}'
	curl -sS -o /dev/null 'https://api.anthropic.com/v1/messages?fake_usage=malformed' $body '{"model":"claude-sonnet-4-5","stream":true}'
	curl -sS -o /dev/null 'https://api.openai.com/v1/responses?fake_usage=malformed' $body '{"model":"gpt-5"}'
	curl -sS -m 20 -o /dev/null 'https://api.anthropic.com/v1/messages?fake_usage=truncated' $body '{"model":"claude-sonnet-4-5","stream":true}' || true
	curl -sS -m 20 -o /dev/null 'https://api.openai.com/v1/chat/completions?fake_usage=truncated' $body '{"model":"gpt-5"}' || true
	curl -sS -o /dev/null 'https://api.anthropic.com/v1/messages?fake_usage=1,1,0,0' $body '{"model":"claude-sonnet-4-5"}'
	EOF
}

check_usage() {
	local id1 id2 mark since tmp start
	store_secret "$1"
	since=$(date -u -d '-2 seconds' +%Y-%m-%dT%H:%M:%S)
	tmp=$BATS_TEST_TMPDIR/usage.json
	mark=$(log_mark)
	start=$(date +%s)
	id1=$(usage_agent "$1" "usage1-$1" "$(usage_script 100 20)")
	# a malformed or cut usage block stalled nothing: the run went on to its last request
	[ $(($(date +%s) - start)) -lt 30 ]
	as "$1" moat trace --json "$id1" >"$tmp"
	check_against_log "$tmp" "$mark"
	mark=$(log_mark)
	id2=$(usage_agent "$1" "usage2-$1" "$(usage_script 1000 300)")
	as "$1" moat trace --json "$id2" >"$tmp"
	check_against_log "$tmp" "$mark"
	# moat usage sums both runs per agent and model (what the fake APIs sent, counted
	# moat's way): anthropic 100+101+1 / 1000+1001+1 in, ...
	run as "$1" moat usage --json --since "$since"
	[ "$status" -eq 0 ]
	python3 - "$output" <<-'EOF'
	import json, sys
	r = json.loads(sys.argv[1])
	rows = {(x["agent"], x["model"]): x for x in r["rows"]}
	def tokens(k):
	    x = rows[k]
	    return (x["requests"], x["unknown"], x["input_tokens"], x["output_tokens"], x["cache_read_tokens"], x["cache_write_tokens"])
	want = {
	    ("usageagent", "claude-sonnet-4-5"): (6, 0, 100 + 101 + 1 + 1000 + 1001 + 1, 20 + 21 + 1 + 300 + 301 + 1, 16, 20),
	    ("usageagent", "gpt-5"): (6, 0, 100 + 102 + 100 + 1000 + 1002 + 1000, 20 + 22 + 20 + 300 + 302 + 300, 6, 0),
	    ("usageagent", "gemini-2.5-pro"): (4, 0, 100 + 103 + 1000 + 1003, 20 + 23 + 300 + 303, 8, 0),
	    ("usageagent", None): (8, 8, 0, 0, 0, 0),
	}
	for k, v in want.items():
	    if k not in rows or tokens(k) != v:
	        sys.exit("%s: %s, want %s\n%s" % (k, rows.get(k) and tokens(k), v, r))
	if r["runs"] != 2:
	    sys.exit("runs: %s" % r["runs"])
	if not (r["total"]["cost"] > 0):
	    sys.exit("no cost: %s" % r["total"])
	EOF
	# inspect: one run's totals
	run as "$1" moat inspect --json "$id1"
	python3 - "$output" <<-'EOF'
	import json, sys
	u = json.loads(sys.argv[1])["usage"]
	# run 1: anthropic 100+101+1 in, 20+21+1 out; openai 100+102+100, 20+22+20; gemini
	# 100+103, 20+23; cache reads 3+5, 2+1, 4; cache writes 4+6
	want = (12, 4, 707, 147, 15, 10)
	got = (u["requests"], u["unknown"], u["input_tokens"], u["output_tokens"], u["cache_read_tokens"], u["cache_write_tokens"])
	if got != want:
	    sys.exit("inspect: %s, want %s" % (got, want))
	EOF
	as "$1" moat rm "$id1" "$id2"
}
@test "token usage: what the model APIs sent, streamed and not; moat usage sums runs; broken blocks are unknown" { each_mode check_usage; }

check_resources() {
	local id out expected
	run --separate-stderr mrun "$1" -f -n "burn-$1" "$(workspace "$1")" -- sh -c \
		'timeout 2 sh -c "while :; do :; done"; (head -c 110m /dev/zero; sleep 3) | tail -c 110m >/dev/null; cat /proc/$$/stat'
	[ "$status" -eq 0 ]
	[[ "$stderr" =~ Run\ burn-$1\ \(([0-9a-f]{12})\)\ exited ]]
	id=${BASH_REMATCH[1]}
	# what the container's processes burned, as the kernel counted it for PID 1: its own CPU
	# time and its children's (fields 14 to 17, in ticks of 10 ms)
	expected=$(awk '{ print ($14 + $15 + $16 + $17) * 10000 }' <<<"$output")
	[ "$expected" -gt 1000000 ]
	run as "$1" moat inspect --json "$id"
	python3 - "$output" "$expected" <<-'EOF'
	import json, sys
	r = json.loads(sys.argv[1])["resources"]
	cpu, want = r["cpu_usec"], int(sys.argv[2])
	if abs(cpu - want) > want * 0.1:
	    sys.exit("CPU %d µs, burned %d µs" % (cpu, want))
	if r["memory_peak_bytes"] < 100 << 20:
	    sys.exit("peak memory %d" % r["memory_peak_bytes"])
	if not r["tasks_peak"] >= 2:
	    sys.exit("tasks %s" % r["tasks_peak"])
	EOF
	run as "$1" moat list --json
	[[ "$output" == *'"resources":'*'"cpu_usec":'* ]]
	as "$1" moat rm "$id"
}
@test "a run's CPU time and peak memory, as its container used them" { each_mode check_resources; }

check_timeout() {
	local start elapsed id
	start=$(date +%s%N)
	run --separate-stderr mrun "$1" -f --timeout 2s -n "timeout-$1" "$(workspace "$1")" -- sleep 60
	elapsed=$((($(date +%s%N) - start) / 1000000))
	[[ "$stderr" =~ Run\ timeout-$1\ \(([0-9a-f]{12})\)\ stopped\ \(timeout\)\ with\ code ]]
	id=${BASH_REMATCH[1]}
	# two seconds, the second of grace sleep (PID 1, deaf to SIGTERM) takes, and the start
	[ "$elapsed" -ge 2000 ] && [ "$elapsed" -lt 7000 ] || { echo "took $elapsed ms" >&2; return 1; }
	run as "$1" moat inspect --json "$id"
	has_json state '"stopped"'
	has_json stop_reason '"timeout"'
	has_json timeout_ms 2000
	run as "$1" moat run --timeout soon --image "$TEST_IMAGE" -- true
	[ "$status" -eq 125 ]
	[[ "$output" == *"invalid --timeout 'soon'"* ]]
	as "$1" moat rm "$id"
}
@test "--timeout 2s ends sleep 60 in about 2 s, as stopped (timeout)" { each_mode check_timeout; }

check_top() {
	local id
	id=$(started_id "$(mrun "$1" -n "top-$1" "$(workspace "$1")" -- sh -c 'while :; do :; done')")
	[ -n "$id" ]
	sleep 1
	run as "$1" moat top --json
	[ "$status" -eq 0 ]
	python3 - "$output" "$id" <<-'EOF2'
	import json, sys
	runs = {r["id"]: r for r in json.loads(sys.argv[1])}
	r = runs.get(sys.argv[2])
	if not r:
	    sys.exit("run %s not in %s" % (sys.argv[2], runs))
	if not (r["cpu_percent"] or 0) >= 20:
	    sys.exit("a busy loop at %s%% CPU" % r["cpu_percent"])
	if not (r["memory_bytes"] or 0) > 0 or not (r["tasks"] or 0) >= 1:
	    sys.exit("no memory or tasks: %s" % r)
	EOF2
	run as "$1" moat top -n 1
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" =~ ^NAME\ +ID\ +CPU% ]]
	[[ "$output" == *"top-$1 "*"$id"* ]]
	as "$1" moat stop "$id" >/dev/null
	as "$1" moat rm "$id"
}
@test "moat top: what a running run's container uses now" { each_mode check_top; }
