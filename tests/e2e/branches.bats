#!/usr/bin/env bats
# Parallel runs on one repository, each on a branch and a checkout of its own (moat run
# --branch, moat branches), as root (system manager, rootful podman) and as the test user (user
# manager, rootless podman): the branches come back, the user's tree does not move, and nothing
# the agent plants in its checkout's git runs on the host.

load helpers

GIT_IMAGE=localhost/moat-test-git:latest

# The test image with the host's git, its libraries and the loader's cache.
build_git_image() {
	local root=$MOAT_SANDBOX_STATE/git-rootfs lib applet
	[ -s "$MOAT_SANDBOX_STATE/git-image.tar" ] && return 0
	rm -rf "$root"
	mkdir -p "$root"/{bin,etc,tmp,workspace,root,usr/bin}
	chmod 1777 "$root/tmp"
	cp /bin/busybox "$root/bin/busybox"
	for applet in $(/bin/busybox --list); do
		[ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
	printf 'root:x:0:\n' >"$root/etc/group"
	cp /usr/bin/git "$root/usr/bin/git"
	for lib in $(ldd /usr/bin/git | grep -o '/[^ ]*'); do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
	cp /etc/ld.so.cache "$root/etc/ld.so.cache"
	tar -C "$root" -cf "$MOAT_SANDBOX_STATE/git-image.tar" .
	rm -rf "$root"
}

home_of() { [ "$1" = user ] && echo /home/moattest || echo /root; }

setup_file() {
	local mode home
	build_git_image
	sb podman import --quiet /run/moat-sandbox/git-image.tar "$GIT_IMAGE" >/dev/null
	sbu podman import --quiet /run/moat-sandbox/git-image.tar "$GIT_IMAGE" >/dev/null
	# an agent with git: runs its prompt as a script, as its own user (not root)
	for mode in root user; do
		home=$(home_of "$mode")
		as "$mode" sh -c "mkdir -p $home/.config/moat/providers && cat >$home/.config/moat/providers/gitagent.yaml" <<-EOF
		image: $GIT_IMAGE
		command: [sh, -c, 'eval "\$1"', agent]
		prompt: ["{prompt}"]
		user: 4321:4321
		home: /home/gitagent
		EOF
	done
}

teardown_file() {
	local mode
	for mode in root user; do
		as "$mode" rm -f "$(home_of "$mode")/.config/moat/providers/gitagent.yaml"
		as "$mode" rm -rf "$(moat_home "$mode")/agents/gitagent"
	done
}

# brepo MODE NAME: a new repository with one commit, a changed file and an untracked one;
# echoes its path.
brepo() {
	local dir
	case $1 in
	root) dir=/tmp/branches/$2 ;;
	user) dir=/home/moattest/branches/$2 ;;
	esac
	as "$1" rm -rf "$dir"
	as "$1" mkdir -p "$dir"
	as "$1" sh -c 'cd "$1" && git init -q -b main . && git config user.name Tester &&
		git config user.email tester@example.com && echo base >base.txt && git add base.txt &&
		git commit -qm base && echo changed >>base.txt && echo mine >untracked.txt' sh "$dir"
	echo "$dir"
}

# snapshot MODE REPO: everything of REPO a run must not change: its files, index, HEAD and
# branches but moat/*.
snapshot() {
	as "$1" sh -c 'cd "$1" && git symbolic-ref HEAD && git rev-parse HEAD &&
		git for-each-ref --format="%(refname) %(objectname)" | grep -v "^refs/heads/moat/" ;
		find . -path ./.git/objects -prune -o -path ./.git/logs -prune -o -path "./.git/refs/heads/moat" -prune -o \
			-path ./.git/packed-refs -prune -o -path ./.git/FETCH_HEAD -prune -o -type f -print | sort |
			xargs sha256sum' sh "$2"
}

# checkout_of MODE NAME: the host path of branch NAME's checkout.
checkout_of() {
	as "$1" sh -c 'ls -d "$1"/checkouts/*/worktrees/"$2"' sh "$(moat_home "$1")" "$2"
}

# owned_by_caller MODE FILE: FILE belongs to the user who ran moat.
owned_by_caller() {
	local want got
	want=$(as "$1" sh -c 'echo "$(id -u):$(id -g)"')
	got=$(as "$1" stat -c %u:%g "$2")
	[ "$got" = "$want" ] || { echo "$2 is owned by $got, not $want" >&2; return 1; }
}

# in_repo MODE REPO COMMAND...: COMMAND typed in REPO.
in_repo() {
	local mode=$1 dir=$2; shift 2
	as "$mode" sh -c 'cd "$1" && shift && exec "$@"' sh "$dir" "$@"
}

check_three_at_once() {
	local mode=$1 repo before after b id ids=() out
	repo=$(brepo "$mode" three)
	before=$(snapshot "$mode" "$repo")
	for b in a b c; do
		run in_repo "$mode" "$repo" moat run --image "$GIT_IMAGE" --branch "$b" -- \
			sh -c "echo $b >$b.txt && git add $b.txt && git commit -qm 'add $b'"
		[ "$status" -eq 0 ] || { echo "start of $b: $output" >&2; return 1; }
		ids+=("$(started_id "$output")")
	done
	for id in "${ids[@]}"; do
		run as "$mode" moat wait "$id"
		[ "$status" -eq 0 ] || { echo "run $id: status $status: $output" >&2; as "$mode" moat logs "$id" >&2; return 1; }
	done
	for b in a b c; do
		# exactly its commit, on the user's HEAD, with exactly its file
		out=$(in_repo "$mode" "$repo" git rev-list --count main..moat/$b)
		[ "$out" = 1 ] || { echo "moat/$b has $out commits" >&2; return 1; }
		[ "$(in_repo "$mode" "$repo" git rev-parse moat/$b^)" = "$(in_repo "$mode" "$repo" git rev-parse main)" ]
		out=$(in_repo "$mode" "$repo" git show --name-only --format=%s moat/$b)
		[ "$out" = "add $b"$'\n\n'"$b.txt" ] || { echo "moat/$b: $out" >&2; return 1; }
		owned_by_caller "$mode" "$(checkout_of "$mode" "$b")/$b.txt"
	done
	after=$(snapshot "$mode" "$repo")
	[ "$before" = "$after" ] || { diff <(echo "$before") <(echo "$after") >&2; return 1; }
	# each run's agent state would be its checkout's: three workspaces, three records
	out=$(as "$mode" moat list --json)
	for b in a b c; do [[ "$out" == *"/worktrees/$b\""* ]] || { echo "no run on $b: $out" >&2; return 1; }; done
	as "$mode" moat rm "${ids[@]}" >/dev/null
	in_repo "$mode" "$repo" moat branches rm -f a b c >/dev/null
}

@test "three runs at once on one repository: three branches, each with its commit; the tree does not move" {
	each_mode check_three_at_once
}

check_planted() {
	local mode=$1 repo marks id co out
	repo=$(brepo "$mode" planted)
	marks=$(dirname "$repo")/marks
	as "$mode" rm -rf "$marks"
	as "$mode" mkdir -p "$marks"
	# what the agent points the host's git at; in a real attack a file of its checkout
	as "$mode" sh -c 'printf "#!/bin/sh\ntouch %s/ran-\$(basename \$0)-\$1\n" "$1" >"$1/evil" && chmod +x "$1/evil"' sh "$marks"
	run in_repo "$mode" "$repo" moat run --image "$GIT_IMAGE" --branch evil -- sh -c "
		echo x >x.txt && git add x.txt && git commit -qm x &&
		printf '#!/bin/sh\ntouch $marks/ran-post-commit\n' >.git/hooks/post-commit &&
		chmod +x .git/hooks/post-commit && cp .git/hooks/post-commit .git/hooks/reference-transaction &&
		cp .git/hooks/post-commit .git/hooks/pre-upload-pack &&
		git config core.fsmonitor '$marks/evil fsmonitor' && git config core.hooksPath /workspace/.git/hooks &&
		git config filter.x.clean '$marks/evil clean' && git config filter.x.required true &&
		git config diff.x.textconv '$marks/evil textconv' && echo '* filter=x diff=x' >.gitattributes &&
		echo changed >>x.txt"
	[ "$status" -eq 0 ] || { echo "start: $output" >&2; return 1; }
	id=$(started_id "$output")
	run as "$mode" moat wait "$id"
	[ "$status" -eq 0 ] || { echo "run: status $status" >&2; as "$mode" moat logs "$id" >&2; return 1; }
	co=$(checkout_of "$mode" evil)
	as "$mode" test -x "$co/.git/hooks/post-commit"
	as "$mode" git -C "$co" config core.fsmonitor >/dev/null
	# the fetch brought the commit, running nothing
	[ "$(in_repo "$mode" "$repo" git log -1 --format=%s moat/evil)" = x ]
	# moat's own looks into the checkout, and the user's git
	run in_repo "$mode" "$repo" moat branches
	[ "$status" -eq 0 ] && [[ "$output" == *"moat/evil"* ]] || { echo "branches: $output" >&2; return 1; }
	run in_repo "$mode" "$repo" moat branches diff evil
	[ "$status" -eq 0 ] && [[ "$output" == *"+x"* ]] || { echo "diff: $output" >&2; return 1; }
	in_repo "$mode" "$repo" git status >/dev/null
	in_repo "$mode" "$repo" sh -c 'echo more >more.txt && git add more.txt && git commit -qm more'
	in_repo "$mode" "$repo" moat branches fetch evil >/dev/null
	out=$(as "$mode" ls -A "$marks")
	[ "$out" = evil ] || { echo "something ran: $out" >&2; return 1; }
	as "$mode" moat rm "$id" >/dev/null
	in_repo "$mode" "$repo" moat branches rm -f evil >/dev/null
}

@test "hooks, fsmonitor, hooksPath and filters planted in a checkout run nowhere on the host" {
	each_mode check_planted
}

check_continue() {
	local mode=$1 repo co id1 id2 out before
	repo=$(brepo "$mode" cont)
	run in_repo "$mode" "$repo" moat run --image "$GIT_IMAGE" --branch cont -f -- \
		sh -c 'echo one >one.txt && git add one.txt && git commit -qm one'
	[ "$status" -eq 0 ] || { echo "first run: $output" >&2; return 1; }
	co=$(checkout_of "$mode" cont)
	# the second holds on until told: the branch is in use meanwhile
	run in_repo "$mode" "$repo" moat run --image "$GIT_IMAGE" --branch cont -- \
		sh -c 'echo two >two.txt && git add two.txt && git commit -qm two &&
			while [ ! -e .go ]; do sleep 0.2; done; rm -f .go'
	[ "$status" -eq 0 ] || { echo "second run: $output" >&2; return 1; }
	id2=$(started_id "$output")
	for _ in $(seq 100); do
		[ "$(as "$mode" git -C "$co" log -1 --format=%s moat/cont 2>/dev/null)" = two ] && break
		sleep 0.2
	done
	run --separate-stderr in_repo "$mode" "$repo" moat branches rm cont
	[ "$status" -ne 0 ] && [[ "$stderr" == *"in use by run"* ]] || { echo "rm while running: $status $stderr" >&2; return 1; }
	run --separate-stderr in_repo "$mode" "$repo" moat branches rm -f cont
	[ "$status" -ne 0 ] && [[ "$stderr" == *"in use by run"* ]] || { echo "rm -f while running: $status $stderr" >&2; return 1; }
	# a third run on the branch in use: one line, nothing left behind
	before=$(count_everything "$mode")
	run --separate-stderr in_repo "$mode" "$repo" moat run --image "$GIT_IMAGE" --branch cont -- true
	[ "$status" -eq 125 ] && [ "${#stderr_lines[@]}" -eq 1 ] && [[ "$stderr" == *"in use by run"* ]] ||
		{ echo "a run on a branch in use: $status $stderr" >&2; return 1; }
	[ "$(count_everything "$mode")" = "$before" ]
	as "$mode" touch "$co/.go"
	run as "$mode" moat wait "$id2"
	[ "$status" -eq 0 ] || { echo "second run: status $status" >&2; as "$mode" moat logs "$id2" >&2; return 1; }
	[ "$(in_repo "$mode" "$repo" git rev-list --count main..moat/cont)" = 2 ]
	run in_repo "$mode" "$repo" moat branches diff cont
	[ "$status" -eq 0 ] && [[ "$output" == *"+one"* && "$output" == *"+two"* ]] || { echo "diff: $output" >&2; return 1; }
	run in_repo "$mode" "$repo" moat branches
	[[ "$output" =~ moat/cont\ +$id2\ +exited.*\ 2\ +0\ +$repo ]] || { echo "list: $output" >&2; return 1; }
	# uncommitted work holds the checkout; then it goes, and the branch stays
	as "$mode" touch "$co/wip"
	run --separate-stderr in_repo "$mode" "$repo" moat branches rm cont
	[ "$status" -ne 0 ] && [[ "$stderr" == *"uncommitted"* ]] || { echo "rm with work: $status $stderr" >&2; return 1; }
	as "$mode" rm "$co/wip"
	run in_repo "$mode" "$repo" moat branches rm cont
	[ "$status" -eq 0 ] || { echo "rm: $output" >&2; return 1; }
	as "$mode" test ! -e "$co"
	[ "$(in_repo "$mode" "$repo" git rev-list --count main..moat/cont)" = 2 ]
	# merged, and its runs ended: moat clean takes its checkout
	run in_repo "$mode" "$repo" moat run --image "$GIT_IMAGE" --branch cont -f -- true
	[ "$status" -eq 0 ]
	in_repo "$mode" "$repo" git merge -q --ff-only moat/cont
	run as "$mode" moat clean
	[[ "$output" == *"Removed 1 checkout of merged branches."* ]] || { echo "clean: $output" >&2; return 1; }
	as "$mode" test ! -e "$co"
	in_repo "$mode" "$repo" git branch -qD moat/cont
}

@test "a second run on a branch continues it; diff shows both; rm and new runs wait for its end" {
	each_mode check_continue
}

check_bad_input() {
	local mode=$1 repo plain before home
	repo=$(brepo "$mode" bad)
	plain=$(dirname "$repo")/plain
	as "$mode" mkdir -p "$plain"
	home=$(moat_home "$mode")
	before="$(count_everything "$mode") $(as "$mode" sh -c "ls -R '$home/checkouts' 2>/dev/null" | md5sum)"
	run --separate-stderr as "$mode" moat run --image "$GIT_IMAGE" --branch x "$plain" -- true
	[ "$status" -eq 125 ] && [ "${#stderr_lines[@]}" -eq 1 ] && [[ "$stderr" == *"not in a git repository"* ]] ||
		{ echo "not a repository: $status $stderr" >&2; return 1; }
	run --separate-stderr as "$mode" moat run --image "$GIT_IMAGE" --branch 'a..b' "$repo" -- true
	[ "$status" -ne 0 ] && [ "${#stderr_lines[@]}" -eq 1 ] && [[ "$stderr" == *"invalid branch name"* ]] ||
		{ echo "a bad name: $status $stderr" >&2; return 1; }
	run --separate-stderr as "$mode" moat run --image "$GIT_IMAGE" --branch x --from nosuchref "$repo" -- true
	[ "$status" -eq 125 ] && [ "${#stderr_lines[@]}" -eq 1 ] && [[ "$stderr" == *"not a commit"* ]] ||
		{ echo "a bad --from: $status $stderr" >&2; return 1; }
	run --separate-stderr as "$mode" moat run --image "$GIT_IMAGE" --from main "$repo" -- true
	[ "$status" -ne 0 ] && [ "${#stderr_lines[@]}" -eq 1 ] && [[ "$stderr" == *"--from needs --branch"* ]]
	# an image that is not there
	run --separate-stderr as "$mode" moat run --image localhost/no-such-image:1 --branch x "$repo" -- true
	[ "$status" -ne 0 ]
	[ "$(count_everything "$mode") $(as "$mode" sh -c "ls -R '$home/checkouts' 2>/dev/null" | md5sum)" = "$before" ]
	[ -z "$(in_repo "$mode" "$repo" git branch --list 'moat/*')" ]
}

@test "bad input: one line, nothing left behind" {
	each_mode check_bad_input
}

check_agent_branches() {
	local mode=$1 repo co1 co2 home1 home2
	repo=$(brepo "$mode" agent)
	# objects only their owner reads: the agent, another uid, reads them through moat's mapping
	as "$mode" chmod -R go-rwx "$repo/.git/objects"
	run --separate-stderr in_repo "$mode" "$repo" moat gitagent --network none --branch ag1 -f -p \
		'echo "uid=$(id -u)"; echo one >one.txt && git add one.txt && git commit -qm one && git log -1 --format=%s%n%an &&
		echo mine >"$HOME/only-ag1"'
	[ "$status" -eq 0 ] || { echo "ag1: $status $output $stderr" >&2; return 1; }
	[ "$output" = $'uid=4321\none\nTester' ] || { echo "ag1 said: $output" >&2; return 1; }
	run --separate-stderr in_repo "$mode" "$repo" moat gitagent --network none --branch ag2 -f -p \
		'git log -1 --format=%s && test ! -e "$HOME/only-ag1" && echo own-home'
	[ "$status" -eq 0 ] || { echo "ag2: $status $output $stderr" >&2; return 1; }
	[ "$output" = $'base\nown-home' ] || { echo "ag2 said: $output" >&2; return 1; }
	[ "$(in_repo "$mode" "$repo" git log -1 --format=%s moat/ag1)" = one ]
	co1=$(checkout_of "$mode" ag1)
	co2=$(checkout_of "$mode" ag2)
	owned_by_caller "$mode" "$co1/one.txt"
	owned_by_caller "$mode" "$co1/.git/index"
	# the agent's state is its checkout's: two homes
	home1=$(as "$mode" moat state path gitagent "$co1")
	home2=$(as "$mode" moat state path gitagent "$co2")
	[ -n "$home1" ] && [ -n "$home2" ] && [ "$home1" != "$home2" ]
	as "$mode" test -e "$home1/only-ag1"
	as "$mode" test ! -e "$home2/only-ag1"
	[ "$mode" = user ] || [ -z "$(sb sh -c 'ls /run/moat/mounts; grep /run/moat/mounts /proc/self/mountinfo')" ]
	in_repo "$mode" "$repo" moat branches rm -f ag1 ag2 >/dev/null
}

@test "agents on branches: their own uid reads the borrowed objects and commits; a home per checkout" {
	each_mode check_agent_branches
}

check_monitor_killed() {
	local mode=$1 repo co id
	repo=$(brepo "$mode" killed)
	run in_repo "$mode" "$repo" moat run --image "$GIT_IMAGE" --branch killed -- \
		sh -c 'echo k >k.txt && git add k.txt && git commit -qm kept && sleep 1000'
	[ "$status" -eq 0 ] || { echo "start: $output" >&2; return 1; }
	id=$(started_id "$output")
	co=$(checkout_of "$mode" killed)
	for _ in $(seq 100); do
		[ "$(as "$mode" git -C "$co" log -1 --format=%s 2>/dev/null)" = kept ] && break
		sleep 0.2
	done
	as "$mode" systemctl $(scope_flag "$mode") kill --kill-who=main --signal=SIGKILL "moat-$id.service"
	run as "$mode" moat wait "$id"
	[ "$status" -eq 125 ] && [[ "$output" == *"the monitor ended before the run did"* ]] ||
		{ echo "wait: $status $output" >&2; return 1; }
	# its end, as recorded by the unit's cleanup, comes after the branch is back
	[ "$(in_repo "$mode" "$repo" git log -1 --format=%s moat/killed)" = kept ]
	as "$mode" moat rm "$id" >/dev/null
	in_repo "$mode" "$repo" moat branches rm -f killed >/dev/null
}

@test "a run whose monitor was killed still brings its branch back" {
	each_mode check_monitor_killed
}
