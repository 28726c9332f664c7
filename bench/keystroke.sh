#!/usr/bin/env bash
# Keystroke round trip: a key sent to a tmux pane (send-keys) until the container's terminal
# echoes it on the pane, in `moat run -i ... -- cat` against `podman run -it ... cat`, as the
# test user (rootless), measured the same way in one run.  Target: ratio of medians <= 1.0.
# Both ends go through one tmux control-mode client per pane: send-keys is a line on its
# stdin and the echo is the %output notification on its stdout, so no process is spawned
# per key and the clock reads microseconds (a capture-pane loop reads in 3-4 ms steps).
#   Usage: bench/keystroke.sh [KEYS]
. "$(dirname "$0")/lib.sh"
keys=${1:-100}
block=10
image=localhost/moat-test:latest
bench_boot
out=$(mktemp -d "$top_builddir/bench/out.XXXXXX")
tx() { tmux -L moat-bench "$@"; }
trap 'tx kill-server 2>/dev/null; "$SANDBOX" halt >/dev/null 2>&1' EXIT

# round_trips SESSION FILE N: N keystrokes through the control client of SESSION (fds
# ctl_in/ctl_out), each timed from the send-keys line until the pane's output shows it.
round_trips() {
	local sess=$1 file=$2 n=$3 i tok seen line s e
	for i in $(seq "$n"); do
		tok="k${RANDOM}x"
		# whatever the pane printed before belongs to earlier keys
		while IFS= read -r -t 0.001 line <&"$ctl_out"; do :; done
		seen=
		s=${EPOCHREALTIME/./} # microseconds, read in this shell: a $(...) would fork in the window
		printf 'send-keys -t %s %s\n' "$sess" "$tok" >&"$ctl_in"
		while IFS= read -r line <&"$ctl_out"; do
			[[ $line == "%output "* ]] || continue
			seen+=${line#%output * }
			[[ $seen == *"$tok"* ]] && break
		done
		e=${EPOCHREALTIME/./}
		awk -v d=$((e - s)) 'BEGIN { printf "%.3f\n", d / 1000 }' >>"$file"
		printf 'send-keys -t %s Enter\n' "$sess" >&"$ctl_in"
		sleep 0.05
	done
}

sbu mkdir -p /home/moattest/bench-ws
tx new-session -d -s moat -x 100 -y 30 "$SANDBOX exec --user moat run -i --image $image /home/moattest/bench-ws -- cat"
tx new-session -d -s podman -x 100 -y 30 "$SANDBOX exec --user podman run -it --rm $image cat"
sleep 3
# control_client SESSION: a control-mode client on fifos; sets ctl_in and ctl_out
control_client() {
	mkfifo "$out/$1.in" "$out/$1.out"
	tx -C attach -t "$1" <"$out/$1.in" >"$out/$1.out" &
	exec {ctl_in}>"$out/$1.in" {ctl_out}<"$out/$1.out"
}
control_client moat
moat_in=$ctl_in moat_out=$ctl_out
control_client podman
podman_in=$ctl_in podman_out=$ctl_out
sleep 0.5
# alternate in blocks
for _ in $(seq $((keys / block))); do
	ctl_in=$moat_in ctl_out=$moat_out round_trips moat "$out/moat" "$block"
	ctl_in=$podman_in ctl_out=$podman_out round_trips podman "$out/podman" "$block"
done
report "keystroke round trip" "moat run -i" "$out/moat" "podman run -it" "$out/podman"
rm -rf "$out"
