#!/bin/sh
# fetch-kernel.sh: download Debian's cloud kernel once and unpack it into a cache
# outside the repository, for the VM tests and the kmodloader tests.
#
# Prints the kernel directory on stdout. It holds:
#   vmlinux        the uncompressed ELF (qemu boots it through PVH, ~7 s faster
#                  under TCG than the XZ bzImage)
#   vmlinuz        the bzImage as packaged
#   version        the kernel release (uname -r)
#   lib/modules/RELEASE/...  the modules as packaged (no modules.dep)
#
# Cache: $TOYBOX_GO_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/toybox-go).
# FLAVOUR=cloud-amd64 by default (the meta package linux-image-$FLAVOUR).
set -eu

cache=${TOYBOX_GO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/toybox-go}
flavour=${FLAVOUR:-cloud-amd64}
mkdir -p "$cache"

# Resolve the versioned package the meta package depends on (it changes over time).
pkg=$(apt-cache depends "linux-image-$flavour" 2>/dev/null |
	sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\).*/\1/p' | head -n 1)
if [ -z "$pkg" ]; then
	# An old or missing package list: refresh it once (needs root), then retry.
	if [ "$(id -u)" = 0 ]; then apt-get update -qq >&2 || true; fi
	pkg=$(apt-cache depends "linux-image-$flavour" 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\).*/\1/p' | head -n 1)
fi
if [ -z "$pkg" ]; then
	# Offline but already fetched: use the newest cached kernel.
	last=$(ls -d "$cache"/linux-image-* 2>/dev/null | tail -n 1)
	if [ -n "$last" ] && [ -f "$last/vmlinux" ]; then echo "$last"; exit 0; fi
	echo "fetch-kernel: cannot resolve linux-image-$flavour (apt-get update?)" >&2
	exit 1
fi

dir=$cache/$pkg
if [ -f "$dir/vmlinux" ] && [ -f "$dir/version" ]; then
	echo "$dir"
	exit 0
fi

for tool in dpkg-deb xz lz4 od perl; do
	command -v $tool >/dev/null || { echo "fetch-kernel: $tool is missing" >&2; exit 1; }
done

tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# apt-get download as root warns that _apt cannot write here; it still works.
(cd "$tmp" && apt-get download "$pkg" 2>&1 | grep -v "^W: Download is performed unsandboxed" >&2)
dpkg-deb -x "$tmp"/*.deb "$tmp/root"
release=$(ls "$tmp/root/lib/modules" | head -n 1)
mkdir -p "$tmp/out/lib/modules"
mv "$tmp/root/lib/modules/$release" "$tmp/out/lib/modules/"
cp "$tmp/root/boot/vmlinuz-$release" "$tmp/out/vmlinuz"
echo "$release" >"$tmp/out/version"

# The bzImage wraps a compressed ELF: find the first known stream's magic and
# unpack it (Debian builds have used XZ, and LZ4 since late 6.1 updates).
unpack() { # unpack MAGIC(perl escape) COMMAND...
	magic=$1
	shift
	off=$(perl -0777 -ne "print index(\$_, \"$magic\")" "$tmp/out/vmlinuz")
	[ -n "$off" ] && [ "$off" -ge 0 ] || return 1
	tail -c +"$((off + 1))" "$tmp/out/vmlinuz" | "$@" >"$tmp/out/vmlinux" 2>/dev/null || true
	od -An -c -N4 "$tmp/out/vmlinux" | grep -q 'E   L   F'
}
unpack '\xfd7zXZ\x00' xz -dc --single-stream ||
	unpack '\x02\x21\x4c\x18' lz4 -dc ||
	unpack '\x28\xb5\x2f\xfd' zstd -dc ||
	unpack '\x1f\x8b\x08' gzip -dc || {
	echo "fetch-kernel: no vmlinux found in the bzImage (xz, lz4, zstd and gzip tried)" >&2
	exit 1
}
# Another fetch (a parallel test process) may have finished first: keep its
# copy, which may be in use, rather than replace it.
if [ ! -f "$dir/vmlinux" ] || [ ! -f "$dir/version" ]; then
	rm -rf "$dir"
	mv "$tmp/out" "$dir"
fi
echo "$dir"
