package hotplug

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"toybox-go/applets/internal/command"
	"toybox-go/applets/internal/dirlist"
	"toybox-go/applets/printf"
)

// Caller runs the scripts of ETC/hotplug.d/SUBSYSTEM the way base-files'
// /sbin/hotplug-call does: every regular, non-hidden file, in byte order of
// its name (ls in the C locale), each sourced by the shell in a subshell of
// its own (the files have no shebang and no run bit; an exit or a variable in
// one does not reach the next), with the event's environment. One shell runs
// them all: a process start is the expensive part on small machines.
type Caller struct {
	_         [0]func() // not comparable: no generated equality function
	Etc       string    // the /etc root
	Shell     string    // /bin/sh
	Functions string    // sourced first when it exists (/lib/functions.sh); "" for none
}

// CallPath is the PATH base-files' hotplug-call sets (TARGET_INIT_PATH).
const CallPath = "/usr/sbin:/usr/bin:/sbin:/bin"

// callScript is the shell program: $1 is the functions file, the rest the
// scripts. Inside each subshell $1 is the subsystem again, as the scripts
// see it when base-files' hotplug-call sources them.
const callScript = `if [ -n "$1" ] && [ -f "$1" ]; then . "$1"; fi
shift
for script in "$@"; do ( set -- "$HOTPLUG_TYPE"; . "$script" ); done`

// ErrBadSubsystem is returned for a subsystem name that is not one directory.
var ErrBadSubsystem = errors.New("subsystem is not a plain name")

// Scripts lists the files to run for subsystem, full paths in order; none
// (and no error) when the directory does not exist.
func (c *Caller) Scripts(subsystem string) ([]string, error) {
	if subsystem == "" || subsystem == "." || subsystem == ".." || strings.ContainsAny(subsystem, "/\x00") {
		return nil, printf.Errorf("%w: %q", ErrBadSubsystem, subsystem)
	}
	dir := filepath.Join(c.Etc, "hotplug.d", subsystem)
	out, err := dirlist.Files(dir) // sorted by name, byte order
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, nil
	}
	return out, err
}

// Command returns the shell command that runs scripts for subsystem with env
// (to which CallEnv's variables are added). Stdin, stdout and stderr are left
// to the caller. It fails when the shell is missing.
func (c *Caller) Command(subsystem string, scripts, env []string) (*command.Cmd, error) {
	if fi, err := os.Stat(c.Shell); err != nil || fi.IsDir() {
		return nil, printf.Errorf("no shell %s to run the %d scripts of %s: %w", c.Shell, len(scripts),
			filepath.Join(c.Etc, "hotplug.d", subsystem), errNoShell(err))
	}
	args := append([]string{"-c", callScript, "/sbin/hotplug-call", c.Functions}, scripts...)
	cmd := command.Command(c.Shell, args...)
	cmd.Args[0] = "sh"
	cmd.Env = CallEnv(env, subsystem)
	return cmd, nil
}

func errNoShell(err error) error {
	if err == nil {
		return errors.New("is a directory")
	}
	return err
}

// CallEnv is env plus what base-files' hotplug-call exports: HOTPLUG_TYPE,
// PATH, LOGNAME, USER and DEVICENAME (the last part of DEVPATH).
func CallEnv(env []string, subsystem string) []string {
	devpath := ""
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "DEVPATH="); ok {
			devpath = v
		}
	}
	return mergeEnv(env, []string{
		"HOTPLUG_TYPE=" + subsystem,
		"PATH=" + CallPath,
		"LOGNAME=root",
		"USER=root",
		"DEVICENAME=" + devpath[strings.LastIndexByte(devpath, '/')+1:],
	})
}
