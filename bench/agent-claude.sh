#!/usr/bin/env bash
# What moat costs a real agent: `moat claude -p PROMPT -f` (the shipped provider, a stored
# grant, strict network through the run's proxy, the kept home) until the answer is printed
# and the run has ended, against `podman run --rm` of the same image and command with the key
# in the container's environment and no proxy (the unsafe way people do it today).  Both talk
# to the fake Anthropic API the e2e tests use (tests/fake-model-api.py on api.anthropic.com
# inside the sandbox), alternating, as root and as the test user.  Then the first run of a
# new workspace, and the first run with no image: moat builds it from the recipe.
# Target: <= +300 ms median.   Usage: bench/agent-claude.sh [N]
. "$(dirname "$0")/lib.sh"
n=${1:-10}
bench_boot
cp "$top_srcdir/tests/fake-model-api.py" "$MOAT_SANDBOX_STATE/bin/"
sb systemctl start moat-test-models
agent_images=$top_srcdir/tests/agent-images.sh
secret=sk-ant-bench-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
env_flags="-e DISABLE_AUTOUPDATER=1 -e CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 -e DISABLE_TELEMETRY=1 \
-e DISABLE_ERROR_REPORTING=1 -e CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL=1"
out=$(mktemp -d "$top_builddir/bench/out.XXXXXX")

# image MODE: the claude image in MODE's podman, from this machine's cache or built.
image() {
	local mode=$1 tag
	tag=$(as_mode "$mode" moat providers | awk '$1 == "claude" { print $2 }')
	if ! as_mode "$mode" podman image exists "$tag" && ! "$agent_images" load "$mode" "$tag" >&2; then
		"$agent_images" base >/dev/null
		as_mode "$mode" moat build claude >/dev/null
		"$agent_images" save "$mode" "$tag" >&2
	fi
	echo "$tag"
}
as_mode() {
	local m=$1; shift
	if [ "$m" = user ]; then sbu "$@"; else sb "$@"; fi
}

for mode in root user; do
	tag=$(image "$mode")
	[ "$mode" = root ] && ws=/tmp/bench-claude || ws=/home/moattest/bench-claude
	as_mode "$mode" mkdir -p "$ws"
	as_mode "$mode" sh -c "printf %s '$secret' | moat grant add anthropic" >/dev/null
	# the first run in a new workspace seeds the agent's home
	time_in "$mode" sh -c "cd $ws && moat claude -p hello -f" >"$out/first-$mode"
	for _ in $(seq "$n"); do
		time_in "$mode" sh -c "cd $ws && moat claude -p hello -f" >>"$out/moat-$mode"
		time_in "$mode" sh -c "podman run --rm --user 1000:1000 --tmpfs /home/node:mode=1777 -e HOME=/home/node \
			-e ANTHROPIC_API_KEY=$secret -e NODE_EXTRA_CA_CERTS=/run/moat-sandbox/tls/ca.crt \
			-v /run/moat-sandbox/tls/ca.crt:/run/moat-sandbox/tls/ca.crt:ro $env_flags \
			$tag claude --dangerously-skip-permissions -p hello </dev/null" >>"$out/podman-$mode"
	done
	report "claude -p to the answer, as $mode: moat vs podman run with the key" \
		"moat" "$out/moat-$mode" "podman run" "$out/podman-$mode"
	awk -v a="$(median <"$out/moat-$mode")" -v b="$(median <"$out/podman-$mode")" -v f="$(cat "$out/first-$mode")" \
		-v m="$mode" 'BEGIN { printf "as %s: moat adds %+.0f ms (median; target <= +300); first run in a new workspace %.0f ms\n", m, a - b, f }'
done

# the very first run: no image, so moat builds it from the recipe (Debian's and npm's
# packages through the sandbox's build proxy) before the answer
sb podman rmi -f "$(image root)" >/dev/null
"$agent_images" base >/dev/null
time_in root sh -c "cd /tmp/bench-claude && moat claude -p hello -f" >"$out/cold"
awk -v c="$(cat "$out/cold")" 'BEGIN { printf "as root, no image: the first answer after %.1f s (the build included)\n", c / 1000 }'
rm -rf "$out"
