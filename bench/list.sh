#!/usr/bin/env bash
# `moat list` with 1,000 ended runs in the store (copies of one real record under new ids).
# Target: <= 50 ms.   Usage: bench/list.sh [RECORDS]
. "$(dirname "$0")/lib.sh"
records=${1:-1000}
bench_boot
sbu mkdir -p /home/moattest/bench-ws
sbu moat run --image localhost/moat-test:latest -n seed /home/moattest/bench-ws -- true >/dev/null
sbu moat wait seed >/dev/null
sbu sh -c 'cd ~/.moat/runs && seed=$(ls) && i=0 && while [ $i -lt '"$records"' ]; do
	id=$(printf "%012x" $((0x100000000000 + i))); mkdir -m 700 $id
	sed "s/$seed/$id/g; s/\"seed\"/\"run-$i\"/" $seed/metadata.json >$id/metadata.json; chmod 600 $id/metadata.json
	i=$((i + 1)); done'
out=$(mktemp -d "$top_builddir/bench/out.XXXXXX")
for _ in $(seq 20); do time_in user moat list >>"$out/list"; done
n=$(sbu moat list | wc -l)
printf 'moat list: %d runs listed, median %.1f ms (n=20)\n' "$((n - 1))" "$(median <"$out/list")"
rm -rf "$out"
