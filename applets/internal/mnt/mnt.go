// Package mnt mounts file systems and moves mounts with mount(2), returning
// errors that say what was asked (source, target, type, flags) and wrap the
// errno, so errors.Is(err, unix.ENODEV) and the like work.
//
// It replaces u-root's pkg/mount, which brings fmt and log into the binary.
package mnt

import (
	"golang.org/x/sys/unix"

	"toybox-go/applets/printf"
)

// Mount mounts source on target as a file system of type fstype, with flags
// (unix.MS_*) and data (the file system's own options, "" for none).
func Mount(source, target, fstype, data string, flags uintptr) error {
	if err := unix.Mount(source, target, fstype, flags, data); err != nil {
		opts := FlagString(flags)
		if data != "" {
			opts += ", data " + data
		}
		return printf.Errorf("mount %s on %s (type %s, flags %s): %w", source, target, fstype, opts, err)
	}
	return nil
}

// Move moves the mount at from (and everything mounted below it) to to, like
// `mount --move FROM TO`. from must be the root of a mount and to a directory.
func Move(from, to string) error {
	if err := unix.Mount(from, to, "", unix.MS_MOVE, ""); err != nil {
		return printf.Errorf("move mount %s to %s: %w", from, to, err)
	}
	return nil
}

// flagNames are the mount(2) flags by the names mount(8) gives them.
var flagNames = []struct {
	bit  uintptr
	name string
}{
	{unix.MS_RDONLY, "ro"},
	{unix.MS_NOSUID, "nosuid"},
	{unix.MS_NODEV, "nodev"},
	{unix.MS_NOEXEC, "noexec"},
	{unix.MS_SYNCHRONOUS, "sync"},
	{unix.MS_REMOUNT, "remount"},
	{unix.MS_MANDLOCK, "mand"},
	{unix.MS_DIRSYNC, "dirsync"},
	{unix.MS_NOSYMFOLLOW, "nosymfollow"},
	{unix.MS_NOATIME, "noatime"},
	{unix.MS_NODIRATIME, "nodiratime"},
	{unix.MS_BIND, "bind"},
	{unix.MS_MOVE, "move"},
	{unix.MS_REC, "rec"},
	{unix.MS_SILENT, "silent"},
	{unix.MS_POSIXACL, "acl"},
	{unix.MS_UNBINDABLE, "unbindable"},
	{unix.MS_PRIVATE, "private"},
	{unix.MS_SLAVE, "slave"},
	{unix.MS_SHARED, "shared"},
	{unix.MS_RELATIME, "relatime"},
	{unix.MS_STRICTATIME, "strictatime"},
	{unix.MS_LAZYTIME, "lazytime"},
}

// FlagString names the bits of flags as mount(8) does, joined by "|"
// ("nosuid|nodev|noatime"); bits without a name follow in hex, and no flags
// at all is "0".
func FlagString(flags uintptr) string {
	if flags == 0 {
		return "0"
	}
	s := ""
	for _, f := range flagNames {
		if flags&f.bit != 0 {
			s += "|" + f.name
			flags &^= f.bit
		}
	}
	if flags != 0 {
		s += "|" + printf.Sprintf("%#x", uint64(flags))
	}
	return s[1:]
}
