package fsroot

import (
	"os"
	"path/filepath"
	"strconv"

	"toybox-go/applets/printf"
)

// State is the trust marker of an overlay: the text of the symlink .fs_state
// at the top of the data volume, as fstools writes it.
type State int

// States. An overlay is kept only when a previous boot reached `mount_root done`
// (Ready) after it was created; anything else is wiped at the next start.
const (
	Unknown State = 0
	Pending State = 1
	Ready   State = 2
)

const stateFile = ".fs_state"

// ReadState returns the state recorded in dir (Unknown when there is none or
// it is not a number).
func ReadState(dir string) State {
	target, err := os.Readlink(filepath.Join(dir, stateFile))
	if err != nil {
		return Unknown
	}
	n, err := strconv.Atoi(target)
	if err != nil || n < 0 || n > 2 {
		return Unknown
	}
	return State(n)
}

// WriteState records st in dir, atomically (a new symlink renamed over the old).
func WriteState(dir string, st State) error {
	tmp := filepath.Join(dir, stateFile+".new")
	_ = os.Remove(tmp)
	err := os.Symlink(strconv.Itoa(int(st)), tmp)
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, stateFile))
	}
	if err != nil {
		return printf.Errorf("writing %s state: %w", dir, err)
	}
	return nil
}

// keepOnWipe tells the top-level entries a wipe leaves: the marker, a config
// backup waiting to be restored, and ext4's lost+found.
func keepOnWipe(name string) bool {
	switch name {
	case stateFile, "sysupgrade.tgz", "lost+found":
		return true
	}
	return false
}

// Wipe empties an overlay volume mounted at dir, keeping what keepOnWipe names.
// It does not cross into other file systems.
func Wipe(dir string) error {
	_, err := removeEntries(dir, keepOnWipe)
	return err
}

// PrepareOverlay applies the .fs_state rules to a freshly mounted data volume:
// Ready is kept; anything else is marked Pending and wiped. It reports whether
// the volume was wiped.
func PrepareOverlay(dir string) (wiped bool, err error) {
	if ReadState(dir) == Ready {
		return false, nil
	}
	if err := WriteState(dir, Pending); err != nil {
		return false, err
	}
	return true, Wipe(dir)
}
