package hotplug

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"toybox-go/applets/internal/kmsg"
	"toybox-go/applets/internal/uevent"
	"toybox-go/internal/netnstest"
	"toybox-go/internal/testbin"
)

// netRules is the part of OpenWrt's hotplug.json that reaches hotplug.d:
// exec hotplug-call SUBSYSTEM when /etc/hotplug.d/SUBSYSTEM is a directory.
func netRules(t testing.TB, root string, argv ...string) Rules {
	t.Helper()
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = strconv.Quote(a)
	}
	return script(t, root, `[ [ "if", [ "isdir", "/etc/hotplug.d/%SUBSYSTEM%" ],
		[ "exec", `+strings.Join(q, ", ")+` ] ] ]`)
}

// netConfig is a Plug config on tr whose rules run hotplug-call for net
// events: in this process's shell (inProcess, hotplug-call being this binary)
// or as the hotplug-call binary. It needs root.
func netConfig(t testing.TB, tr *tree, lb *logBuf, inProcess bool) Config {
	t.Helper()
	testbin.RequireRoot(t)
	sh := testbin.RequireTool(t, "sh")
	hc := testbin.Applet(t, "hotplug-call")
	cfg := Config{Dev: tr.dev, Sys: tr.sys, Etc: tr.etc, Firmware: tr.fw, Shell: sh, Functions: "-",
		Env: testbin.Env(), Log: kmsg.NewWriter("hotplug", lb)}
	if inProcess {
		cfg.Rules = netRules(t, tr.root, hc, "%SUBSYSTEM%")
		cfg.Self = testbin.Path(t)
	} else {
		cfg.Rules = netRules(t, tr.root, hc, "-e", tr.etc, "%SUBSYSTEM%")
	}
	return cfg
}

// recScript records the variables a hotplug.d script sees, one line a run.
func recScript(out string) string {
	return `echo "$ACTION|$INTERFACE|$DEVPATH|$SUBSYSTEM|$SEQNUM|$HOTPLUG_TYPE|$DEVICENAME" >> ` + out + "\n"
}

type recLine struct {
	action, iface, devpath, subsystem string
	seq                               uint64
	hotplugType, devicename           string
}

func readRec(t testing.TB, out string) []recLine {
	t.Helper()
	lines, err := parseRec(out)
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

// parseRec reads the records recScript wrote to out (none when out does not
// exist yet).
func parseRec(out string) ([]recLine, error) {
	b, err := os.ReadFile(out)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	var lines []recLine
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if l == "" {
			continue
		}
		f := strings.Split(l, "|")
		if len(f) != 7 {
			return nil, fmt.Errorf("%s: bad record %q", out, l)
		}
		seq, _ := strconv.ParseUint(f[4], 10, 64)
		lines = append(lines, recLine{f[0], f[1], f[2], f[3], seq, f[5], f[6]})
	}
	return lines, nil
}

// runPlug makes a Plug from cfg and runs it in a goroutine; stop ends Run,
// waits for it to return and closes the Plug.
func runPlug(cfg Config) (p *Plug, stop func(), err error) {
	p, err = New(cfg)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx.Done()) }()
	return p, func() { cancel(); <-done; p.Close() }, nil
}

// waitRec waits for a record of iface in out. It returns an error: it runs in
// netnstest.Do's fn, off the test's goroutine, where t.Fatal would hang Do.
func waitRec(out, iface string) error {
	var bad error
	err := poll("the script to run for "+iface, func() bool {
		recs, err := parseRec(out)
		if err != nil {
			bad = err
			return true
		}
		for _, r := range recs {
			if r.iface == iface {
				return true
			}
		}
		return false
	})
	if bad != nil {
		return bad
	}
	return err
}

// TestRealUeventsRunHotplugD: kernel events for interfaces made in a fresh
// network namespace reach the hotplug.d/net script through hotplug-call, once
// each, in order, with the event's environment; a spoofed event does not. Both
// ways of running hotplug-call: the shell started in-process (hotplug-call is
// this binary) and the hotplug-call binary executed.
func TestRealUeventsRunHotplugD(t *testing.T) {
	for _, mode := range []string{"shell in-process", "hotplug-call binary"} {
		t.Run(mode, func(t *testing.T) { testRealUevents(t, mode == "shell in-process") })
	}
}

func testRealUevents(t *testing.T, inProcess bool) {
	tr := newTree(t)
	out := filepath.Join(tr.root, "out")
	tr.write(t, "etc/hotplug.d/net/10-rec", recScript(out), 0o644)
	lb := &logBuf{}
	cfg := netConfig(t, tr, lb, inProcess)
	err := netnstest.Do(t, func(ns *netnstest.NS) error {
		p, stop, err := runPlug(cfg)
		if err != nil {
			return err
		}
		defer stop()

		if err := ns.AddDummy("d0"); err != nil {
			return err
		}
		if err := ns.IP("link", "add", "v0", "type", "veth", "peer", "name", "v1"); err != nil {
			return err
		}
		if err := spoof("evil0"); err != nil {
			return err
		}
		if err := ns.AddDummy("d1"); err != nil {
			return err
		}
		if err := waitRec(out, "d1"); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := p.WaitIdle(ctx.Done()); err != nil {
			return err
		}
		if s := p.SourceStats(); s.Foreign != 1 {
			return fmt.Errorf("stats %+v, want 1 foreign message", s)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, lb)
	}
	recs := readRec(t, out)
	var order []string
	var last uint64
	for _, r := range recs {
		order = append(order, r.iface)
		if r.action != "add" || r.devpath != "/devices/virtual/net/"+r.iface || r.subsystem != "net" ||
			r.hotplugType != "net" || r.devicename != r.iface || r.seq <= last {
			t.Errorf("record %+v (previous seqnum %d)", r, last)
		}
		last = r.seq
	}
	// The kernel announces a veth peer before the device itself.
	got := strings.Join(order, " ")
	if got != "d0 v1 v0 d1" && got != "d0 v0 v1 d1" {
		t.Errorf("scripts ran for %q, want d0, the veth pair, d1, once each", got)
	}
	if !strings.Contains(lb.String(), "not sent by the kernel") {
		t.Errorf("spoof not logged:\n%s", lb)
	}
}

// spoof sends a uevent-looking message to the kernel's group from user space.
func spoof(iface string) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	p := "/devices/virtual/net/" + iface
	m := "add@" + p + "\x00ACTION=add\x00DEVPATH=" + p + "\x00SUBSYSTEM=net\x00INTERFACE=" + iface + "\x00SEQNUM=1\x00"
	return unix.Sendto(fd, []byte(m), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: uevent.KernelGroup})
}

// TestColdplugRealNetns runs Coldplug for real in a helper process with its
// own mount and network namespaces: a fresh tmpfs /dev (a directory here), the
// trigger writing "add" to the namespace's net devices in a fresh sysfs, and
// Coldplug returning only when every hotplug.d/net run is done.
func TestColdplugRealNetns(t *testing.T) {
	testbin.RequireRoot(t)
	testbin.RequireTool(t, "ip")
	sh := testbin.RequireTool(t, "sh")
	hc := testbin.Applet(t, "hotplug-call")
	root := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$", root, hc, testbin.Path(t), sh)
	cmd.Env = append(os.Environ(), helperEnv+"=coldplug")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWNET}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "coldplug ok") {
		t.Fatalf("%v\n%s", err, out)
	}
}

func coldplugHelper(args []string) int {
	fail := func(format string, a ...any) int {
		fmt.Printf("coldplug: "+format+"\n", a...)
		return 1
	}
	if len(args) != 4 {
		return fail("args %q", args)
	}
	root, hc, self, sh := args[0], args[1], args[2], args[3]
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fail("%v", err)
	}
	dev, sys, etc := filepath.Join(root, "dev"), filepath.Join(root, "sys"), filepath.Join(root, "etc")
	for _, d := range []string{dev, sys, filepath.Join(etc, "hotplug.d", "net")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fail("%v", err)
		}
	}
	out := filepath.Join(root, "out")
	if err := os.WriteFile(filepath.Join(etc, "hotplug.d", "net", "10-rec"), []byte(recScript(out)), 0o644); err != nil {
		return fail("%v", err)
	}
	// Interfaces that exist before anyone listens: only coldplug reports them.
	for _, n := range []string{"c0", "c1", "c2"} {
		if o, err := exec.Command("ip", "link", "add", n, "type", "veth", "peer", "name", n+"p").CombinedOutput(); err != nil {
			return fail("ip: %v %s", err, o)
		}
	}
	// This namespace's view of sysfs: class/net holds only its interfaces.
	if err := unix.Mount("sysfs", sys, "sysfs", 0, ""); err != nil {
		return fail("mount sysfs: %v", err)
	}
	s, err := loadRules(root, hc)
	if err != nil {
		return fail("%v", err)
	}
	p, err := New(Config{
		Rules: s, Dev: dev, Sys: sys, Etc: etc, Self: self, Shell: sh, Functions: "-",
		Log: kmsg.NewWriter("hotplug", os.Stdout),
		// Only net: the other classes in this sysfs are the host's devices.
		Trigger: func() error {
			_, errs, err := (&uevent.Trigger{Sys: sys, Subsystems: []string{"net"}}).Run()
			if len(errs) > 0 {
				return errs[0]
			}
			return err
		},
		SettleTimeout: time.Minute,
		Quiet:         10 * time.Second, // settle by sequence number, not by quiet
	})
	if err != nil {
		return fail("%v", err)
	}
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx.Done())
	if err := p.Coldplug(ctx.Done()); err != nil {
		return fail("Coldplug: %v", err)
	}
	// Everything is done at return: no waiting here.
	b, _ := os.ReadFile(out)
	var ifaces []string
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "|")
		if len(f) != 7 || f[0] != "add" || f[5] != "net" {
			return fail("record %q", sc.Text())
		}
		ifaces = append(ifaces, f[1])
	}
	if got := strings.Join(ifaces, " "); got != "c0 c0p c1 c1p c2 c2p lo" {
		return fail("scripts ran for %q when Coldplug returned", got)
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(dev, "null"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR {
		return fail("no /dev/null node: %v", err)
	}
	fmt.Println("coldplug ok")
	return 0
}

func loadRules(root, hc string) (Rules, error) {
	return parseRules(root, `[ [ "if", [ "isdir", "/etc/hotplug.d/%SUBSYSTEM%" ],
		[ "exec", `+strconv.Quote(hc)+`, "%SUBSYSTEM%" ] ] ]`)
}

// BenchmarkUeventToHotplugCall measures from `ip link add` to the hotplug.d
// script having run, through the real kernel and socket: the in-process shell
// path against executing the hotplug-call binary. The script writes to a FIFO
// the benchmark reads. "dispatch-only" is the floor: `ip link add` and the
// event reaching the rules, no process.
func BenchmarkUeventToHotplugCall(b *testing.B) {
	b.Run("dispatch-only", benchDispatchLatency)
	for _, mode := range []string{"shell-in-process", "hotplug-call-binary"} {
		b.Run(mode, func(b *testing.B) { benchLatency(b, mode == "shell-in-process") })
	}
}

// signalRules reports each net add's INTERFACE on a channel.
type signalRules chan string

func (s signalRules) Run(vars map[string]string, _ func(string, []string)) {
	if vars["SUBSYSTEM"] == "net" && vars["ACTION"] == "add" {
		s <- vars["INTERFACE"]
	}
}

func benchDispatchLatency(b *testing.B) {
	testbin.RequireRoot(b)
	tr := newTree(b)
	seen := make(signalRules, 16)
	cfg := Config{Rules: seen, Dev: tr.dev, Sys: tr.sys, Etc: tr.etc, Firmware: tr.fw,
		Log: kmsg.NewWriter("hotplug", &logBuf{})}
	err := netnstest.Do(b, func(ns *netnstest.NS) error {
		_, stop, err := runPlug(cfg)
		if err != nil {
			return err
		}
		defer stop()
		b.ResetTimer()
		for i := range b.N {
			name := "b" + strconv.Itoa(i)
			if err := ns.AddDummy(name); err != nil {
				return err
			}
			for <-seen != name {
			}
		}
		b.StopTimer()
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

func benchLatency(b *testing.B, inProcess bool) {
	tr := newTree(b)
	fifo := filepath.Join(tr.root, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		b.Fatal(err)
	}
	tr.write(b, "etc/hotplug.d/net/10-ping", `echo "$INTERFACE" > `+fifo+"\n", 0o644)
	cfg := netConfig(b, tr, &logBuf{}, inProcess)
	err := netnstest.Do(b, func(ns *netnstest.NS) error {
		_, stop, err := runPlug(cfg)
		if err != nil {
			return err
		}
		defer stop()
		f, err := os.OpenFile(fifo, os.O_RDWR, 0) // RDWR: never sees EOF between writers
		if err != nil {
			return err
		}
		defer f.Close()
		r := bufio.NewReader(f)
		b.ResetTimer()
		for i := range b.N {
			name := "b" + strconv.Itoa(i)
			if err := ns.AddDummy(name); err != nil {
				return err
			}
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return err
				}
				if strings.TrimSpace(line) == name {
					break
				}
			}
		}
		b.StopTimer()
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}
