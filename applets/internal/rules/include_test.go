package rules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInclude(t *testing.T) {
	dir := t.TempDir()
	main := writeFile(t, dir, "main.json", `[
	[ "before" ],
	[ "include", "sub.json" ],
	[ "after", "%A%" ]
]`)
	// sub's return ends sub only.
	writeFile(t, dir, "sub.json", `[
	[ "in-sub", "%A%" ],
	[ "if", [ "has", "STOP" ], [ "return" ] ],
	[ "sub-end" ]
]`)
	s := mustLoad(t, main)
	if w := s.Warnings(); len(w) != 0 {
		t.Errorf("warnings: %v", w)
	}
	if got, want := output(s, env("A=1")), []string{"before", "in-sub 1", "sub-end", "after 1"}; !equalLines(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := output(s, env("A=2", "STOP=")), []string{"before", "in-sub 2", "after 2"}; !equalLines(got, want) {
		t.Errorf("return in an include: got %q, want %q", got, want)
	}
	if got := s.Files(); len(got) != 2 || got[0] != main || got[1] != filepath.Join(dir, "sub.json") {
		t.Errorf("Files() = %q", got)
	}
}

// An include is looked up beside the including file, else as given; an
// absolute name is used as it is; nested includes resolve from their own
// directory.
func TestIncludeResolution(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "rules/main.json", `[ [ "include", "d/one.json" ], [ "include", "`+filepath.Join(dir, "abs.json")+`" ], [ "include", "testdata/include/cwd.json" ] ]`)
	writeFile(t, dir, "rules/d/one.json", `[ [ "one" ], [ "include", "two.json" ] ]`)
	writeFile(t, dir, "rules/d/two.json", `[ [ "two" ] ]`)
	writeFile(t, dir, "abs.json", `[ [ "abs" ] ]`)
	// testdata/include/cwd.json is relative to the test's working
	// directory, the package directory.
	s := mustLoad(t, filepath.Join(dir, "rules/main.json"))
	if w := s.Warnings(); len(w) != 0 {
		t.Errorf("warnings: %v", w)
	}
	if got, want := output(s, nil), []string{"one", "two", "abs", "cwd"}; !equalLines(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// libubox runs a file at most once per event: recursion stops, and a
// second include of the same file is skipped too.
func TestIncludeCycles(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "a.json", `[ [ "a" ], [ "include", "b.json" ], [ "include", "a.json" ], [ "a-end" ] ]`)
	writeFile(t, dir, "b.json", `[ [ "b" ], [ "include", "a.json" ], [ "include", "c.json" ], [ "include", "c.json" ], [ "b-end" ] ]`)
	writeFile(t, dir, "c.json", `[ [ "c" ] ]`)
	s := mustLoad(t, a)
	if got, want := output(s, nil), []string{"a", "b", "c", "b-end", "a-end"}; !equalLines(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	// Twice: the guard is per event.
	if got, want := output(s, nil), []string{"a", "b", "c", "b-end", "a-end"}; !equalLines(got, want) {
		t.Errorf("second run: got %q, want %q", got, want)
	}
	var recursive int
	for _, w := range s.Warnings() {
		if strings.Contains(w.Error(), "recursive include") {
			recursive++
		}
	}
	if recursive != 2 {
		t.Errorf("want 2 recursive-include warnings (a->a, b->a), got %v", s.Warnings())
	}
}

func TestIncludeSelfOnly(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "self.json", `[ [ "x" ], [ "include", "self.json" ], [ "y" ] ]`)
	s := mustLoad(t, p)
	if got, want := output(s, nil), []string{"x", "y"}; !equalLines(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// A broken or missing include costs only itself, with file:line.
func TestIncludeProblems(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "main.json", "[\n[ \"include\", \"missing.json\" ],\n[ \"include\", \"broken.json\" ],\n[ \"include\", \"fifo\" ],\n[ \"include\" ],\n[ \"ok\" ]\n]\n")
	writeFile(t, dir, "broken.json", "[\n[ \"x\" ]\n[ \"y\" ]\n]\n")
	if err := mkfifo(filepath.Join(dir, "fifo")); err != nil {
		t.Fatal(err)
	}
	s := mustLoad(t, p)
	if got, want := output(s, nil), []string{"ok"}; !equalLines(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	w := s.Warnings()
	if len(w) != 4 {
		t.Fatalf("want 4 warnings, got %d: %v", len(w), w)
	}
	for i, line := range []int{2, 3, 4, 5} {
		asError(t, w[i], p, line)
	}
	if !strings.Contains(w[1].Error(), "broken.json:3:") {
		t.Errorf("warning for the broken include does not name broken.json:3: %v", w[1])
	}
	if !strings.Contains(w[2].Error(), "not a regular file") {
		t.Errorf("fifo include: %v", w[2])
	}
}

func TestLoadFileNotRegular(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadFile(dir); err == nil {
		t.Error("loaded a directory")
	}
	fifo := filepath.Join(dir, "fifo")
	if err := mkfifo(fifo); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFile(fifo); err == nil {
		t.Error("loaded a fifo")
	} else {
		asError(t, err, fifo, 0)
	}
	if _, err := os.Stat("/dev/zero"); err == nil {
		if _, err := LoadFile("/dev/zero"); err == nil {
			t.Error("loaded /dev/zero")
		}
	}
}
