package fsroot

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"

	"toybox-go/applets/internal/dirlist"
)

func devOf(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev)
	}
	return 0
}

// removeSameFS removes path and, for a directory, everything below it that is
// on file system dev. Mount points (another dev) and their parents stay.
func removeSameFS(path string, dev uint64) error {
	fi, err := os.Lstat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	if devOf(fi) != dev {
		return nil
	}
	if fi.IsDir() {
		ents, err := dirlist.Read(path)
		if err != nil {
			return err
		}
		var firstErr error
		for _, e := range ents {
			if err := removeSameFS(filepath.Join(path, e.Name()), dev); err != nil && firstErr == nil {
				firstErr = err
			}
		}
		if firstErr != nil {
			return firstErr
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// RemoveContents deletes everything inside dir that lives on dir's own file
// system, as switch_root does to free an initramfs: other mounts below dir are
// left alone, and so are the directories holding them. Errors are counted, not
// fatal: a best effort that frees what it can.
func RemoveContents(dir string) (failed int) {
	failed, _ = removeEntries(dir, nil)
	return failed
}

// removeEntries removes the entries of dir (but those keep names, when keep
// is not nil) with removeSameFS on dir's file system. It returns how many
// could not be removed and the first error; an unreadable dir counts as one.
func removeEntries(dir string, keep func(name string) bool) (failed int, firstErr error) {
	fi, err := os.Lstat(dir)
	if err != nil {
		return 1, err
	}
	ents, err := dirlist.Read(dir)
	if err != nil {
		return 1, err
	}
	for _, e := range ents {
		name := e.Name()
		if keep != nil && keep(name) {
			continue
		}
		if err := removeSameFS(filepath.Join(dir, name), devOf(fi)); err != nil {
			failed++
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	return failed, firstErr
}
