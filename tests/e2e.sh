#!/usr/bin/env bash
# The end-to-end suite: boots one private systemd + podman sandbox (tests/sandbox), runs every
# tests/e2e/*.bats against the installed moat inside it, and always halts it again.  Prints
# TAP (MOAT_E2E="NAME..." limits it to tests/e2e/NAME.bats).  Where the sandbox cannot boot it skips with the reason; under CI=true that fails.
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
sandbox=$top_srcdir/tests/sandbox
export MOAT_SANDBOX_STATE=${MOAT_SANDBOX_STATE:-$top_srcdir/tests/.sandbox}
export SANDBOX=$sandbox

reason=$("$sandbox" why-not) || true
if [ -z "$reason" ] && [ -z "${BATS:-}" ] && ! command -v bats >/dev/null; then
	reason="bats is missing (apt-get install bats)"
fi
if [ -n "$reason" ]; then
	if [ "${CI:-}" = true ]; then
		echo "1..1"
		echo "not ok 1 - e2e cannot run: $reason"
		exit 1
	fi
	echo "1..0 # SKIP e2e: $reason"
	exit 0
fi

halt() { "$sandbox" halt >/dev/null 2>&1; }
trap halt EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Test programs the e2e tests run inside: the sandbox sees its state directory at
# /run/moat-sandbox.
mkdir -p "$MOAT_SANDBOX_STATE/bin"
for tool in podman-probe podman-gate https-server proxy-load; do
	cp "${top_builddir:-.}/tests/$tool" "$MOAT_SANDBOX_STATE/bin/"
done
cp "$top_srcdir/tests/fake-model-api.py" "$MOAT_SANDBOX_STATE/bin/"

# A sandbox left by an interrupted run goes first, so every run starts from a fresh boot.
halt
if ! boot_log=$("$sandbox" boot 2>&1); then
	echo "1..1"
	echo "not ok 1 - the sandbox booted"
	printf '%s\n' "$boot_log" | sed 's/^/# /'
	exit 1
fi

# bats writes its scratch files under TMPDIR: keep them out of the host's /tmp.
export TMPDIR=${top_builddir:-$top_srcdir}/tests/.bats-tmp
rm -rf "$TMPDIR" && mkdir -p "$TMPDIR"
# MOAT_E2E="interactive network" runs those files alone (a developer's shortcut).
# (Not ${MOAT_E2E:-*}: that * would expand in the current directory, e.g. to Makefile.)
files=("$top_srcdir"/tests/e2e/*.bats)
if [ -n "${MOAT_E2E:-}" ]; then
	files=()
	for f in $MOAT_E2E; do files+=("$top_srcdir/tests/e2e/$f.bats"); done
fi
"${BATS:-bats}" --tap "${files[@]}"
rc=$?
rm -rf "$TMPDIR"
exit $rc
