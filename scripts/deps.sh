#!/bin/sh
# deps.sh: install what building and testing toybox-go needs on a Debian machine,
# then fetch the test kernel. Idempotent: installed packages are not touched.
# `make test`, `make run` and CI call it; it needs root for apt-get (without
# root it only says what is missing, and strict tests then fail loudly).
set -eu

# Debian packages and the commands that show they are there.
pkgs="qemu-system-x86:qemu-system-x86_64 cpio:cpio busybox-static:busybox toybox:toybox
tini:tini kmod:modinfo e2fsprogs:mkfs.ext4 qemu-user-static:qemu-mipsel-static
iproute2:ip util-linux:unshare xz-utils:xz lz4:lz4 zstd:zstd squashfs-tools:mksquashfs
gdisk:sgdisk fdisk:sfdisk dosfstools:mkfs.vfat f2fs-tools:mkfs.f2fs procps:ps
runit:runsv file:file musl-tools:musl-gcc
mtd-utils:ubinize"

missing=""
for p in $pkgs; do
	cmd=${p#*:}
	if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/sbin/$cmd" ] && [ ! -x "/usr/sbin/$cmd" ]; then
		missing="$missing ${p%%:*}"
	fi
done
# busybox-static specifically: a dynamic busybox cannot go into an initramfs.
if [ -x /bin/busybox ] && ! file -L /bin/busybox 2>/dev/null | grep -q 'statically linked'; then
	missing="$missing busybox-static"
fi

if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "deps: missing Debian packages:$missing (run as root to install them)" >&2
	else
		echo "deps: installing$missing" >&2
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		# shellcheck disable=SC2086
		apt-get install -y -qq --no-install-recommends $missing file >/dev/null
	fi
fi

# staticcheck for `make lint`, from the Go module proxy.
gobin=$(go env GOPATH)/bin
if [ ! -x "$gobin/staticcheck" ]; then
	echo "deps: installing staticcheck" >&2
	GOFLAGS= go install honnef.co/go/tools/cmd/staticcheck@v0.8.2 >&2 ||
		echo "deps: staticcheck could not be installed; make lint will say so" >&2
fi

# The test kernels (cached outside the repository): Debian's cloud kernel for
# the VM tests, and its generic kernel for those that need MTD, UBI and jffs2.
"$(dirname "$0")/fetch-kernel.sh" >/dev/null
FLAVOUR=amd64 "$(dirname "$0")/fetch-kernel.sh" >/dev/null
