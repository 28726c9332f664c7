#!/usr/bin/env bash
# Keystroke round trip: a key sent to a tmux pane (send-keys) until the container's terminal
# echoes it on the pane, in `moat run -i ... -- cat` against `podman run -it ... cat`, as the
# test user (rootless), measured the same way in one run.  Target: ratio of medians <= 1.0.
#   Usage: bench/keystroke.sh [KEYS]
. "$(dirname "$0")/lib.sh"
keys=${1:-30}
image=localhost/moat-test:latest
bench_boot
out=$(mktemp -d "$top_builddir/bench/out.XXXXXX")
tx() { tmux -L moat-bench "$@"; }
trap 'tx kill-server 2>/dev/null; "$SANDBOX" halt >/dev/null 2>&1' EXIT

# round_trips PANE FILE: KEYS keystrokes, each timed until the pane shows it
round_trips() {
	local pane=$1 file=$2 i s e
	for i in $(seq "$keys"); do
		s=$(date +%s%N)
		tx send-keys -t "$pane" "k${i}x"
		until tx capture-pane -p -t "$pane" | grep -q "k${i}x"; do :; done
		e=$(date +%s%N)
		echo "$(( (e - s) / 1000 ))" | awk '{ printf "%.3f\n", $1 / 1000 }' >>"$file"
		tx send-keys -t "$pane" Enter
		sleep 0.05
	done
}

sbu mkdir -p /home/moattest/bench-ws
tx new-session -d -s moat -x 100 -y 30 "$SANDBOX exec --user moat run -i --image $image /home/moattest/bench-ws -- cat"
tx new-session -d -s podman -x 100 -y 30 "$SANDBOX exec --user podman run -it --rm $image cat"
sleep 3
# alternate in blocks of 5 keys
for _ in $(seq $((keys / 5))); do
	keys=5 round_trips moat "$out/moat"
	keys=5 round_trips podman "$out/podman"
done
report "keystroke round trip" "moat run -i" "$out/moat" "podman run -it" "$out/podman"
rm -rf "$out"
