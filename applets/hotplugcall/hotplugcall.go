// Package hotplugcall is /sbin/hotplug-call, OpenWrt's dispatcher of one
// hotplug event to the scripts of /etc/hotplug.d/SUBSYSTEM.
package hotplugcall

import (
	"os"
	"syscall"

	"toybox-go/applets/internal/command"
	"toybox-go/applets/internal/getopt"
	"toybox-go/applets/internal/hotplug"
	"toybox-go/applets/printf"
)

// Usage is printed by --help.
const Usage = `usage: hotplug-call [-e ETC] SUBSYSTEM

Run the scripts of /etc/hotplug.d/SUBSYSTEM for one event, as OpenWrt's
base-files hotplug-call does: every regular file whose name does not start
with a dot, in byte order of the names, each sourced by /bin/sh in a subshell
of its own (no shebang or run bit needed; an exit ends only that script), with
the event's variables from the environment plus HOTPLUG_TYPE=SUBSYSTEM,
DEVICENAME (the last part of DEVPATH), PATH, USER=root and LOGNAME=root.
/lib/functions.sh is sourced first when it exists. No such directory: exit 0.

-e ETC  use ETC/hotplug.d instead of /etc/hotplug.d`

// Main runs hotplug-call. When there are scripts it replaces itself with the
// shell, whose exit status (the last script's) becomes hotplug-call's.
func Main(args []string) int {
	fs := getopt.New("hotplug-call", Usage, os.Stderr)
	etc := fs.String("e", "/etc")
	if err := fs.Parse(args[1:]); err != nil {
		return 1
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 1
	}
	sub := fs.Arg(0)
	c := &hotplug.Caller{Etc: *etc, Shell: "/bin/sh", Functions: "/lib/functions.sh"}
	scripts, err := c.Scripts(sub)
	if err == nil && len(scripts) == 0 {
		return 0
	}
	var cmd *command.Cmd
	if err == nil {
		cmd, err = c.Command(sub, scripts, os.Environ())
	}
	if err != nil {
		printf.Fprintln(os.Stderr, "hotplug-call:", err)
		return 1
	}
	// One process fewer: the shell takes over this one.
	err = syscall.Exec(cmd.Path, cmd.Args, cmd.Env)
	printf.Fprintf(os.Stderr, "hotplug-call: exec %s: %v\n", cmd.Path, err)
	return 1
}
