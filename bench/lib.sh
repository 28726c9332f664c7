# shellcheck shell=bash
# Shared by the benchmarks: boot the sandbox (as `make check` does), time commands inside it,
# and report medians and their ratio.  Source it from a bench script run from the build tree.
set -euo pipefail
top_srcdir=${top_srcdir:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
top_builddir=${top_builddir:-$PWD}
export MOAT_SANDBOX_STATE=${MOAT_SANDBOX_STATE:-$top_builddir/bench/.sandbox}
export MOAT_STAGE=${MOAT_STAGE:-$top_builddir/tests/stage}
export MOAT_PREFIX=${MOAT_PREFIX:-/usr/local}
SANDBOX=$top_srcdir/tests/sandbox

bench_boot() {
	[ -x "$MOAT_STAGE$MOAT_PREFIX/bin/moat" ] ||
		{ echo "bench: no staged install; run 'make tests/stage.stamp' first" >&2; exit 1; }
	mkdir -p "$MOAT_SANDBOX_STATE/bin"
	for tool in podman-probe podman-gate https-server proxy-load; do
		cp "$top_builddir/tests/$tool" "$MOAT_SANDBOX_STATE/bin/"
	done
	trap '"$SANDBOX" halt >/dev/null 2>&1' EXIT
	"$SANDBOX" halt >/dev/null 2>&1 || true
	"$SANDBOX" boot >/dev/null
}

sb() { "$SANDBOX" exec "$@"; }
sbu() { "$SANDBOX" exec --user "$@"; }

# Milliseconds (3 decimals) that a command inside the sandbox takes, timed inside it so the
# nsenter around it does not count.
time_in() {
	local mode=$1; shift
	local how=sb
	[ "$mode" = user ] && how=sbu
	$how sh -c 's=$(date +%s%N); "$@" >/dev/null; e=$(date +%s%N); echo $(( (e - s) / 1000 ))' sh "$@" |
		awk '{ printf "%.3f\n", $1 / 1000 }'
}

# grant_run HOW WS GRANT HOST NAME: an open run of the curl image, sleeping, with GRANT (defined
# by a provider file benchagent.yaml, its value stored) injected for HOST; prints its id.
grant_run() {
	local how=$1 ws=$2 grant=$3 host=$4 name=$5
	$how sh -c "mkdir -p $ws \"\$HOME/.config/moat/providers\" && cat >\"\$HOME/.config/moat/providers/benchagent.yaml\"" <<-EOF
	image: localhost/moat-curl:latest
	command: [sh, -c]
	grants:
	  $grant:
	    env: [BENCH_API_KEY]
	    inject:
	      - hosts: [$host]
	        header: x-api-key
	EOF
	$how sh -c "printf sk-bench-value | moat grant add $grant" >/dev/null
	$how moat run --image localhost/moat-curl:latest --grant "$grant" -n "$name" "$ws" -- sleep 3600 |
		sed -n 's/^Started .* (\([0-9a-f]*\)).*/\1/p'
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# report NAME A_LABEL A_FILE B_LABEL B_FILE: medians and the ratio A/B.
report() {
	local name=$1 al=$2 af=$3 bl=$4 bf=$5 am bm
	am=$(median <"$af")
	bm=$(median <"$bf")
	printf '%s: %s median %.2f ms, %s median %.2f ms, ratio %.3f (n=%d)\n' "$name" "$al" "$am" "$bl" "$bm" \
		"$(awk -v a="$am" -v b="$bm" 'BEGIN { print a / b }')" "$(wc -l <"$af")"
}

# mem PID: "RSS PSS USS" of a process in the sandbox, in KiB (USS: Private_Clean + Private_Dirty)
mem() { sb cat "/proc/$1/smaps_rollup" 2>/dev/null | awk '/^Rss:/ { r = $2 } /^Pss:/ { p = $2 } /^Private_(Clean|Dirty):/ { u += $2 } END { print r + 0, p + 0, u + 0 }'; }

# tls_worker_gone ID: waits, 10 s at most, for the TLS worker of run ID's proxy to end
tls_worker_gone() {
	for _ in $(seq 100); do
		[ -z "$(sb pgrep -f "moat-proxy-tls $1" || true)" ] && return 0
		sleep 0.1
	done
}
