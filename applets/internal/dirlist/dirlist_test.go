package dirlist

import (
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
)

// names returns the names of ents, in their order.
func names(ents []fs.DirEntry) []string {
	out := make([]string, len(ents))
	for i, e := range ents {
		out[i] = e.Name()
	}
	return out
}

// TestReadMatchesOSReadDir: on real directories of every size up to a few
// hundred entries, files and subdirectories, names with bytes that sort
// differently as bytes and as text, Read lists what os.ReadDir lists, in
// the same order, with the same types.
func TestReadMatchesOSReadDir(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 3, 7, 64, 333} {
		dir := t.TempDir()
		for i := range n {
			name := strconv.Itoa(rng.IntN(1_000_000)) + []string{"", "é", "Z", "a", ".x", "\xff"}[i%6] + strconv.Itoa(i)
			var err error
			if i%5 == 0 {
				err = os.Mkdir(filepath.Join(dir, name), 0o755)
			} else {
				err = os.WriteFile(filepath.Join(dir, name), nil, 0o644)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		got, err := Read(dir)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(names(got), names(want)) {
			t.Fatalf("%d entries: Read gives %q, os.ReadDir %q", n, names(got), names(want))
		}
		for i := range got {
			if got[i].IsDir() != want[i].IsDir() {
				t.Errorf("%s: IsDir %v, os.ReadDir says %v", got[i].Name(), got[i].IsDir(), want[i].IsDir())
			}
		}
	}
}

func TestReadMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "absent")
	ents, err := Read(dir)
	var pe *fs.PathError
	if !errors.As(err, &pe) || !errors.Is(err, fs.ErrNotExist) || pe.Path != dir || ents != nil {
		t.Fatalf("Read(%q) = %v, %v; want nil and a *fs.PathError for a missing file", dir, ents, err)
	}
}

// fakeEntry is a DirEntry with only a name, for sorting.
type fakeEntry string

func (e fakeEntry) Name() string               { return string(e) }
func (e fakeEntry) IsDir() bool                { return false }
func (e fakeEntry) Type() fs.FileMode          { return 0 }
func (e fakeEntry) Info() (fs.FileInfo, error) { return nil, errors.New("no info") }

func TestSortIsAPermutationInOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for n := range 200 {
		ents := make([]fs.DirEntry, n)
		for i := range ents {
			ents[i] = fakeEntry(strconv.Itoa(rng.IntN(50))) // duplicates too
		}
		want := slices.Sorted(slices.Values(names(ents)))
		Sort(ents)
		if got := names(ents); !slices.Equal(got, want) {
			t.Fatalf("n=%d: got %q, want %q", n, got, want)
		}
	}
}

// TestFiles: regular files and links to them, in name order, full paths;
// not dot files, directories, links to directories, dangling links or FIFOs.
func TestFiles(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"20-b", "10-a", ".hidden", "30-c"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Mkdir(filepath.Join(dir, "15-dir"), 0o755))
	must(os.Symlink("10-a", filepath.Join(dir, "25-link")))
	must(os.Symlink("15-dir", filepath.Join(dir, "26-dirlink")))
	must(os.Symlink("absent", filepath.Join(dir, "27-dangling")))
	must(syscall.Mkfifo(filepath.Join(dir, "28-fifo"), 0o644))
	got, err := Files(dir)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range []string{"10-a", "20-b", "25-link", "30-c"} {
		want = append(want, filepath.Join(dir, f))
	}
	if !slices.Equal(got, want) {
		t.Errorf("Files = %q, want %q", got, want)
	}
	if _, err := Files(filepath.Join(dir, "absent")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Files of a missing directory: %v, want ErrNotExist", err)
	}
}
