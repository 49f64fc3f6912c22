// Package dirlist lists a directory in name order, as os.ReadDir does.
//
// os.ReadDir sorts with slices.SortFunc, a generic instantiation for
// fs.DirEntry of about 7.5 KB of code; the binary already holds the one for
// strings, and its size target is 2.6 MiB. Read sorts with a heap sort of a
// few hundred bytes instead: directories here hold tens to a few thousand
// entries, and O(n log n) is all that matters at that size.
package dirlist

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Read returns the entries of dir sorted by name (byte order). Like
// os.ReadDir, on an error while reading it returns the entries it read
// before the error, sorted, with the error.
func Read(dir string) ([]fs.DirEntry, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	ents, err := f.ReadDir(-1)
	f.Close()
	Sort(ents)
	return ents, err
}

// Files returns the full paths of the regular files in dir, links to one
// included (as the shell's [ -f ] sees them), in name order, leaving out
// names that start with a dot: the scripts of /etc/hotplug.d/SUBSYSTEM, the
// lists of /etc/modules.d. A directory, a device or a FIFO among them is
// skipped: reading a FIFO would block the boot.
func Files(dir string) ([]string, error) {
	ents, err := Read(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			out = append(out, p)
		}
	}
	return out, nil
}

// Sort sorts ents by name, in place.
func Sort(ents []fs.DirEntry) {
	n := len(ents)
	for i := n/2 - 1; i >= 0; i-- {
		siftDown(ents, i, n)
	}
	for end := n - 1; end > 0; end-- {
		ents[0], ents[end] = ents[end], ents[0]
		siftDown(ents, 0, end)
	}
}

// siftDown restores the max-heap order of ents[:n] below root.
func siftDown(ents []fs.DirEntry, root, n int) {
	for {
		child := 2*root + 1
		if child >= n {
			return
		}
		if child+1 < n && ents[child].Name() < ents[child+1].Name() {
			child++
		}
		if ents[root].Name() >= ents[child].Name() {
			return
		}
		ents[root], ents[child] = ents[child], ents[root]
		root = child
	}
}
