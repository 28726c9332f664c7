#!/usr/bin/env bats
# The shipped agents (providers/*.yaml, as installed): their images built by `moat build`
# from their recipes (the base image's stand-in pulled by its real name, Debian's and npm's
# packages through the sandbox's build proxy) or taken from this machine's cache of earlier
# builds, and their CLIs run at the recipe's pinned version, as root and as the test user.

load helpers

# What this machine has cached goes in first, into both podmans at once (loading is mostly
# CPU: two at a time nearly halves the wait); what is missing the tests build.
setup_file() {
	local mode
	setup_workspaces
	for mode in root user; do
		as "$mode" moat providers | awk '$2 ~ /^localhost\/moat\// { print $2 }' | while read -r tag; do
			as "$mode" podman image exists "$tag" || "$AGENT_IMAGES" load "$mode" "$tag" || true
		done &
	done
	wait
}

# pinned NAME PACKAGE: the version of PACKAGE that the shipped recipe of NAME installs.
pinned() {
	grep -o "npm install -g $2@[0-9][0-9.]*" "$BATS_TEST_DIRNAME/../../providers/$1.yaml" | sed 's/.*@//'
}

# check_agent MODE NAME PACKAGE COMMAND: the image is there or built, and COMMAND --version in
# it prints the pinned version and exits 0.
check_agent() {
	local mode=$1 name=$2 package=$3 command=$4 tag version
	version=$(pinned "$name" "$package")
	[ -n "$version" ]
	tag=$(agent_image "$mode" "$name")
	[[ "$tag" =~ ^localhost/moat/$name:[0-9a-f]{12}$ ]]
	run --separate-stderr as "$mode" moat run -f --image "$tag" "$(workspace "$mode")" -- "$command" --version
	[ "$status" -eq 0 ] || { echo "status $status: $output $stderr" >&2; false; }
	[[ "$output" == *"$version"* ]] || { echo "no $version in: $output" >&2; false; }
}

check_claude() { check_agent "$1" claude @anthropic-ai/claude-code claude; }
check_codex() { check_agent "$1" codex @openai/codex codex; }
check_gemini() { check_agent "$1" gemini @google/gemini-cli gemini; }

@test "claude: the shipped recipe's image, built or cached, runs claude --version" {
	each_mode check_claude
}

@test "codex: the shipped recipe's image, built or cached, runs codex --version" {
	each_mode check_codex
}

@test "gemini: the shipped recipe's image, built or cached, runs gemini --version" {
	each_mode check_gemini
}
