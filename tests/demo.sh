#!/bin/sh
# moat's main job, shown inside the sandbox as its non-root user: a fire-and-forget run in a
# workspace, then its output followed from the journal until it ends.  `make demo` runs it.
set -e
mkdir -p "$HOME/demo" && cd "$HOME/demo"
echo "\$ moat run --image localhost/moat-test:latest -- sh -c '...'"
out=$(moat run --image localhost/moat-test:latest -- sh -c \
	'for i in 1 2 3; do echo "step $i in $(pwd)"; sleep 1; done; echo "a line on stderr" >&2')
echo "$out"
id=$(echo "$out" | sed -n 's/^Started .* (\([0-9a-f]*\))\..*/\1/p')
echo "\$ moat logs $id -f"
moat logs "$id" -f
echo "\$ moat list"
moat list
echo "\$ journalctl --user -u moat-$id -o cat"
journalctl --user -u "moat-$id" -o cat
