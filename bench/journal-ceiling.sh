#!/usr/bin/env bash
# Where the relay's throughput ceiling comes from, as the test user (user manager):
#  1. the same LINES numbered lines through journald's two transports, in a unit each: the
#     stdout stream (`systemd-run seq`, relay.sh's floor) and the native protocol, one entry
#     per line from sd_journal_sendv (the only way with moat's fields per entry), timed until
#     the last line is in the journal;
#  2. what each does to the bytes: a line of output "a  " (trailing blanks), an empty line and
#     "b\r", through the stream transport and through `moat run` (native).
#   Usage: bench/journal-ceiling.sh [LINES]
. "$(dirname "$0")/lib.sh"
lines=${1:-200000}
image=localhost/moat-test:latest
bench_boot
mkdir -p "$MOAT_SANDBOX_STATE/bin"
cc -O2 -o "$MOAT_SANDBOX_STATE/bin/journal-native" "$top_srcdir/bench/journal-native.c" \
	$(pkg-config --cflags --libs libsystemd)
out=$(mktemp -d "$top_builddir/bench/out.XXXXXX")
unit_props='-p LogRateLimitIntervalSec=1s -p LogRateLimitBurst=1000000000'

for round in 1 2 3; do
	for how in stream native; do
		cmd="seq 1 $lines"
		[ "$how" = native ] && cmd="/run/moat-sandbox/bin/journal-native $lines"
		time_in user sh -c "systemd-run --user --quiet --wait $unit_props --unit $how-$round $cmd
			until [ \"\$(journalctl --user -u $how-$round -n 1 -o cat 2>/dev/null)\" = $lines ]; do sleep 0.02; done" \
			>>"$out/$how"
	done
done
st=$(median <"$out/stream"); na=$(median <"$out/native")
printf 'journald transports, %d lines: stdout stream %.0f lines/s (%.0f ms), native %.0f lines/s (%.0f ms), native/stream %.3f\n' \
	"$lines" "$(awk -v n="$lines" -v t="$st" 'BEGIN { print n / t * 1000 }')" "$st" \
	"$(awk -v n="$lines" -v t="$na" 'BEGIN { print n / t * 1000 }')" "$na" "$(awk -v a="$st" -v b="$na" 'BEGIN { print a / b }')"

# the bytes of printf 'a  \n\nb\r\n' as they come back, in `sed -n l` form ($ ends a line)
ws=/home/moattest/bench-ws
sbu mkdir -p "$ws"
sbu systemd-run --user --quiet --wait --unit shape printf 'a  \n\nb\r\n'
sleep 0.5
stream=$(sbu journalctl --user -u shape _TRANSPORT=stdout -o cat | sed -n l | tr '\n' ' ')
sbu moat run -f --image "$image" -n shape "$ws" -- printf 'a  \n\nb\r\n' >/dev/null 2>&1
native=$(sbu moat logs shape | sed -n l | tr '\n' ' ')
echo "printf 'a  \\n\\nb\\r\\n' comes back as: [ $stream] through the stdout stream, [ $native] through moat (native)"
rm -rf "$out"
