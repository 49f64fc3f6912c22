package pid2_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"toybox-go/applets/internal/supervise"
	"toybox-go/internal/nstest"
	"toybox-go/internal/testbin"
)

// rawStatus asks pid2 for its status over the control socket, without
// starting a client process (the line protocol of control.go).
func rawStatus(state string) ([]supervise.Status, error) {
	c, err := net.Dial("unix", filepath.Join(state, "control"))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := c.Write([]byte("status -j\n")); err != nil {
		return nil, err
	}
	var out strings.Builder
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("reply: %w", err)
		}
		line = strings.TrimSuffix(line, "\n")
		if text, ok := strings.CutPrefix(line, "o "); ok {
			out.WriteString(text + "\n")
			continue
		}
		if line != "ok" {
			return nil, fmt.Errorf("reply: %s", line)
		}
		break
	}
	var st []supervise.Status
	err = json.Unmarshal([]byte(out.String()), &st)
	return st, err
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// respawnLatency kills the service that writes a line to fifo when it starts,
// once it has run for more than the spacing, and times kill -> next line.
func respawnLatency(b *testing.B, fifo string, rounds int, procs func() map[int]string, argv string) []time.Duration {
	f, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64)
	f.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := f.Read(buf); err != nil { // first start
		b.Fatal(err)
	}
	var lat []time.Duration
	for range rounds {
		time.Sleep(1100 * time.Millisecond) // past the 1 s spacing: the case measured
		victim := 0
		for p, a := range procs() {
			if a == argv {
				victim = p
			}
		}
		if victim == 0 {
			b.Fatalf("no %q running", argv)
		}
		t0 := time.Now()
		syscall.Kill(victim, syscall.SIGKILL)
		f.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := f.Read(buf); err != nil {
			b.Fatalf("no respawn: %v", err)
		}
		lat = append(lat, time.Since(t0))
	}
	return lat
}

// BenchmarkRespawnLatency: death of a service (that ran longer than the
// spacing) to its next start writing a line, pid2 under oneit; one op is 8
// deaths (run with -benchtime=1x; a 10th start within 2 minutes would be the
// crash-loop rule's business, not this measure's).
func BenchmarkRespawnLatency(b *testing.B) {
	for range b.N {
		fifo := filepath.Join(b.TempDir(), "started")
		unix.Mkfifo(fifo, 0o600)
		s := boot(b, ":r:respawn:echo up > "+fifo+"; exec sleep 1000\n", nil)
		lat := respawnLatency(b, fifo, 8, s.procs, "sleep 1000")
		b.ReportMetric(ms(median(lat)), "median-ms")
	}
}

// BenchmarkBusyboxInitRespawn: the same measure for busybox init as PID 1 (its
// main loop sleeps a second after reaping).
func BenchmarkBusyboxInitRespawn(b *testing.B) {
	bb := testbin.RequireTool(b, "busybox")
	for range b.N {
		dir := b.TempDir()
		fifo := filepath.Join(dir, "started")
		unix.Mkfifo(fifo, 0o600)
		tab := filepath.Join(dir, "inittab")
		os.WriteFile(tab, []byte("::respawn:/bin/sh -c 'echo up > "+fifo+"; exec sleep 1000'\n"), 0o644)
		// busybox reads /etc/inittab only: a private tmpfs /etc holds ours.
		cmd := nstest.Command(b, "/bin/sh", "-c", "mount -t tmpfs none /etc && cp "+tab+" /etc/inittab && exec "+bb+" init")
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		procs := func() map[int]string { return nstest.Cmdlines(cmd.Process.Pid) }
		lat := respawnLatency(b, fifo, 5, procs, "sleep 1000")
		b.ReportMetric(ms(median(lat)), "median-ms")
	}
}

func hundred() string {
	var tab strings.Builder
	for i := range 100 {
		fmt.Fprintf(&tab, ":s%02d:respawn:/bin/sleep %d\n", i, 2000+i)
	}
	return tab.String()
}

func allRunning(st []supervise.Status, n int) bool {
	if len(st) != n {
		return false
	}
	for _, x := range st {
		if x.State != supervise.StateRunning || x.Pid == 0 {
			return false
		}
	}
	return true
}

// rss is Rss from /proc/PID/smaps_rollup, in KiB.
func rss(pid int) int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Rss:"); ok {
			var kb int
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb
		}
	}
	return 0
}

// BenchmarkRecovery100: kill -9 of pid2 with 100 services (a second after its
// last launch, so oneit's relaunch spacing does not count) to the moment the
// relaunched pid2 answers status with all 100 adopted; also pid2's RSS
// (smaps_rollup) after boot and after the recovery.
func BenchmarkRecovery100(b *testing.B) {
	s := boot(b, hundred(), nil)
	s.waitFor("100 services", 60*time.Second, func() bool { st, _ := rawStatus(s.state); return allRunning(st, 100) })
	bootRSS := rss(s.pid2Pid())
	var rec []time.Duration
	b.ResetTimer()
	for range b.N {
		// oneit relaunches at most once a second: measure pid2, not that.
		b.StopTimer()
		time.Sleep(1100 * time.Millisecond)
		b.StartTimer()
		p := s.pid2Pid()
		t0 := time.Now()
		syscall.Kill(p, syscall.SIGKILL)
		for {
			st, err := rawStatus(s.state)
			if err == nil && allRunning(st, 100) && st[0].Adopted {
				break
			}
			if time.Since(t0) > 30*time.Second {
				b.Fatal("no recovery in 30 s")
			}
		}
		rec = append(rec, time.Since(t0))
	}
	b.StopTimer()
	b.ReportMetric(ms(median(rec)), "median-ms")
	b.ReportMetric(float64(bootRSS), "boot-RSS-KiB")
	b.ReportMetric(float64(rss(s.pid2Pid())), "RSS-KiB")
}

// BenchmarkStatus100: one status round trip over the control socket with 100
// services, and one through the `pid2 status` client process.
func BenchmarkStatus100(b *testing.B) {
	s := boot(b, hundred(), nil)
	s.waitFor("100 services", 60*time.Second, func() bool { st, _ := rawStatus(s.state); return allRunning(st, 100) })
	b.Run("socket", func(b *testing.B) {
		for range b.N {
			if _, err := rawStatus(s.state); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("client", func(b *testing.B) {
		for range b.N {
			if out, err := exec.Command(s.pid2, "-d", s.state, "status").CombinedOutput(); err != nil {
				b.Fatalf("%v %s", err, out)
			}
		}
	})
}

// BenchmarkRunitRespawn: the same measure for runit's runsv (needs the runit
// package; runsv restarts at once when ./run ran longer than a second).
func BenchmarkRunitRespawn(b *testing.B) {
	runsv := testbin.RequireTool(b, "runsv")
	for range b.N {
		dir := b.TempDir()
		fifo := filepath.Join(dir, "started")
		unix.Mkfifo(fifo, 0o600)
		svc := filepath.Join(dir, "svc")
		os.MkdirAll(svc, 0o755)
		os.WriteFile(filepath.Join(svc, "run"), []byte("#!/bin/sh\necho up > "+fifo+"\nexec sleep 1000\n"), 0o755)
		cmd := nstest.Command(b, runsv, svc)
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		procs := func() map[int]string { return nstest.Cmdlines(cmd.Process.Pid) }
		lat := respawnLatency(b, fifo, 5, procs, "sleep 1000")
		b.ReportMetric(ms(median(lat)), "median-ms")
	}
}
