package supervise

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestParsePidFile(t *testing.T) {
	good := map[string]PidFile{"12 345\n": {12, 345}, "1 0": {1, 0}}
	for in, want := range good {
		got, err := ParsePidFile([]byte(in))
		if err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	for _, in := range []string{"", "12", "12 ", " 12 3", "12  3", "0 3", "-1 3", "+1 3", "1 +3", "1 -3", "1 3\n\n", "x y", "99999999999999999999 1", "1 3 4"} {
		if p, err := ParsePidFile([]byte(in)); err == nil {
			t.Errorf("%q accepted as %v", in, p)
		}
	}
}

func FuzzParsePidFile(f *testing.F) {
	for _, s := range []string{"12 345\n", "1 0", "", "a b", "1 2 3", "\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePidFile(b)
		if err != nil {
			return
		}
		if p.Pid <= 0 {
			t.Fatalf("accepted pid %d", p.Pid)
		}
		back, err := ParsePidFile([]byte(p.String()))
		if err != nil || back != p {
			t.Fatalf("round trip %v -> %q -> %v %v", p, p.String(), back, err)
		}
	})
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.pid")
	for _, c := range []string{"1 2\n", "3 4\n"} {
		if err := WriteFileAtomic(p, c); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(p); string(b) != c {
			t.Errorf("content %q, want %q", b, c)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("leftover files: %v", ents)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode())
	}
}

func TestAliveAndReuse(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	st, start, err := ProcState("/proc", cmd.Process.Pid)
	if err != nil || st == 'Z' || start == 0 {
		t.Fatalf("ProcState: %c %d %v", st, start, err)
	}
	if !Alive("/proc", PidFile{cmd.Process.Pid, start}) {
		t.Error("live process not alive")
	}
	if Alive("/proc", PidFile{cmd.Process.Pid, start + 1}) {
		t.Error("different start time (a reused PID) counted as alive")
	}
	cmd.Process.Kill()
	// Now a zombie until waited for: not alive.
	for range 200 {
		if s, _, _ := ProcState("/proc", cmd.Process.Pid); s == 'Z' {
			break
		}
		exec.Command("true").Run()
	}
	if Alive("/proc", PidFile{cmd.Process.Pid, start}) {
		t.Error("zombie counted as alive")
	}
	cmd.Wait()
	if Alive("/proc", PidFile{cmd.Process.Pid, start}) {
		t.Error("dead process counted as alive")
	}
}

func TestProcStateOddComm(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "7"), 0o755)
	stat := "7 (a) b) (c) S " + strings.Repeat("1 ", 18) + "4242 5 6\n"
	os.WriteFile(filepath.Join(dir, "7", "stat"), []byte(stat), 0o644)
	st, start, err := ProcState(dir, 7)
	if err != nil || st != 'S' || start != 4242 {
		t.Errorf("got %c %d %v", st, start, err)
	}
}

func TestRing(t *testing.T) {
	var r Ring
	if r.Lines() != nil {
		t.Error("empty ring has lines")
	}
	for i := range RingLines + 5 {
		r.Add(strings.Repeat("x", i%3) + string(rune('a'+i%26)))
	}
	l := r.Lines()
	if len(l) != RingLines || l[0] != strings.Repeat("x", 5%3)+"f" {
		t.Errorf("%d lines, first %q", len(l), l[0])
	}
	r.Add(strings.Repeat("y", 1000))
	if l := r.Lines(); len(l[len(l)-1]) != RingLineMax {
		t.Errorf("long line kept %d bytes", len(l[len(l)-1]))
	}
}
