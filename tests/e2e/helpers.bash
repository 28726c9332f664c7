# Shared by the e2e tests: run commands inside the sandbox that tests/e2e.sh booted.
# `sb CMD` runs as root (system manager, rootful podman); `sbu CMD` as the test user (user
# manager, rootless podman).  Both take the command's environment from the sandbox, not the host.

sb() { "$SANDBOX" exec "$@"; }
sbu() { "$SANDBOX" exec --user "$@"; }

# as MODE CMD: MODE is root or user, so one test body can cover both managers.
as() {
	local mode=$1; shift
	case $mode in
	root) sb "$@" ;;
	user) sbu "$@" ;;
	*) echo "as: unknown mode $mode" >&2; return 2 ;;
	esac
}

TEST_IMAGE=localhost/moat-test:latest
