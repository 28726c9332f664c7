#!/usr/bin/env bats
# Shell completion as installed: the bash script loaded into a real bash, COMPREPLY checked
# for a few prefixes against the sandbox's runs, providers and grants.

load helpers

COMPLETION=/usr/local/share/bash-completion/completions/moat

# complete MODE WORD...: what bash completes for the last WORD of "moat WORD...".
complete_words() {
	local mode=$1; shift
	as "$mode" bash --norc --noprofile -c '. "$0"; COMP_WORDS=(moat "$@"); COMP_CWORD=$#; _moat
		printf "%s\n" "${COMPREPLY[@]}" | sort' "$COMPLETION" "$@"
}

check_completion() {
	local id
	id=$(started_id "$(mrun "$1" -n "compl-run-$1" "$(workspace "$1")" -- sleep 1000)")
	# commands and providers
	run complete_words "$1" lo
	[ "$output" = logs ]
	run complete_words "$1" cl
	[ "$output" = "$(printf 'claude\nclean')" ]
	run complete_words "$1" gr
	[ "$output" = grant ]
	run complete_words "$1" bu
	[ "$output" = build ]
	run complete_words "$1" tr
	[ "$output" = "$(printf 'trace\ntrust')" ]
	run complete_words "$1" us
	[ "$output" = usage ]
	run complete_words "$1" build co
	[ "$output" = codex ]
	run complete_words "$1" build --no
	[ "$output" = --no-cache ]
	# options of a command, values of an option
	run complete_words "$1" logs --f
	[ "$output" = --follow ]
	run complete_words "$1" run --network s
	[ "$output" = strict ]
	run complete_words "$1" run --gr
	[ "$output" = --grant ]
	run complete_words "$1" grant add gi
	[ "$output" = github ]
	# run names and ids
	run complete_words "$1" logs compl-run-
	[ "$output" = "compl-run-$1" ]
	run complete_words "$1" stop "${id:0:6}"
	[ "$output" = "$id" ]
	run complete_words "$1" exec compl
	[ "$output" = "compl-run-$1" ]
	# nothing after the container's "--"
	run complete_words "$1" run -- lo
	[ -z "$output" ]
	as "$1" moat stop "$id"
	as "$1" moat rm "$id"
}
@test "bash completion: commands, providers, options, policies, grants, run names and ids" { each_mode check_completion; }

@test "zsh completion is installed where zsh looks, as a function file zsh reads" {
	run sb head -n 1 /usr/local/share/zsh/site-functions/_moat
	[ "$output" = "#compdef moat" ]
	run sb zsh -n /usr/local/share/zsh/site-functions/_moat
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}
