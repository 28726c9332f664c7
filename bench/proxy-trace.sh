#!/usr/bin/env bash
# The request log and token usage parsing (issue 25) on the proxy's intercepting path, from
# inside one run's container (an open run with a grant for the model API, so that both ways
# are open to the same client, curl):
#  - latency: a model API request (POST /v1/messages, a JSON answer, and a streamed one) on a
#    fresh connection through the proxy — TLS ended and made again, the grant's header added,
#    the exchange logged to the journal and its usage parsed — vs the same request made
#    directly, alternated; the issue's target: at most +2 ms median added
#  - the journal: the run's request records counted against the requests made
#  - memory: the proxy's RSS, PSS and USS once the requests are done, next to moat-relay's
# Tunnel throughput (with the tunnel's byte counts) and the proxy's memory per tunnel are
# bench/proxy.sh's, which covers the same proxy.  The server is the sandbox's fake model API
# (tests/fake-model-api.py, moat-test-models), the same for both ways.
#   Usage: bench/proxy-trace.sh [REQUESTS]
. "$(dirname "$0")/lib.sh"
requests=${1:-100}
image=localhost/moat-curl:latest
bench_boot
cp "$top_srcdir/tests/fake-model-api.py" "$MOAT_SANDBOX_STATE/bin/"
sb systemctl start moat-test-models
out=$top_builddir/bench/.proxy-trace
mkdir -p "$out"
for mode in root user; do
	how=sb; [ "$mode" = user ] && how=sbu
	ws=/tmp/bench-ws; [ "$mode" = user ] && ws=/home/moattest/bench-ws
	id=$(grant_run "$how" "$ws" benchmodels api.anthropic.com "bench-trace-$mode")
	cid=$($how podman ps -q --no-trunc --filter "label=moat.run-id=$id")
	for kind in json sse; do
		body='{"model":"claude-sonnet-4-5"}'
		[ "$kind" = sse ] && body='{"model":"claude-sonnet-4-5","stream":true}'
		$how podman exec "$cid" sh -c "
			awk '/BEGIN CERT/ { n++ } { c[n] = c[n] \$0 \"\\n\" } END { printf \"%s%s\", c[n - 1], c[n] }' \
				/etc/moat/ca-bundle.crt >/tmp/two-cas.crt
			for i in \$(seq $requests); do
				curl -sSo /dev/null --cacert /tmp/two-cas.crt -w 'p %{time_total}\n' \
					https://api.anthropic.com/v1/messages?fake_usage=1000,200,30,4 -d '$body'
				curl -sSo /dev/null --cacert /tmp/two-cas.crt --noproxy '*' -w 'd %{time_total}\n' \
					https://api.anthropic.com/v1/messages?fake_usage=1000,200,30,4 -d '$body'
			done" >"$out/latency"
		awk '$1 == "p" { print $2 * 1000 }' "$out/latency" >"$out/via-proxy"
		awk '$1 == "d" { print $2 * 1000 }' "$out/latency" >"$out/direct"
		report "latency ($mode, model API request, $kind answer, logged and usage parsed)" proxy "$out/via-proxy" \
			direct "$out/direct"
		printf 'latency added (%s, %s): %+.2f ms median\n' "$mode" "$kind" \
			"$(awk -v a="$(median <"$out/via-proxy")" -v b="$(median <"$out/direct")" 'BEGIN { print a - b }')"
	done
	# the TLS worker that served them, before it ends (1 s after its last connection)
	worker=$(sb pgrep -f "moat-proxy-tls $id" || true)
	read -r wr wp wu < <(mem "$worker")
	records=$($how moat trace --json "$id" | grep -c '"usage":{"model":"claude-sonnet-4-5","input_tokens":1000')
	printf 'request log (%s): %d records with their usage for %d requests\n' "$mode" "$records" $((2 * requests))

	scope=; [ "$mode" = user ] && scope=--user
	relay=$($how systemctl $scope show -P MainPID "moat-$id.service")
	proxy=$(sb pgrep -f "moat-proxy $id")
	read -r pr pp pu < <(mem "$proxy")
	read -r rr rp ru < <(mem "$relay")
	printf 'memory (%s, after %d logged requests): moat-proxy RSS %d KiB, PSS %d KiB, USS %d KiB, its TLS worker RSS %d KiB, PSS %d KiB, USS %d KiB; moat-relay RSS %d KiB, PSS %d KiB, USS %d KiB\n' \
		"$mode" $((2 * requests)) "$pr" "$pp" "$pu" "${wr:-0}" "${wp:-0}" "${wu:-0}" "$rr" "$rp" "$ru"
	$how moat stop "$id" >/dev/null
	$how moat rm "$id" >/dev/null
	$how moat grant rm benchmodels >/dev/null
done
rm -rf "$out"
