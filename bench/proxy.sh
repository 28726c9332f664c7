#!/usr/bin/env bash
# The egress proxy against going direct, from inside one run's container: an open run with a
# grant, so that both ways are open to the same client (curl, as agents' runtimes use).
#  - latency: a small HTTPS request on a fresh connection through the proxy's injecting path
#    (TLS ended and made again, the grant's header added) vs the same request made directly,
#    alternated; target: at most +1 ms median
#  - throughput: a 200 MiB download through a CONNECT tunnel vs direct, alternated; target:
#    ratio >= 0.95
#  - memory: the idle proxy's private memory (USS: Private_Clean + Private_Dirty), target at
#    most 1 MiB, and what each open connection adds (200 CONNECT tunnels held by
#    tests/proxy-load), target at most 64 KiB; RSS and PSS too, next to moat-relay's.  Idle is
#    the front alone: its TLS worker (lib/proxy-worker.c) ends once it has had no connection for
#    1 s, and is measured while it still serves, next to a bare process with OpenSSL loaded,
#    then with its client and server contexts (bench/tls-floor.c), for scale; what its end
#    costs the next request (a new worker) is reported too
# The servers are the sandbox's own (moat-test-https).  Rootless, "direct" goes through
# slirp4netns (user-mode networking), the proxy through the container's loopback.
#   Usage: bench/proxy.sh [REQUESTS] [DOWNLOADS]
. "$(dirname "$0")/lib.sh"
requests=${1:-200}
downloads=${2:-11}
image=localhost/moat-curl:latest
bench_boot
# the memory floor of any process that holds OpenSSL's TLS contexts, for scale
cc -O2 -o "$MOAT_SANDBOX_STATE/bin/tls-floor" "$top_srcdir/bench/tls-floor.c" -lssl -lcrypto
sb systemctl start moat-test-https
out=$top_builddir/bench/.proxy
mkdir -p "$out"
for mode in root user; do
	how=sb; [ "$mode" = user ] && how=sbu
	ws=/tmp/bench-ws; [ "$mode" = user ] && ws=/home/moattest/bench-ws
	id=$(grant_run "$how" "$ws" benchapi api.anthropic.test "bench-proxy-$mode")
	cid=$($how podman ps -q --no-trunc --filter "label=moat.run-id=$id")

	# one curl per request: a fresh connection (and TLS handshake) each time, both ways.  Both
	# trust only the two CAs they need (the test servers', the run's: the bundle's last two),
	# so that curl's parsing of a whole trust store, 20-40 ms and noisy, is not in the figure.
	$how podman exec "$cid" sh -c "
		awk '/BEGIN CERT/ { n++ } { c[n] = c[n] \$0 \"\\n\" } END { printf \"%s%s\", c[n - 1], c[n] }' \
			/etc/moat/ca-bundle.crt >/tmp/two-cas.crt
		for i in \$(seq $requests); do
			curl -sSo /dev/null --cacert /tmp/two-cas.crt -w 'p %{time_total}\n' https://api.anthropic.test/small
			curl -sSo /dev/null --cacert /tmp/two-cas.crt --noproxy '*' -w 'd %{time_total}\n' https://api.anthropic.test/small
		done" >"$out/latency"
	awk '$1 == "p" { print $2 * 1000 }' "$out/latency" >"$out/via-proxy"
	awk '$1 == "d" { print $2 * 1000 }' "$out/latency" >"$out/direct"
	# the TLS worker of the injecting path, as it is after those requests
	worker=$(sb pgrep -f "moat-proxy-tls $id" || true)
	read -r wr wp wu < <(mem "$worker")
	report "latency ($mode, small HTTPS request, grant injected)" proxy "$out/via-proxy" direct "$out/direct"
	printf 'latency added (%s): %+.2f ms median\n' "$mode" \
		"$(awk -v a="$(median <"$out/via-proxy")" -v b="$(median <"$out/direct")" 'BEGIN { print a - b }')"

	$how podman exec "$cid" sh -c "for i in \$(seq $downloads); do
		curl -sSo /dev/null -w 'p %{speed_download}\n' https://allowed.test/bytes/209715200
		curl -sSo /dev/null --noproxy '*' -w 'd %{speed_download}\n' https://allowed.test/bytes/209715200
	done" >"$out/throughput"
	awk '$1 == "p" { print $2 / 1048576 }' "$out/throughput" >"$out/tunnel"
	awk '$1 == "d" { print $2 / 1048576 }' "$out/throughput" >"$out/direct-dl"
	printf 'throughput (%s, 200 MiB, CONNECT tunnel): tunnel median %.1f MiB/s, direct median %.1f MiB/s, ratio %.3f (n=%d)\n' \
		"$mode" "$(median <"$out/tunnel")" "$(median <"$out/direct-dl")" \
		"$(awk -v a="$(median <"$out/tunnel")" -v b="$(median <"$out/direct-dl")" 'BEGIN { print a / b }')" \
		"$(wc -l <"$out/tunnel")"

	scope=; [ "$mode" = user ] && scope=--user
	relay=$($how systemctl $scope show -P MainPID "moat-$id.service")
	proxy=$(sb pgrep -f "moat-proxy $id")
	cpid=$($how podman inspect -f '{{.State.Pid}}' "$cid")
	# idle: no connection for longer than the proxy waits before it hands its free heap back
	# (1 s), and its TLS worker gone
	sleep 2
	tls_worker_gone "$id"
	read -r pr pp pu < <(mem "$proxy")
	read -r rr rp ru < <(mem "$relay")
	# measured while the proxy runs, so that the library pages both map count as shared
	read -r loaded floor < <(sb /run/moat-sandbox/bin/tls-floor)
	printf 'memory (%s, idle): moat-proxy RSS %d KiB, PSS %d KiB, USS %d KiB (target <= 1024); moat-relay RSS %d KiB, PSS %d KiB, USS %d KiB\n' \
		"$mode" "$pr" "$pp" "$pu" "$rr" "$rp" "$ru"
	printf 'memory (%s, the TLS worker after %d requests, gone when idle): RSS %d KiB, PSS %d KiB, USS %d KiB (a bare process with OpenSSL loaded: %d KiB, with its two TLS contexts: %d KiB)\n' \
		"$mode" "$requests" "${wr:-0}" "${wp:-0}" "${wu:-0}" "$loaded" "$floor"
	# 200 open tunnels
	sb sh -c "nsenter -t $cpid -n /run/moat-sandbox/bin/proxy-load hold 200 allowed.test:443 8 >/run/moat-sandbox/bench-hold 2>&1 &"
	for _ in $(seq 100); do grep -q held= "$MOAT_SANDBOX_STATE/bench-hold" 2>/dev/null && break; sleep 0.1; done
	read -r hr hp hu < <(mem "$proxy")
	printf 'memory (%s, %s): RSS %+d KiB, PSS %+d KiB, USS %+d KiB: %.1f KiB of USS per tunnel (target <= 64)\n' \
		"$mode" "$(cat "$MOAT_SANDBOX_STATE/bench-hold")" $((hr - pr)) $((hp - pp)) $((hu - pu)) \
		"$(awk -v d=$((hu - pu)) 'BEGIN { print d / 200 }')"
	sleep 9
	# what the worker's end costs the next request (after the figures above: a worker, a fork
	# of the front, shares the front's pages while it lives): the first after it ended (a new worker:
	# fork, the TLS module loaded, a full handshake with the server) against the warm ones
	for _ in 1 2 3 4 5; do
		tls_worker_gone "$id"
		$how podman exec "$cid" curl -sSo /dev/null --cacert /tmp/two-cas.crt -w '%{time_total}\n' \
			https://api.anthropic.test/small
	done | awk '{ print $1 * 1000 }' >"$out/cold"
	printf 'latency (%s, the first request after the TLS worker ended): median %.2f ms, warm median %.2f ms (n=%d)\n' \
		"$mode" "$(median <"$out/cold")" "$(median <"$out/via-proxy")" "$(wc -l <"$out/cold")"
	$how moat stop "$id" >/dev/null
	$how moat rm "$id" >/dev/null

	# a strict run without grants: its proxy only tunnels, and never makes a TLS context
	$how sh -c "cat >$ws/test-ca.crt" <"$MOAT_SANDBOX_STATE/tls/ca.crt"
	id=$($how moat run --image "$image" --network strict --allow allowed.test -n "bench-strict-$mode" "$ws" -- \
		sh -c 'for i in $(seq 20); do curl -sSo /dev/null --cacert /workspace/test-ca.crt https://allowed.test/small; done; sleep 3600' |
		sed -n 's/^Started .* (\([0-9a-f]*\)).*/\1/p')
	proxy=$(sb pgrep -f "moat-proxy $id")
	sleep 5 # the 20 tunnels done, and 2 s more
	read -r sr sp su < <(mem "$proxy")
	printf 'memory (%s, strict run without grants, after 20 tunnels): moat-proxy RSS %d KiB, PSS %d KiB, USS %d KiB\n' \
		"$mode" "$sr" "$sp" "$su"
	$how moat stop "$id" >/dev/null
	$how moat rm "$id" >/dev/null
done
rm -rf "$out"
