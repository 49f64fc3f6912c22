package iocopy

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"
)

func TestCopy(t *testing.T) {
	src := bytes.Repeat([]byte("0123456789abcdef"), 10000) // several buffers
	var dst bytes.Buffer
	n, err := Copy(&dst, iotest.HalfReader(bytes.NewReader(src)))
	if err != nil || n != int64(len(src)) || !bytes.Equal(dst.Bytes(), src) {
		t.Fatalf("Copy = %d, %v; copied %d bytes equal=%v", n, err, dst.Len(), bytes.Equal(dst.Bytes(), src))
	}
}

func TestCopyFileToFile(t *testing.T) {
	dir := t.TempDir()
	want := bytes.Repeat([]byte{1, 2, 3}, 50000)
	if err := os.WriteFile(filepath.Join(dir, "in"), want, 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(filepath.Join(dir, "in"))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := Copy(out, in); err != nil || n != int64(len(want)) {
		t.Fatalf("Copy = %d, %v", n, err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "out")); !bytes.Equal(got, want) {
		t.Fatalf("copied %d bytes, not the %d written", len(got), len(want))
	}
}

func TestCopyErrors(t *testing.T) {
	boom := errors.New("boom")
	// A read error after some data: the data is written, the error returned.
	r := io.MultiReader(bytes.NewReader([]byte("abc")), iotest.ErrReader(boom))
	var dst bytes.Buffer
	if n, err := Copy(&dst, r); !errors.Is(err, boom) || n != 3 || dst.String() != "abc" {
		t.Errorf("read error: Copy = %d, %v, wrote %q", n, err, dst.String())
	}
	// A write error stops the copy.
	if n, err := Copy(failWriter{boom}, bytes.NewReader([]byte("abc"))); !errors.Is(err, boom) || n != 0 {
		t.Errorf("write error: Copy = %d, %v", n, err)
	}
	// A short write without an error is io.ErrShortWrite.
	if n, err := Copy(shortWriter{}, bytes.NewReader([]byte("abc"))); !errors.Is(err, io.ErrShortWrite) || n != 1 {
		t.Errorf("short write: Copy = %d, %v", n, err)
	}
}

type failWriter struct{ err error }

func (w failWriter) Write([]byte) (int, error) { return 0, w.err }

type shortWriter struct{}

func (shortWriter) Write(p []byte) (int, error) { return min(len(p), 1), nil }
