#!/bin/sh
# moat's main job, shown inside the sandbox as its non-root user: a fire-and-forget run in a
# workspace, its output followed from the journal until it ends; then an agent-shaped run: a
# provider with a grant under --network strict, which asks for a host it is not allowed and
# is refused.  `make demo` runs it.
set -e
say() { printf '\n$ %s\n' "$*"; }
mkdir -p "$HOME/demo" && cd "$HOME/demo"
say "moat run --image localhost/moat-test:latest -- sh -c '...'"
out=$(moat run --image localhost/moat-test:latest -- sh -c \
	'for i in 1 2 3; do echo "step $i in $(pwd)"; sleep 1; done; echo "a line on stderr" >&2')
echo "$out"
id=$(echo "$out" | sed -n 's/^Started .* (\([0-9a-f]*\))\..*/\1/p')
say "moat logs $id -f"
moat logs "$id" -f
say "moat list"
moat list
say "journalctl --user -u moat-$id -o cat"
journalctl --user -u "moat-$id" -o cat

# An agent is a provider: its image, its command, how a prompt reaches it, its grants.  This
# one is a shell with curl, and its grant is for api.example.test.
mkdir -p "$HOME/.config/moat/providers"
cat >"$HOME/.config/moat/providers/demo-agent.yaml" <<'EOF'
image: localhost/moat-curl:latest
command: [sh, -c]
prompt: ["{prompt}"]
grants:
  demo-api:
    env: [DEMO_API_KEY]
    inject:
      - hosts: [api.example.test]
        header: x-api-key
EOF
say "cat ~/.config/moat/providers/demo-agent.yaml"
cat "$HOME/.config/moat/providers/demo-agent.yaml"
say "printf sk-demo-secret | moat grant add demo-api"
printf sk-demo-secret | moat grant add demo-api
# The agent holds a placeholder, never the secret: the run's proxy adds the secret to requests
# to api.example.test only.  Under strict it reaches nothing else: the refusal is on the
# terminal (moat's line on stderr), in the agent's own error (the proxy's 403 names the way to
# allow the host), in the run's journal and in moat inspect.
prompt='echo "the agent holds DEMO_API_KEY=$DEMO_API_KEY"; curl -sS https://example.com/; echo'
say "moat demo-agent --network strict -f -p '$prompt'"
moat demo-agent --network strict -n demo-agent -f -p "$prompt" || true
say "moat inspect --json demo-agent | grep -A2 network_denied"
moat inspect --json demo-agent | grep -A2 network_denied
moat rm demo-agent >/dev/null
moat grant rm demo-api >/dev/null
rm "$HOME/.config/moat/providers/demo-agent.yaml"
