#!/bin/sh
# install.sh: install toybox-go as DESTDIR/sbin/toybox-go plus one symlink per
# applet at the path `toybox-go --list` prints (sbin/oneit, sbin/init, ...).
#
# usage: [DESTDIR=DIR] install.sh [-f] [--applets FILE] [BINARY]
#        [DESTDIR=DIR] install.sh --uninstall
#
# DESTDIR defaults to /. It is idempotent: what is already installed is left as
# it is. A file that is not our symlink is never replaced unless -f is given.
# What it made is recorded in DESTDIR/sbin/.toybox-go.installed, and
# --uninstall removes only that (and only while it is still ours).
# --applets FILE reads the --list output from FILE, for a binary of another
# architecture that cannot run here.
set -eu

dest=${DESTDIR:-/}
dest=${dest%/}
force=0
uninstall=0
applets=""
bin=""
while [ $# -gt 0 ]; do
	case $1 in
	-f | --force) force=1 ;;
	--uninstall) uninstall=1 ;;
	--applets) shift; applets=$1 ;;
	-h | --help) sed -n '2,15s/^# \{0,1\}//p' "$0"; exit 0 ;;
	-*) echo "install.sh: unknown option $1" >&2; exit 1 ;;
	*) bin=$1 ;;
	esac
	shift
done

sbin=$dest/sbin
manifest=$sbin/.toybox-go.installed

# target PATH: the relative symlink target from PATH to sbin/toybox-go.
target() {
	dir=${1%/*}
	[ "$dir" = "$1" ] && dir=.
	if [ "$dir" = sbin ]; then echo toybox-go; return; fi
	up=""
	rest=$dir
	while [ -n "$rest" ] && [ "$rest" != . ]; do
		up="../$up"
		case $rest in */*) rest=${rest%/*} ;; *) rest="" ;; esac
	done
	echo "${up}sbin/toybox-go"
}

if [ "$uninstall" = 1 ]; then
	[ -f "$manifest" ] || { echo "install.sh: nothing recorded in $manifest" >&2; exit 0; }
	while read -r p; do
		f=$dest/$p
		if [ "$p" = sbin/toybox-go ]; then
			rm -f "$f" && echo "removed $f"
		elif [ -L "$f" ] && [ "$(readlink "$f")" = "$(target "$p")" ]; then
			rm -f "$f" && echo "removed $f"
		elif [ -e "$f" ] || [ -L "$f" ]; then
			echo "install.sh: kept $f: no longer our symlink" >&2
		fi
	done <"$manifest"
	rm -f "$manifest"
	exit 0
fi

[ -n "$bin" ] || bin=build/toybox-go
[ -f "$bin" ] || { echo "install.sh: no binary at $bin (make build)" >&2; exit 1; }
if [ -n "$applets" ]; then
	list=$(cat "$applets")
else
	list=$("$bin" --list) || { echo "install.sh: $bin --list failed; give --applets FILE" >&2; exit 1; }
fi

mkdir -p "$sbin"
made=""
record() { made="$made $1"; }

if [ ! -f "$sbin/toybox-go" ] || ! cmp -s "$bin" "$sbin/toybox-go"; then
	if [ -L "$sbin/toybox-go" ] && [ "$force" != 1 ]; then
		echo "install.sh: $sbin/toybox-go is a symlink, not our binary (use -f)" >&2
		exit 1
	fi
	cp "$bin" "$sbin/.toybox-go.new"
	chmod 755 "$sbin/.toybox-go.new"
	mv -f "$sbin/.toybox-go.new" "$sbin/toybox-go"
	echo "installed $sbin/toybox-go"
fi
record sbin/toybox-go

refused=0
for p in $list; do
	f=$dest/$p
	t=$(target "$p")
	mkdir -p "${f%/*}"
	if [ -L "$f" ] && [ "$(readlink "$f")" = "$t" ]; then
		record "$p"
		continue
	fi
	if [ -e "$f" ] || [ -L "$f" ]; then
		if [ "$force" != 1 ]; then
			echo "install.sh: $f exists and is not our symlink; left alone (use -f to replace)" >&2
			refused=1
			continue
		fi
		rm -f "$f"
	fi
	ln -s "$t" "$f"
	record "$p"
	echo "linked $f -> $t"
done

# Keep earlier records too: what an older install made is still ours.
{ [ -f "$manifest" ] && cat "$manifest"; for p in $made; do echo "$p"; done; } | sort -u >"$manifest.new"
mv -f "$manifest.new" "$manifest"
exit $refused
