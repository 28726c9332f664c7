# Shared by the e2e tests: run commands inside the sandbox that tests/e2e.sh booted.
# `sb CMD` runs as root (system manager, rootful podman); `sbu CMD` as the test user (user
# manager, rootless podman).  Both take the command's environment from the sandbox, not the host.

sb() { "$SANDBOX" exec "$@"; }
sbu() { "$SANDBOX" exec --user "$@"; }
# As the second test user, whose user manager runs without moat's journald drop-in.
sbb() { "$SANDBOX" exec --bare-user "$@"; }

# as MODE CMD: MODE is root or user, so one test body can cover both managers.
as() {
	local mode=$1; shift
	case $mode in
	root) sb "$@" ;;
	user) sbu "$@" ;;
	*) echo "as: unknown mode $mode" >&2; return 2 ;;
	esac
}

bats_require_minimum_version 1.5.0

TEST_IMAGE=localhost/moat-test:latest

# moat run with the test image, as MODE: mrun MODE [OPTIONS] [WORKSPACE] -- COMMAND...
mrun() {
	local mode=$1; shift
	as "$mode" moat run --image "$TEST_IMAGE" "$@"
}

# has_json KEY VALUE: $output (JSON) has "KEY": VALUE, whatever the spacing; VALUE is JSON
# text, e.g. '"running"' or 4.  Prefix match: '"the monitor' matches a longer string.
has_json() {
	local key=$1 value=$2
	grep -qF -- "\"$key\": $value" <<<"$(tr -d '\t' <<<"$output" | sed 's/": */": /g')" ||
		{ echo "no \"$key\": $value in: $output" >&2; return 1; }
}

# A workspace per mode, inside the sandbox.
workspace() {
	case $1 in
	root) echo /tmp/ws-root ;;
	user) echo /home/moattest/ws ;;
	esac
}

setup_workspaces() {
	sb mkdir -p /tmp/ws-root
	sbu mkdir -p /home/moattest/ws
}

scope_flag() { [ "$1" = user ] && echo --user || true; }

# Nothing of run ID is left: no container labelled with it, no unit.
assert_no_leftovers() {
	local mode=$1 id=$2 out
	out=$(as "$mode" podman ps -a --filter "label=moat.run-id=$id" --format '{{.ID}}')
	[ -z "$out" ] || { echo "container left for $id: $out" >&2; return 1; }
	out=$(as "$mode" systemctl $(scope_flag "$mode") list-units --all --no-legend "moat-$id.service")
	[ -z "$out" ] || { echo "unit left for $id: $out" >&2; return 1; }
}

# The number of moat runs in the store, moat containers and moat units of MODE.
count_everything() {
	local mode=$1 runs containers units
	runs=$(as "$mode" moat list --json | grep -o '"id":' | wc -l)
	containers=$(as "$mode" podman ps -a --filter label=moat.run-id --format '{{.ID}}' | wc -l)
	units=$(as "$mode" systemctl $(scope_flag "$mode") list-units --all --no-legend 'moat-*.service' | wc -l)
	echo "runs=$runs containers=$containers units=$units"
}

# The id of the run called NAME in MODE's store, or nothing.
run_id_of() { as "$1" moat list 2>/dev/null | awk -v n="$2" '$1 == n { print $2 }'; }

# tls_worker ID: the pid of the TLS worker of run ID's proxy (moat-proxy-tls), if it has one.
tls_worker() { sb pgrep -f "moat-proxy-tls $1" || true; }

# worker_gone ID [TENTHS]: the TLS worker of run ID's proxy is gone, or goes within TENTHS
# tenths of a second (100 unless given).
worker_gone() {
	for _ in $(seq "${2:-100}"); do
		[ -z "$(tls_worker "$1")" ] && return 0
		sleep 0.1
	done
	[ -z "$(tls_worker "$1")" ]
}

# The id in "Started NAME (ID). ..."
started_id() { sed -n 's/^Started .* (\([0-9a-f]\{12\}\))\. .*/\1/p' <<<"$1"; }

# each_mode FN: runs FN root, then FN user.  FN is called plainly (not in an || list, which
# would switch off errexit inside it), so any failing check in it fails the test; the line
# below says which mode it was in.
each_mode() {
	local fn=$1 mode
	for mode in root user; do
		echo "# as $mode" >&2
		"$fn" "$mode"
	done
}

# tmux on the test file's own server ($TMUX_SOCKET, made this sandbox's own: other build
# trees' suites may run beside it), for tests on a real terminal.
tx() { tmux -L "$TMUX_SOCKET-$(cksum <<<"$MOAT_SANDBOX_STATE" | cut -d' ' -f1)" "$@"; }

# A pane of 100x30 running bash, in session NAME.
pane_start() {
	tx new-session -d -s "$1" -x 100 -y 30 \
		"env -i PATH=$PATH TERM=xterm HOME=$HOME MOAT_SANDBOX_STATE=$MOAT_SANDBOX_STATE bash --norc --noprofile"
	sleep 0.3
}

# wait_pane NAME REGEX [SECONDS]: until the pane shows a line matching REGEX (10 s at most,
# or SECONDS).
wait_pane() {
	local i
	for i in $(seq $((${3:-10} * 10))); do
		tx capture-pane -p -t "$1" | grep -Eq -- "$2" && return 0
		sleep 0.1
	done
	echo "pane $1 never showed /$2/:" >&2
	tx capture-pane -p -t "$1" >&2
	return 1
}

# gate_start MODE UNIT DIR PATTERN request|response: a podman-gate (tests/podman-gate.c) in
# front of MODE's podman, as the unit UNIT, listening on DIR/gate.sock (DIR made anew): moat
# goes through it with CONTAINER_HOST=unix://DIR/gate.sock.
gate_start() {
	local mode=$1 unit=$2 dir=$3 pattern=$4 hold=$5 upstream
	if [ "$mode" = root ]; then
		upstream=/run/podman/podman.sock
	else
		upstream=/run/user/$(sbu id -u)/podman/podman.sock
	fi
	as "$mode" rm -rf "$dir"
	as "$mode" mkdir -p "$dir"
	as "$mode" systemd-run $(scope_flag "$mode") -q --collect --unit "$unit" \
		/run/moat-sandbox/bin/podman-gate "$dir/gate.sock" "$upstream" "$pattern" "$hold" "$dir"
	for _ in $(seq 50); do as "$mode" test -S "$dir/gate.sock" && break; sleep 0.1; done
	as "$mode" test -S "$dir/gate.sock"
}

# agent_image MODE NAME: the image of shipped agent NAME (providers/NAME.yaml) in MODE's
# podman, echoed as moat names it (localhost/moat/NAME:DIGEST).  Loaded from this machine's
# cache (tests/agent-images.sh) if there, else built with `moat build NAME` from the stand-in
# for its base image, through the sandbox's build proxy, and then cached.
AGENT_IMAGES=${AGENT_IMAGES:-$(dirname "$SANDBOX")/agent-images.sh}
agent_image() {
	local mode=$1 name=$2 tag t0 t1 t2
	tag=$(as "$mode" moat providers | awk -v n="$name" '$1 == n { print $2 }')
	[[ "$tag" == localhost/moat/"$name":* ]] || { echo "agent_image: no image for $name: '$tag'" >&2; return 1; }
	if ! as "$mode" podman image exists "$tag" && ! "$AGENT_IMAGES" load "$mode" "$tag"; then
		t0=$SECONDS
		"$AGENT_IMAGES" base >/dev/null || return 1
		t1=$SECONDS
		as "$mode" moat build "$name" >/dev/null || { echo "agent_image: moat build $name failed as $mode" >&2; return 1; }
		t2=$SECONDS
		"$AGENT_IMAGES" save "$mode" "$tag" || return 1
		# how long a machine without the cache takes, in the TAP output
		{ echo "# $tag as $mode: base image $((t1 - t0)) s, built in $((t2 - t1)) s, cached in $((SECONDS - t2)) s" >&3; } 2>/dev/null || true
	fi
	echo "$tag"
}

# moat_home MODE: where MODE's moat keeps its records, grants and agent state.
moat_home() {
	if [ "$1" = root ]; then echo /var/lib/moat; else sbu sh -c 'echo "${MOAT_HOME:-$HOME/.moat}"'; fi
}

# secret_nowhere_running MODE ID SECRET WORKSPACE: while run ID (a run with a grant) runs,
# SECRET is in no variable, /proc entry or file of its container (its whole filesystem,
# streamed out by tar: the secret never goes in), not in its configuration, not in any
# command line or in the environment of moat's processes, no property of its unit, and no
# file of MOAT_HOME but the grant store, nor of WORKSPACE.
secret_nowhere_running() {
	local mode=$1 id=$2 secret=$3 ws=$4 cid home out scope
	scope=$(scope_flag "$mode")
	home=$(moat_home "$mode")
	cid=$(as "$mode" podman ps -q --no-trunc --filter "label=moat.run-id=$id")
	[ -n "$cid" ] || { echo "no container for run $id" >&2; return 1; }
	out=$(as "$mode" podman exec "$cid" sh -c 'for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline; do cat "$f"; echo; done' | tr '\0' '\n')
	[[ "$out" == *=moat-proxy* ]] || { echo "no placeholder in the container's environment: $out" >&2; return 1; }
	[[ "$out" != *"$secret"* ]] || { echo "the secret is in the container's /proc" >&2; return 1; }
	# each file's tar header holds "ustar": their count shows that the files came out
	out=$(as "$mode" sh -c "podman exec $cid sh -c 'cd / && tar -cf - \$(ls -A / | grep -vx -e proc -e sys -e dev) 2>/dev/null' |
		grep -aoF -e '$secret' -e ustar | sort | uniq -c")
	[[ "$out" =~ ([0-9]+)\ ustar && ${BASH_REMATCH[1]} -gt 100 ]] || { echo "the container's files did not come out: $out" >&2; return 1; }
	[[ "$out" != *"$secret"* ]] || { echo "the secret is in a file of the container: $out" >&2; return 1; }
	out=$(as "$mode" podman inspect "$cid")
	[[ "$out" != *"$secret"* ]] || { echo "the secret is in podman inspect" >&2; return 1; }
	out=$(sb ps -eo args)
	[[ "$out" == *"moat-proxy $id"* ]] || { echo "no moat-proxy $id running: $out" >&2; return 1; }
	[[ "$out" != *"$secret"* ]] || { echo "the secret is on a command line" >&2; return 1; }
	out=$(as "$mode" systemctl $scope show "moat-$id.service")
	[[ "$out" == *"moat-$id.service"* && "$out" != *"$secret"* ]] || { echo "the secret is a unit property" >&2; return 1; }
	out=$(sb sh -c "for p in \$(pgrep -f 'moat-(relay|proxy|monitor) $id'); do tr '\\0' '\\n' </proc/\$p/environ; done" || true)
	[ -n "$out" ] || { echo "no moat process of $id to look into" >&2; return 1; }
	[[ "$out" != *"$secret"* ]] || { echo "the secret is in the environment of a moat process" >&2; return 1; }
	secret_in_no_file "$mode" "$secret" "$home" "$ws"
}

# secret_in_no_file MODE SECRET HOME WORKSPACE: no file of HOME but its grant store, and no
# file of WORKSPACE, holds SECRET.
secret_in_no_file() {
	local out
	out=$(as "$1" sh -c "grep -rl '$2' '$3' '$4' | grep -v '^$3/grants/'" || true)
	[ -z "$out" ] || { echo "the secret is in: $out" >&2; return 1; }
}

# secret_nowhere_after MODE SECRET WORKSPACE: after the run ended, no journal field (of any
# journal: root reads them all) and no file of MOAT_HOME but the grant store, nor of
# WORKSPACE, holds SECRET.
secret_nowhere_after() {
	local out
	out=$(sb sh -c "journalctl -o export | grep -ac '$2'" || true)
	[ "$out" = 0 ] || { echo "the secret is in the journal ($out)" >&2; return 1; }
	secret_in_no_file "$1" "$2" "$(moat_home "$1")" "$3"
}
