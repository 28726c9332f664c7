#!/usr/bin/env bats
# The egress proxy under an attacker's load, as root (system manager, rootful podman) and as
# the test user (user manager, rootless podman): a thousand connections at once, heads sent a
# byte at a time, a client that sends without reading.  tests/proxy-load.c makes the load
# from inside the container's network namespace (nsenter -n), as the agent would; the
# servers are the sandbox's (moat-test-https, see network.bats) and a sink on the host's
# loopback, x.loop.test:8444, that accepts and never reads, and a source there, :8445, that
# sends 64 MiB to each client.  The proxy's deadlines are
# shortened through MOAT_PROXY_TEST_TIMEOUTS in both managers' environments, so that a head
# deadline takes seconds here: 4 s for a whole head.

load helpers

CURL_IMAGE=localhost/moat-curl:latest
LOAD=/run/moat-sandbox/bin/proxy-load
TIMEOUTS=head=4000,setup=10000,idle=120000,linger=2000

setup_file() {
	setup_workspaces
	sb systemctl start moat-test-https
	sb systemctl set-environment MOAT_PROXY_TEST_TIMEOUTS=$TIMEOUTS
	sbu systemctl --user set-environment MOAT_PROXY_TEST_TIMEOUTS=$TIMEOUTS
	sb systemd-run --unit moat-test-sink "$LOAD" sink 127.0.0.1:8444
	sb systemd-run --unit moat-test-source "$LOAD" source 127.0.0.1:8445 67108864
	# a grant for the test server's api.anthropic.test, whose connections the TLS worker serves
	cat >"$MOAT_SANDBOX_STATE/loadagent.yaml" <<-'EOF'
	image: localhost/moat-curl:latest
	command: [sh, -c]
	grants:
	  loadapi:
	    env: [LOAD_API_KEY]
	    inject:
	      - hosts: [api.anthropic.test]
	        header: x-api-key
	EOF
	for mode in root user; do
		as "$mode" sh -c 'mkdir -p "$HOME/.config/moat/providers" &&
			cp /run/moat-sandbox/loadagent.yaml "$HOME/.config/moat/providers/loadagent.yaml" &&
			printf "sk-moat-load\n" | moat grant add loadapi >/dev/null'
	done
}

teardown_file() {
	sb systemctl unset-environment MOAT_PROXY_TEST_TIMEOUTS
	sbu systemctl --user unset-environment MOAT_PROXY_TEST_TIMEOUTS
	sb systemctl stop moat-test-sink moat-test-source moat-test-https
	for mode in root user; do
		as "$mode" sh -c 'moat grant rm loadapi >/dev/null; rm -f "$HOME/.config/moat/providers/loadagent.yaml"' || true
	done
}

# load_run MODE NAME: a strict run that sleeps, allowed allowed.test and the sink; prints
# "ID CONTAINER-PID PROXY-PID".
load_run() {
	local out id cid cpid ppid
	out=$(as "$1" moat run --image "$CURL_IMAGE" --network strict --allow allowed.test --allow x.loop.test \
		-n "$2" "$(workspace "$1")" -- sleep 1000)
	id=$(started_id "$out")
	cid=$(as "$1" podman ps -q --no-trunc --filter "label=moat.run-id=$id")
	cpid=$(as "$1" podman inspect -f '{{.State.Pid}}' "$cid")
	ppid=$(sb pgrep -f "moat-proxy $id")
	[ -n "$id" ] && [ -n "$cpid" ] && [ -n "$ppid" ] || { echo "no run, container or proxy: $out" >&2; return 1; }
	echo "$id $cpid $ppid"
}

# load CONTAINER-PID ARGS...: proxy-load in the container's network namespace.
load_in() {
	local cpid=$1; shift
	sb nsenter -t "$cpid" -n "$LOAD" "$@"
}

rss_kib() { sb awk '/^Rss:/ { print $2 }' "/proc/$1/smaps_rollup"; }

# rss_back PID IDLE: the RSS of PID in KiB once back within 2 MiB of IDLE, or after 5 s.
rss_back() {
	local rss
	for _ in $(seq 50); do
		rss=$(rss_kib "$1")
		[ "$rss" -le $(($2 + 2048)) ] && break
		sleep 0.1
	done
	echo "$rss"
}

# hold_in CONTAINER-PID N TARGET LOG: N connections to TARGET held open (60 s) from the
# container's network namespace, in the background, once every one is established.
hold_in() {
	sb sh -c "nsenter -t $1 -n $LOAD hold $2 $3 60 >/run/moat-sandbox/$4 2>&1 &"
	for _ in $(seq 100); do
		grep -q "held=" "$MOAT_SANDBOX_STATE/$4" && break
		sleep 0.1
	done
	[ "$(cat "$MOAT_SANDBOX_STATE/$4")" = "held=$2" ]
}

# The proxy of ID is gone by itself, and nothing was killed in its unit.
assert_proxy_ended() {
	local mode=$1 id=$2 out
	for _ in $(seq 100); do
		[[ "$(as "$mode" systemctl $(scope_flag "$mode") is-active "moat-$id.service")" =~ ^(inactive|failed)$ ]] && break
		sleep 0.1
	done
	[ -z "$(sb pgrep -f "moat-proxy $id" || true)" ] || { echo "moat-proxy of $id still runs" >&2; return 1; }
	sb journalctl --sync
	out=$(as "$mode" journalctl $(scope_flag "$mode") -u "moat-$id.service" -o cat --no-pager)
	! grep -E "Killing process|SIGKILL" <<<"$out"
}

check_burst() {
	local id cpid ppid idle rss pid_hold
	read -r id cpid ppid < <(load_run "$1" "burst-$1")
	# the idle figure, after one connection went through the paths the load takes
	run load_in "$cpid" burst 1 allowed.test:443
	[ "$output" = "served=1 busy=0 reset=0 other=0" ]
	sleep 0.5
	idle=$(rss_kib "$ppid")
	# a thousand at once: above the proxy's limit of 512 a client hears 503, none is reset
	run load_in "$cpid" burst 1000 allowed.test:443
	echo "# $1: $output (idle RSS ${idle} KiB)" >&3
	[[ "$output" =~ ^served=([0-9]+)\ busy=([0-9]+)\ reset=0\ other=0$ ]]
	[ $((BASH_REMATCH[1] + BASH_REMATCH[2])) -eq 1000 ]
	[ "${BASH_REMATCH[1]}" -ge 500 ]
	[ "${BASH_REMATCH[2]}" -ge 1 ]
	# the refusals are on record, counted
	for _ in $(seq 30); do
		run as "$1" journalctl $(scope_flag "$1") MOAT_RUN_ID="$id" MOAT_EVENT=proxy-busy -o cat
		[ -n "$output" ] && break
		sleep 0.1
	done
	[[ "$output" =~ Refused\ [0-9]+\ connections?:\ the\ proxy\ serves\ at\ most\ 512\ at\ once ]]
	# the burst gone, so is what it took: within 2 MiB of the idle figure
	rss=$(rss_back "$ppid" "$idle")
	echo "# $1: RSS ${rss} KiB after the burst" >&3
	[ "$rss" -le $((idle + 2048)) ]
	# the run stops with 300 tunnels open: the proxy ends them all and itself, unkilled
	hold_in "$cpid" 300 allowed.test:443 "hold-$1.log"
	as "$1" moat stop "$id"
	assert_proxy_ended "$1" "$id"
	pid_hold=$(sb pgrep -f "$LOAD hold 300" || true)
	[ -z "$pid_hold" ] || sb kill $pid_hold
	as "$1" moat rm "$id"
}
@test "1,000 connections at once: each served or answered 503 (and on record), none reset; memory returns; a stop ends them" { each_mode check_burst; }

# The same burst to a grant's host: the front hands each connection to the TLS worker, which
# answers its CONNECT, or answers 503 itself past the cap, which counts the worker's too.
check_burst_intercepted() {
	local out id cid cpid ppid idle rss pid_hold
	out=$(as "$1" moat run --image "$CURL_IMAGE" --network strict --grant loadapi -n "iburst-$1" \
		"$(workspace "$1")" -- sleep 1000)
	id=$(started_id "$out")
	cid=$(as "$1" podman ps -q --no-trunc --filter "label=moat.run-id=$id")
	cpid=$(as "$1" podman inspect -f '{{.State.Pid}}' "$cid")
	ppid=$(sb pgrep -f "moat-proxy $id")
	[ -n "$cpid" ] && [ -n "$ppid" ] || { echo "no container or proxy: $out" >&2; return 1; }
	run load_in "$cpid" burst 1 api.anthropic.test:443
	[ "$output" = "served=1 busy=0 reset=0 other=0" ]
	sleep 0.5
	idle=$(rss_kib "$ppid")
	run load_in "$cpid" burst 1000 api.anthropic.test:443
	echo "# $1: $output (the front's idle RSS ${idle} KiB)" >&3
	[[ "$output" =~ ^served=([0-9]+)\ busy=([0-9]+)\ reset=0\ other=0$ ]]
	[ $((BASH_REMATCH[1] + BASH_REMATCH[2])) -eq 1000 ]
	[ "${BASH_REMATCH[1]}" -ge 500 ]
	[ "${BASH_REMATCH[2]}" -ge 1 ]
	# the worker handed its ends back: a request goes through as before
	run --separate-stderr as "$1" podman exec "$cid" curl -sS https://api.anthropic.test/after-burst
	[ "$output" = ok ] || { echo "after the burst: $output $stderr" >&2; return 1; }
	rss=$(rss_back "$ppid" "$idle")
	[ "$rss" -le $((idle + 2048)) ]
	# and the worker, its connections gone, ends by itself
	worker_gone "$id"
	# the run stops with 100 intercepted connections open: the worker ends them and itself,
	# the front waits for it and ends, nothing killed
	hold_in "$cpid" 100 api.anthropic.test:443 "ihold-$1.log"
	[ -n "$(tls_worker "$id")" ]
	as "$1" moat stop "$id"
	assert_proxy_ended "$1" "$id"
	[ -z "$(tls_worker "$id")" ]
	pid_hold=$(sb pgrep -f "$LOAD hold 100" || true)
	[ -z "$pid_hold" ] || sb kill $pid_hold
	as "$1" moat rm "$id"
}
@test "1,000 connections at once to a grant's host: the TLS worker serves or the front answers 503, none reset" { each_mode check_burst_intercepted; }

check_slow_heads() {
	local id cpid ppid
	read -r id cpid ppid < <(load_run "$1" "slow-$1")
	# 200 heads at one byte a second, which a deadline per byte would never cut
	run load_in "$cpid" slow 200 allowed.test:443 1000
	echo "# $1: ${lines[*]}" >&3
	# a normal request was answered while every slow client was still held
	[ "${lines[0]}" = "normal=200 held=200" ]
	# then every one was cut, with 408, at the deadline of its whole head and not before
	[[ "${lines[1]}" =~ ^cut=200\ status408=200\ completed=0\ first_ms=([0-9]+)\ last_ms=([0-9]+)$ ]]
	[ "${BASH_REMATCH[1]}" -ge 3500 ]
	as "$1" moat stop "$id"
	assert_proxy_ended "$1" "$id"
	as "$1" moat rm "$id"
}
@test "200 slow heads are cut with 408 at the head's deadline, while a normal request is answered" { each_mode check_slow_heads; }

check_stalled_upload() {
	local id cpid ppid
	read -r id cpid ppid < <(load_run "$1" "stall-$1")
	# a client sends to a server that never reads, and never reads itself: it fills what the
	# proxy buffers for it and stalls, alone
	run load_in "$cpid" stall x.loop.test:8444 allowed.test:443
	echo "# $1: ${lines[*]}" >&3
	[[ "${lines[0]}" =~ ^stalled=[0-9]+$ ]]
	# while it is held, another client's CONNECT is answered: the loop did not wait on it
	[ "${lines[1]}" = "normal=200 held=1" ]
	# and a client slower than its server gets every byte: the queues fill, pause the server's
	# side, and resume it as they drain
	run load_in "$cpid" fetch x.loop.test:8445 67108864
	[ "$output" = "fetched=67108864" ]
	as "$1" moat stop "$id"
	assert_proxy_ended "$1" "$id"
	as "$1" moat rm "$id"
}
@test "a client that sends without reading blocks no one else; a slow reader gets every byte" { each_mode check_stalled_upload; }
