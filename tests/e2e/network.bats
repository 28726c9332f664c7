#!/usr/bin/env bats
# The egress proxy: grants injected by the run's proxy so that the container never holds the
# secret, strict network policies, and the proxy's life inside the run's unit — as root
# (system manager, rootful podman) and as the test user (user manager, rootless podman).
# HTTPS servers of the sandbox's own (tests/sandbox: moat-test-https), in a network namespace
# of their own, play the internet: api.anthropic.test, allowed.test and denied.test on
# 10.99.0.1 with a certificate of a test CA the sandbox trusts, wrongname.test there with the
# same certificate, which does not name it, badcert.test on 10.99.0.2 with one nobody trusts.

load helpers

CURL_IMAGE=localhost/moat-curl:latest
HTTPS_LOG=$MOAT_SANDBOX_STATE/https.log

setup_file() {
	setup_workspaces
	: >"$HTTPS_LOG"
	sb systemctl start moat-test-https
	head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$MOAT_SANDBOX_STATE/secret-salt"
	cat >"$MOAT_SANDBOX_STATE/netagent.yaml" <<-'EOF'
	image: localhost/moat-curl:latest
	command: [sh, -c]
	prompt: ["{prompt}"]
	allow: [allowed.test]
	grants:
	  testapi:
	    env: [TEST_API_KEY]
	    inject:
	      - hosts: [api.anthropic.test, badcert.test, wrongname.test]
	        header: x-api-key
	  unstored:
	    optional: true
	    env: [UNSTORED_KEY]
	    inject:
	      - hosts: [unstored.test]
	        header: Authorization
	        value: "Bearer {secret}"
	EOF
	# a provider whose agent is a shell with curl, and whose grant goes to the test server
	for mode in root user; do
		as "$mode" sh -c 'mkdir -p "$HOME/.config/moat/providers" &&
			cp /run/moat-sandbox/netagent.yaml "$HOME/.config/moat/providers/netagent.yaml"'
	done
}

teardown_file() {
	sb systemctl stop moat-test-https
	for mode in root user; do
		as "$mode" sh -c 'rm -f "$HOME/.config/moat/providers/netagent.yaml"'
	done
}

# A secret per mode, made here, so that a find of it anywhere is a leak.
secret_of() { echo "sk-moat-e2e-$1-$(cat "$MOAT_SANDBOX_STATE/secret-salt")"; }

store_secret() {
	local secret
	secret=$(secret_of "$1")
	run as "$1" sh -c "printf '%s\n' '$secret' | moat grant add testapi"
	[ "$status" -eq 0 ]
	[ "$output" = "Stored the grant testapi, for api.anthropic.test, badcert.test, wrongname.test." ]
}

# agent MODE NAME SCRIPT: runs SCRIPT under `moat netagent -p` (strict, with its grants).
agent() {
	local mode=$1 name=$2 script=$3
	as "$mode" moat netagent -f -n "$name" "$(workspace "$mode")" -p "$script"
}

check_inject() {
	local secret id ws
	secret=$(secret_of "$1")
	ws=$(workspace "$1")
	store_secret "$1"
	run --separate-stderr agent "$1" "inject-$1" \
		'curl -sS https://api.anthropic.test/v1/messages -H "x-api-key: $TEST_API_KEY"; echo " rc=$?"'
	[ "$status" -eq 0 ]
	[ "$output" = "ok
 rc=0" ]
	[[ "$stderr" =~ Run\ inject-$1\ \(([0-9a-f]{12})\)\ exited\ with\ code\ 0$ ]]
	id=${BASH_REMATCH[1]}
	# the server got the exact header and value, in place of the placeholder
	run grep -c "^api.anthropic.test GET /v1/messages .*| x-api-key: $secret\$" "$HTTPS_LOG"
	[ "$output" = 1 ]
	run grep -c "x-api-key: moat-proxy" "$HTTPS_LOG"
	[ "$output" = 0 ]
	run as "$1" moat inspect --json "$id"
	has_json network '"strict"'
	has_json name '"testapi"'
	has_json header '"x-api-key"' 
	[[ "$output" != *"$secret"* ]]
	as "$1" moat rm "$id"
}
@test "a grant's secret reaches the server in its header, and the container never holds it" { each_mode check_inject; }

# Each request of an agent's is a connection of its own to the proxy; when its server closes
# the connection after it ("Connection: close" here), the next makes a new one: the proxy
# resumes its TLS session with the server, as a browser would, rather than pay a full
# handshake and verification for every request.
check_upstream_resumed() {
	store_secret "$1"
	run --separate-stderr agent "$1" "resume-$1" \
		'for i in 1 2 3; do curl -sS -H "Connection: close" https://api.anthropic.test/tls-resumed; done'
	[ "$status" -eq 0 ] || { echo "$output $stderr" >&2; return 1; }
	[ "$output" = "full
resumed
resumed" ]
}
@test "the proxy resumes its TLS session with a grant's server on the next connection" { each_mode check_upstream_resumed; }

# A client that opens a connection a request (curl in a script, a tool) leaves the server's
# connection idle at a boundary: the next client of the same host takes it, rather than pay a
# new connection and handshake; not after the server or the client said "Connection: close",
# not after a second idle.  Every request still carries the credential, once.
check_upstream_reused() {
	local secret
	secret=$(secret_of "$1")
	store_secret "$1"
	run --separate-stderr agent "$1" "reuse-$1" '
		for i in 1 2 3; do curl -sS https://api.anthropic.test/conn-seq; done
		curl -sS -H "Connection: close" https://api.anthropic.test/conn-seq
		curl -sS https://api.anthropic.test/conn-seq
		sleep 2.5
		curl -sS https://api.anthropic.test/conn-seq'
	[ "$status" -eq 0 ] || { echo "$output $stderr" >&2; return 1; }
	[ "$output" = "1
2
3
4
1
1" ] || { echo "sequence: $output" >&2; return 1; }
	run grep -c "^api.anthropic.test GET /conn-seq .*| x-api-key: $secret\$" "$HTTPS_LOG"
	[ "$output" = 6 ]
	run grep -c "^api.anthropic.test GET /conn-seq .*x-api-key: $secret.*x-api-key" "$HTTPS_LOG"
	[ "$output" = 0 ]
}
@test "the proxy hands a server's idle connection to the next client of its host, not after a close or a second" { each_mode check_upstream_reused; }

# Everywhere a secret could leak to, while a run that uses it runs and after it ended.
check_secret_nowhere() {
	local secret id scope ws
	secret=$(secret_of "$1")
	scope=$(scope_flag "$1")
	ws=$(workspace "$1")
	store_secret "$1"
	run as "$1" moat netagent -n "leak-$1" "$ws" -p \
		'curl -sS https://api.anthropic.test/ >/workspace/leak-out; sleep 1000'
	[ "$status" -eq 0 ]
	id=$(started_id "$output")
	for _ in $(seq 50); do as "$1" test -s "$ws/leak-out" && break; sleep 0.1; done
	[ "$(as "$1" cat "$ws/leak-out")" = ok ]
	secret_nowhere_running "$1" "$id" "$secret" "$ws"
	# the credential's property names the file, never what is in it
	run as "$1" busctl $scope get-property org.freedesktop.systemd1 \
		"/org/freedesktop/systemd1/unit/moat_2d${id}_2eservice" org.freedesktop.systemd1.Service LoadCredential
	[[ "$output" == *'"grant-testapi" "'*'/grants/testapi"'* ]]
	[[ "$output" != *"$secret"* ]]

	run as "$1" moat stop "$id"
	[ "$status" -eq 0 ]
	secret_nowhere_after "$1" "$secret" "$ws"
	as "$1" moat rm "$id"
}
@test "the secret is in no variable, file or /proc entry of the container, no argv, unit property, journal field or record" { each_mode check_secret_nowhere; }

check_strict() {
	local id ws
	ws=$(workspace "$1")
	store_secret "$1"
	run --separate-stderr agent "$1" "strict-$1" '
		curl -sS -o /dev/null -w "denied %{http_connect}\n" https://denied.test/
		curl -sS -w " %{http_code}\n" http://denied.test/
		curl -sS --noproxy "*" --connect-timeout 3 https://10.99.0.1/ 2>&1 | grep -o "Couldn.t connect to server"
		curl -sS --noproxy "*" --connect-timeout 3 https://10.99.0.2/ 2>&1 | grep -o "Couldn.t connect to server"
		curl -sS -o /dev/null -w "by address %{http_connect}\n" https://10.99.0.1/
		curl -sS -w "%{certs}" https://allowed.test/ >/workspace/allowed-certs
		echo "allowed rc=$?"
		curl -sS -o /dev/null -w "down %{size_download} %{http_code}" https://allowed.test/bytes/20971520
		echo " rc=$?"
		head -c 20971520 /dev/zero | curl -sS -o /dev/null -w "up %{size_upload} %{http_code}" \
			-H "Content-Type: application/octet-stream" --data-binary @- https://allowed.test/upload
		echo " rc=$?"
		true'
	[ "$status" -eq 0 ]
	# 20 MiB each way through the tunnel, whole: TLS inside it would fail on any byte changed
	[ "${lines[7]}" = "down 20971520 200 rc=0" ]
	[ "${lines[8]}" = "up 20971520 200 rc=0" ]
	[ "${lines[0]}" = "denied 403" ]
	# the body of a refusal names the host and what would allow it
	[ "${lines[1]}" = "moat: denied.test is not allowed by this run's network policy (strict); allow it with '--allow denied.test' or under network: allow: in moat.yaml" ]
	[ "${lines[2]}" = " 403" ]
	[ "${lines[3]}" = "Couldn't connect to server" ]
	[ "${lines[4]}" = "Couldn't connect to server" ]
	[ "${lines[5]}" = "by address 403" ]
	[ "${lines[6]}" = "allowed rc=0" ]
	[[ "$stderr" == *"moat: the run's proxy refused a connection: denied.test is not allowed by this run's network policy (strict); allow it with '--allow denied.test' or under network: allow: in moat.yaml"* ]]
	[[ "$stderr" =~ Run\ strict-$1\ \(([0-9a-f]{12})\) ]]
	id=${BASH_REMATCH[1]}
	# the allowed host's own certificate came through the tunnel unchanged
	run as "$1" sh -c "sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p' $ws/allowed-certs"
	[ "$output" = "$(cat "$MOAT_SANDBOX_STATE/tls/server.crt")" ]
	run grep -c "^allowed.test GET / .*x-api-key" "$HTTPS_LOG"
	[ "$output" = 0 ]
	run grep -c "^denied.test" "$HTTPS_LOG"
	[ "$output" = 0 ]
	# the refusals are the run's journal records, which logs and inspect show
	run as "$1" journalctl $(scope_flag "$1") MOAT_RUN_ID="$id" MOAT_EVENT=network-denied -o export
	[[ "$output" == *"MOAT_HOST=denied.test"* ]]
	[[ "$output" == *"MOAT_HOST=10.99.0.1"* ]]
	run --separate-stderr as "$1" moat logs "$id"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"moat: the run's proxy refused a connection: denied.test is not allowed by this run's network policy (strict); allow it with '--allow denied.test' or under network: allow: in moat.yaml"* ]]
	run as "$1" moat inspect --json "$id"
	[[ "$(tr -d ' \n\t' <<<"$output")" == *'"network_denied":["denied.test","10.99.0.1"]'* ]]
	as "$1" moat rm "$id"
}
@test "strict: other hosts get 403 and a network-denied record; addresses fail; an allowed host is tunnelled untouched" { each_mode check_strict; }

check_bad_upstream() {
	local before
	store_secret "$1"
	before=$(grep -c . "$HTTPS_LOG" || true)
	run --separate-stderr agent "$1" "badcert-$1" \
		'curl -sS -w "%{http_code}\n" https://badcert.test/secret-path; echo "rc=$?"'
	[ "$status" -eq 0 ]
	# the container gets the proxy's error, inside the tunnel, and nothing of the server
	[ "$output" = "$(printf 'moat: TLS with badcert.test failed: self-signed certificate\n502\nrc=0')" ]
	# no request reached the server: the proxy refused its certificate before sending any
	run grep -c "^badcert.test" "$HTTPS_LOG"
	[ "$output" = 0 ]
	run as "$1" sh -c "journalctl $(scope_flag "$1") -u 'moat-*' -o cat | grep -c 'TLS with badcert.test failed: self-signed certificate'"
	[ "$output" -ge 1 ]
	as "$1" moat rm "badcert-$1"
}
@test "an upstream server with a certificate nobody trusts is refused: the container sees the proxy's 502, no plaintext" { each_mode check_bad_upstream; }

# No moat-proxy of run ID is left, and nothing listens for it.
assert_proxy_gone() {
	local id=$1 out
	for _ in $(seq 50); do
		out=$(sb pgrep -f "moat-proxy $id" || true)
		[ -z "$out" ] && break
		sleep 0.1
	done
	[ -z "$out" ] || { echo "moat-proxy of $id still runs: $out" >&2; return 1; }
	# no socket listens on the proxy's port in any network namespace a process has (the
	# proxy's was in the container's: /proc/PID/net/tcp shows each process's own)
	out=$(sb sh -c "cat /proc/[0-9]*/net/tcp 2>/dev/null | awk '\$2 ~ /:0C38\$/ && \$4 == \"0A\"' | sort -u")
	[ -z "$out" ] || { echo "still listening on 3128: $out" >&2; return 1; }
}

# assert_no_kill MODE ID: once run ID's unit is inactive and the journal is synced, its journal
# (which has the run's end) says nothing was killed in it: the proxy went by itself, before
# the relay.
assert_no_kill() {
	local out
	for _ in $(seq 50); do
		[[ "$(as "$1" systemctl $(scope_flag "$1") is-active "moat-$2.service")" =~ ^(inactive|failed)$ ]] && break
		sleep 0.1
	done
	sb journalctl --sync
	out=$(as "$1" journalctl $(scope_flag "$1") -u "moat-$2.service" -o cat --no-pager)
	grep -Eq "^Run .* \($2\) (exited|stopped)" <<<"$out" || { echo "no end of run $2 in: $out" >&2; return 1; }
	! grep -E "Killing process|SIGKILL" <<<"$out"
}

# proxy_run MODE NAME: a strict run that sleeps, once its proxy runs; prints its id.
proxy_run() {
	local id out
	out=$(as "$1" moat run --image "$CURL_IMAGE" --network strict -n "$2" "$(workspace "$1")" -- sleep 1000)
	id=$(started_id "$out")
	[ -n "$(sb pgrep -f "moat-proxy $id")" ] || { echo "no proxy for $id" >&2; return 1; }
	echo "$id"
}

check_proxy_lifetime() {
	local id scope pid
	scope=$(scope_flag "$1")
	# the run ends by itself
	run as "$1" moat run -f --image "$CURL_IMAGE" --network strict -n "pend-$1" "$(workspace "$1")" -- true
	[ "$status" -eq 0 ]
	assert_proxy_gone "$(run_id_of "$1" "pend-$1")"
	assert_no_kill "$1" "$(run_id_of "$1" "pend-$1")"
	# moat stop, systemctl stop, a SIGKILLed main process
	id=$(proxy_run "$1" "pstop-$1")
	as "$1" moat stop "$id"
	assert_proxy_gone "$id"
	assert_no_kill "$1" "$id"
	id=$(proxy_run "$1" "psys-$1")
	as "$1" systemctl $scope stop "moat-$id.service"
	assert_proxy_gone "$id"
	assert_no_kill "$1" "$id"
	id=$(proxy_run "$1" "pkill-$1")
	as "$1" systemctl $scope kill --kill-who=main --signal=SIGKILL "moat-$id.service"
	for _ in $(seq 100); do
		[ "$(as "$1" systemctl $scope is-active "moat-$id.service")" = inactive ] && break
		sleep 0.1
	done
	assert_proxy_gone "$id"
	for name in pend pstop psys pkill; do
		assert_no_leftovers "$1" "$(run_id_of "$1" "$name-$1")"
		as "$1" moat rm "$name-$1"
	done
}
@test "the proxy ends with its run in every way a run ends, and nothing stays listening" { each_mode check_proxy_lifetime; }

check_bad_network_input() {
	local ws before
	ws=$(workspace "$1")
	before=$(count_everything "$1")
	run --separate-stderr as "$1" moat run --image "$CURL_IMAGE" --grant nosuch "$ws" -- true
	[ "$status" -eq 125 ]
	[ "$stderr" = "moat: unknown grant 'nosuch'; the providers define: anthropic, claude, gemini, github, openai, testapi, unstored" ]
	run --separate-stderr as "$1" moat run --image "$CURL_IMAGE" --network strict --allow '*.com' "$ws" -- true
	[ "$status" -eq 125 ]
	[ "$stderr" = "moat: invalid allow pattern '*.com': a wildcard needs two labels after it, as in *.example.com" ]
	run --separate-stderr as "$1" moat run --image "$CURL_IMAGE" --allow 10.0.0.1 "$ws" -- true
	[ "$status" -eq 125 ]
	[[ "$stderr" == "moat: invalid allow pattern '10.0.0.1': "* ]]
	run --separate-stderr as "$1" moat run --image "$CURL_IMAGE" --grant unstored "$ws" -- true
	[ "$status" -eq 125 ]
	[[ "$stderr" == "moat: the grant 'unstored' has no stored value; store it with 'moat grant add unstored'"* ]]
	run --separate-stderr as "$1" moat run --image "$CURL_IMAGE" --network none --grant testapi "$ws" -- true
	[ "$status" -eq 125 ]
	[[ "$stderr" == "moat: grants need the network: "* ]]
	run --separate-stderr as "$1" moat run --image "$CURL_IMAGE" --network closed "$ws" -- true
	[ "$status" -eq 125 ]
	[ "$stderr" = "moat: invalid --network 'closed': use open, strict or none" ]
	run --separate-stderr as "$1" sh -c 'printf "" | moat grant add testapi'
	[ "$status" -eq 125 ]
	[ "$stderr" = "moat: cannot store the grant testapi: the value is empty: give the secret on stdin or at the prompt" ]
	run --separate-stderr as "$1" sh -c 'printf "a\nb\n" | moat grant add testapi'
	[ "$status" -eq 125 ]
	[[ "$stderr" == *"a control character or a line break inside"* ]]
	run --separate-stderr as "$1" sh -c 'printf x | moat grant add nosuch'
	[ "$status" -eq 125 ]
	[[ "$stderr" == "moat: unknown grant 'nosuch'"* ]]
	[ "$(count_everything "$1")" = "$before" ]
	# the stored value survived the refused ones
	run as "$1" moat grant list
	[[ "$output" == *$'\ntestapi '*"api.anthropic.test, badcert.test, wrongname.test"* ]]
}
@test "bad input: unknown grant, bad allow pattern, unstored grant, empty value: one line, exit 125, nothing left" { each_mode check_bad_network_input; }

check_grant_store() {
	local home
	home=$(as "$1" sh -c 'echo $HOME/.moat'); [ "$1" = root ] && home=/var/lib/moat
	store_secret "$1"
	run as "$1" stat -c '%a %U' "$home/grants" "$home/grants/testapi"
	[ "${lines[0]}" = "700 $(as "$1" id -un)" ]
	[ "${lines[1]}" = "600 $(as "$1" id -un)" ]
	run as "$1" moat grant list
	[ "$status" -eq 0 ]
	[[ "$output" != *"$(secret_of "$1")"* ]]
	[[ "$output" =~ testapi\ +20[0-9-]+\ [0-9:]+\ +api.anthropic.test,\ badcert.test,\ wrongname.test ]]
	run as "$1" moat grant rm testapi
	[ "$status" -eq 0 ]
	run as "$1" moat grant rm testapi
	[ "$status" -eq 125 ]
	[ "$output" = "moat: no grant 'testapi' is stored; see 'moat grant list'" ]
	store_secret "$1"
}
@test "moat grant: the store is private; list shows names, dates and hosts, never values; rm" { each_mode check_grant_store; }

check_open_with_grant() {
	local id
	store_secret "$1"
	# an open run with a grant: the proxy injects for the grant's host, the rest goes direct
	run --separate-stderr as "$1" moat run -f --image "$CURL_IMAGE" --grant testapi -n "open-$1" "$(workspace "$1")" -- \
		sh -c 'curl -sS https://api.anthropic.test/open; curl -sS --noproxy "*" https://denied.test/direct-$0; echo "direct rc=$?"' "$1"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'ok\nok\ndirect rc=0')" ]
	run grep -c "^api.anthropic.test GET /open .*x-api-key: $(secret_of "$1")\$" "$HTTPS_LOG"
	[ "$output" = 1 ]
	# the direct request went around the proxy, without the credential
	run grep -c "^denied.test GET /direct-$1 .*| Accept: \*/\*\$" "$HTTPS_LOG"
	[ "$output" = 1 ]
	as "$1" moat rm "open-$1"
}
@test "an open run with --grant: the grant's host gets the credential, through the proxy" { each_mode check_open_with_grant; }

check_host_tricks() {
	local secret id
	secret=$(secret_of "$1")
	store_secret "$1"
	run --separate-stderr agent "$1" "host-$1" '
		api=https://api.anthropic.test
		curl -sS -w " %{http_code}\n" -H "Host: denied.test" $api/trick-host
		curl -sS -w " %{http_code}\n" --request-target https://denied.test/trick-target $api/
		curl -sS -w " %{http_code}\n" $api/first --next -sS -w " %{http_code} %{num_connects}\n" -H "Host: evil.test" $api/trick-second
		curl -sS -o /dev/null -w "%{http_code}\n" -H "Connection: Upgrade" -H "Upgrade: websocket" $api/refused-upgrade \
			--next -sS -w " %{http_code} %{num_connects}\n" -H "Host: other.test" $api/trick-after-upgrade
		curl -sS -w " %{http_code}\n" -X CONNECT --request-target denied.test:443 $api/
		curl -sS -w " %{http_code}\n" -H "Connection: Upgrade" -H "Upgrade: websocket" $api/upgrade
		curl -sS -w " %{http_code}\n" https://wrongname.test/trick-wrongname
		true'
	[ "$status" -eq 0 ]
	local why="moat: this connection is for api.anthropic.test and carries its credential;"
	local tail="which it does not send elsewhere: open a connection to that host instead"
	[ "${lines[0]}" = "$why its Host is denied.test, $tail" ]
	[ "${lines[1]}" = " 421" ]
	[ "${lines[2]}" = "$why its target names denied.test, $tail" ]
	[ "${lines[3]}" = " 421" ]
	# the second request on the same connection (no new one was made) is checked too
	[ "${lines[4]}" = "ok" ]
	[ "${lines[5]}" = " 200" ]
	[ "${lines[6]}" = "$why its Host is evil.test, $tail" ]
	[ "${lines[7]}" = " 421 0" ]
	# an upgrade the server refused leaves the connection inspected
	[ "${lines[8]}" = "200" ]
	[ "${lines[9]}" = "$why its Host is other.test, $tail" ]
	[ "${lines[10]}" = " 421 0" ]
	[ "${lines[11]}" = "$why it is a CONNECT to denied.test:443, $tail" ]
	[ "${lines[12]}" = " 421" ]
	# an upgrade the server took: the bytes after its 101 come through
	[ "${lines[13]}" = "upgraded" ]
	[ "${lines[14]}" = " 101" ]
	# a trusted certificate for another name is no certificate of wrongname.test's
	[ "${lines[15]}" = "moat: TLS with wrongname.test failed: hostname mismatch" ]
	[ "${lines[16]}" = " 502" ]
	# the server saw none of the tricks, and the rest with the credential
	run grep -c "trick" "$HTTPS_LOG"
	[ "$output" = 0 ]
	run grep -c "^api.anthropic.test GET /first .*x-api-key: $secret\$" "$HTTPS_LOG"
	[ "$output" = 1 ]
	run grep -c "^api.anthropic.test GET /refused-upgrade .*x-api-key: $secret\$" "$HTTPS_LOG"
	[ "$output" = 1 ]
	run grep -c "^api.anthropic.test GET /upgrade .*x-api-key: $secret\$" "$HTTPS_LOG"
	[ "$output" = 1 ]
	id=$(run_id_of "$1" "host-$1")
	run as "$1" journalctl $(scope_flag "$1") MOAT_RUN_ID="$id" MOAT_EVENT=network-denied -o export
	[[ "$output" == *"MOAT_HOST=evil.test"* ]]
	[[ "$output" == *"MOAT_HOST=other.test"* ]]
	[[ "$output" == *"MOAT_REASON=misdirected"* && "$output" != *"MOAT_REASON=policy"* ]]
	as "$1" moat rm "$id"
}
@test "a credential goes only to its host: other Hosts, targets, CONNECTs inside get 421; upgrades; a wrong name gets 502" { each_mode check_host_tricks; }

LOOPBACK_LOG=$MOAT_SANDBOX_STATE/loopback.log

check_never_the_host() {
	local id
	store_secret "$1"
	# a server on the host's loopback, which answers the host itself
	: >"$LOOPBACK_LOG"
	sb systemd-run --unit "moat-test-loopback-$1" /run/moat-sandbox/bin/https-server --listen 127.0.0.1:8443 \
		--cert /run/moat-sandbox/tls/server.crt --key /run/moat-sandbox/tls/server.key \
		--log /run/moat-sandbox/loopback.log
	for _ in $(seq 50); do sb curl -sk https://127.0.0.1:8443/control >/dev/null 2>&1 && break; sleep 0.1; done
	run grep -c "GET /control" "$LOOPBACK_LOG"
	[ "$output" = 1 ]
	# the container goes through the proxy even for the names NO_PROXY lists
	run --separate-stderr as "$1" moat run -f --image "$CURL_IMAGE" --grant testapi -n "own-open-$1" \
		"$(workspace "$1")" -- sh -c '
		c() { env -u NO_PROXY -u no_proxy curl -sS "$@"; echo " rc=$?"; }
		c -o /dev/null -w "%{http_connect}" https://127.0.0.1:8443/l1
		c -w "%{http_code}" http://localhost:8443/l2
		c -o /dev/null -w "%{http_connect}" https://10.99.0.254:8443/l3
		c -o /dev/null -w "%{http_connect}" https://x.loop.test:8443/l4' 2>/dev/null
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "403 rc=56" ]]
	[ "${lines[1]}" = "moat: localhost is this host itself (a loopback, link-local or own address): the proxy does not dial the host's own services" ]
	[ "${lines[2]}" = "403 rc=0" ]
	[[ "${lines[3]}" == "403 rc=56" ]]
	[[ "${lines[4]}" == "403 rc=56" ]]
	run --separate-stderr as "$1" moat run -f --image "$CURL_IMAGE" --network strict --allow '*.loop.test' \
		-n "own-strict-$1" "$(workspace "$1")" -- sh -c '
		c() { env -u NO_PROXY -u no_proxy curl -sS "$@"; echo " rc=$?"; }
		c -o /dev/null -w "%{http_connect}" https://x.loop.test:8443/s1
		c -o /dev/null -w "%{http_connect}" https://127.0.0.1:8443/s2' 2>/dev/null
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "403 rc=56" ]]
	[[ "${lines[1]}" == "403 rc=56" ]]
	# the listener saw no one but the control
	run grep -vc "GET /control" "$LOOPBACK_LOG"
	[ "$output" = 0 ]
	sb systemctl stop "moat-test-loopback-$1"
	id=$(run_id_of "$1" "own-open-$1")
	run as "$1" journalctl $(scope_flag "$1") MOAT_RUN_ID="$id" MOAT_EVENT=network-denied -o export
	[[ "$output" == *"MOAT_HOST=localhost"* ]]
	[[ "$output" == *"MOAT_HOST=x.loop.test"* ]]
	as "$1" moat rm "own-open-$1" "own-strict-$1"
}
@test "the proxy never dials the host itself: loopback, its own addresses, names that resolve there get 403" { each_mode check_never_the_host; }

# The proxy keeps the host's addresses between connections: one the host gains while a run
# goes on is refused from the next connection on (gained-MODE.loop.test names it in the sandbox).
check_gained_host_address() {
	local ws id addr
	ws=$(workspace "$1")
	addr=10.98.7.$([ "$1" = root ] && echo 1 || echo 2)
	as "$1" rm -f "$ws/.primed" "$ws/.added"
	# the first connection makes the proxy read the host's addresses
	run as "$1" moat run --image "$CURL_IMAGE" --network strict --allow '*.loop.test' -n "gained-$1" "$ws" -- sh -c "
		c() { env -u NO_PROXY -u no_proxy curl -sS -o /dev/null -w '%{http_connect}' \"\$@\" 2>/dev/null; echo \" rc=\$?\"; }
		c https://x.loop.test:8443/g1
		touch .primed
		while [ ! -e .added ]; do sleep 0.1; done
		c https://gained-$1.loop.test:8443/g2"
	[ "$status" -eq 0 ] || { echo "run: $output" >&2; return 1; }
	id=$(started_id "$output")
	for _ in $(seq 300); do as "$1" test -e "$ws/.primed" && break; sleep 0.1; done
	sb ip addr add "$addr/32" dev lo || { as "$1" moat stop "$id"; return 1; }
	as "$1" touch "$ws/.added"
	run as "$1" moat wait "$id"
	sb ip addr del "$addr/32" dev lo
	run as "$1" moat logs "$id"
	[[ "$output" == *"403 rc=56"*"gained-$1.loop.test is this host itself"*"403 rc=56"* ]] || { echo "logs: $output" >&2; return 1; }
	run as "$1" journalctl $(scope_flag "$1") MOAT_RUN_ID="$id" MOAT_EVENT=network-denied -o export
	[[ "$output" == *"MOAT_HOST=gained-$1.loop.test"* && "$output" == *"MOAT_REASON=host-itself"* ]] ||
		{ echo "journal: $output" >&2; return 1; }
	[[ "$output" != *"MOAT_REASON=policy"* ]] || { echo "a refusal blamed on the policy: $output" >&2; return 1; }
	as "$1" moat rm "$id"
}
@test "an address the host gains during a run is refused from the next connection on" { each_mode check_gained_host_address; }

check_proxy_unprivileged() {
	local id pid status
	id=$(proxy_run "$1" "priv-$1")
	pid=$(sb pgrep -f "moat-proxy $id")
	status=$(sb cat "/proc/$pid/status")
	# not root, even for the system manager's runs; no capability, no way to one; filtered
	[[ "$status" =~ $'\nUid:\t'([0-9]+) ]]
	[ "${BASH_REMATCH[1]}" != 0 ]
	[ "$1" = user ] || [ "${BASH_REMATCH[1]}" = "$(sb id -u nobody)" ]
	[[ "$status" == *$'\nCapEff:\t0000000000000000\n'* ]]
	[[ "$status" == *$'\nCapPrm:\t0000000000000000\n'* ]]
	[[ "$status" == *$'\nCapBnd:\t0000000000000000\n'* || "$1" = user ]]
	[[ "$status" == *$'\nNoNewPrivs:\t1\n'* ]]
	[[ "$status" == *$'\nSeccomp:\t2\n'* ]]
	# and it still serves: its policy's answer comes back
	run --separate-stderr as "$1" podman exec "$(as "$1" podman ps -q --no-trunc --filter "label=moat.run-id=$id")" \
		curl -sS -o /dev/null -w "%{http_connect}" https://x.loop.test/
	[ "$output" = 403 ]
	as "$1" moat stop "$id"
	assert_proxy_gone "$id"
	as "$1" moat rm "$id"
}
@test "the proxy runs unprivileged: not root, no capabilities, no_new_privs, a system-call filter" { each_mode check_proxy_unprivileged; }

# The proxy's TLS is a worker of its own: the front, resident for the whole run, never maps
# OpenSSL; the worker, a child of the front as confined as it, comes for the intercepted
# connections and ends a couple of seconds after the last, and the next brings a new one, as
# it does after a worker was killed.
check_tls_worker() {
	local id cid front worker status out
	store_secret "$1"
	out=$(as "$1" moat run --image "$CURL_IMAGE" --network strict --grant testapi -n "tlsw-$1" \
		"$(workspace "$1")" -- sleep 1000)
	id=$(started_id "$out")
	cid=$(as "$1" podman ps -q --no-trunc --filter "label=moat.run-id=$id")
	front=$(sb pgrep -f "moat-proxy $id")
	[ -n "$front" ] && [ "$(wc -l <<<"$front")" -eq 1 ] || { echo "proxies of $id: $front" >&2; return 1; }
	[ -z "$(tls_worker "$id")" ] || { echo "a TLS worker before any TLS" >&2; return 1; }
	run --separate-stderr as "$1" podman exec "$cid" curl -sS "https://api.anthropic.test/tlsw-$1-a"
	[ "$output" = ok ] || { echo "first request: $output $stderr" >&2; return 1; }
	# a slow download holds an intercepted connection open (4 s) while the worker is looked at
	slow_download "$1" "$cid"
	worker=$(wait_worker "$id")
	[ -n "$worker" ] || { echo "no TLS worker while an intercepted connection is open" >&2; return 1; }
	status=$(sb cat "/proc/$worker/status")
	[[ "$status" == *$'\nPPid:\t'"$front"$'\n'* ]]
	[[ "$status" =~ $'\nUid:\t'([0-9]+) ]]
	[ "${BASH_REMATCH[1]}" != 0 ]
	[[ "$status" == *$'\nCapEff:\t0000000000000000\n'* ]]
	[[ "$status" == *$'\nNoNewPrivs:\t1\n'* ]]
	[[ "$status" == *$'\nSeccomp:\t2\n'* ]]
	sb grep -q libssl "/proc/$worker/maps"
	! sb grep -E 'libssl|libcrypto' "/proc/$front/maps"
	# the download done, the worker ends by itself
	worker_gone "$id" 150 || { echo "the TLS worker outlived its linger" >&2; return 1; }
	run --separate-stderr as "$1" podman exec "$cid" curl -sS "https://api.anthropic.test/tlsw-$1-b"
	[ "$output" = ok ] || { echo "request after the worker ended: $output $stderr" >&2; return 1; }
	# a worker killed is replaced for the next connection
	slow_download "$1" "$cid"
	worker=$(wait_worker "$id")
	[ -n "$worker" ]
	sb kill -KILL "$worker"
	run --separate-stderr as "$1" podman exec "$cid" curl -sS "https://api.anthropic.test/tlsw-$1-c"
	[ "$output" = ok ] || { echo "request after the worker was killed: $output $stderr" >&2; return 1; }
	run grep -c "^api.anthropic.test GET /tlsw-$1-[abc] .*| x-api-key: $(secret_of "$1")\$" "$HTTPS_LOG"
	[ "$output" = 3 ]
	! sb grep -E 'libssl|libcrypto' "/proc/$front/maps"
	as "$1" moat stop "$id"
	assert_proxy_gone "$id"
	[ -z "$(tls_worker "$id")" ]
	as "$1" moat rm "$id"
}

# slow_download MODE CONTAINER: 200 KB from a grant's host at 50 KB/s, in the background.
slow_download() {
	as "$1" podman exec -d "$2" curl -sS -o /dev/null --limit-rate 50K https://api.anthropic.test/bytes/200000
}

# wait_worker ID: the pid of the run's TLS worker, once there is one (up to 3 s).
wait_worker() {
	local pid
	for _ in $(seq 30); do
		pid=$(tls_worker "$1")
		[ -n "$pid" ] && break
		sleep 0.1
	done
	echo "$pid"
}
@test "the proxy's TLS is a worker that comes for intercepted connections and goes; the front never maps OpenSSL" { each_mode check_tls_worker; }
