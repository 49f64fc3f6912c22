package hotplug

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"toybox-go/applets/internal/kmsg"
	"toybox-go/applets/internal/rules"
	"toybox-go/applets/internal/uevent"
)

// logBuf is a log sink safe to read while the daemon writes; waitFor waits
// for a line to be written.
type logBuf struct {
	mu      sync.Mutex
	b       bytes.Buffer
	written chan struct{} // a token after each Write; made by waitFor
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.written != nil {
		select {
		case l.written <- struct{}{}:
		default:
		}
	}
	return l.b.Write(p)
}

// waitFor returns once the log holds text, or an error after timeout.
func (l *logBuf) waitFor(text string, timeout time.Duration) error {
	l.mu.Lock()
	if l.written == nil {
		l.written = make(chan struct{}, 1)
	}
	written := l.written
	l.mu.Unlock()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for !strings.Contains(l.String(), text) {
		select {
		case <-written:
		case <-deadline.C:
			return fmt.Errorf("no %q in the log after %v", text, timeout)
		}
	}
	return nil
}

// readFIFO makes a FIFO at path's place and returns a function that waits
// for a writer's first line on it, or gives up after timeout.
func readFIFO(path string, timeout time.Duration) (func() (string, error), error) {
	if err := unix.Mkfifo(path, 0o600); err != nil {
		return nil, err
	}
	return func() (string, error) {
		type result struct {
			line string
			err  error
		}
		got := make(chan result, 1)
		go func() {
			f, err := os.Open(path) // blocks until a writer opens it
			if err != nil {
				got <- result{err: err}
				return
			}
			defer f.Close()
			line, err := bufio.NewReader(f).ReadString('\n')
			got <- result{line, err}
		}()
		select {
		case r := <-got:
			return r.line, r.err
		case <-time.After(timeout):
			// Unblock the opener so that its goroutine ends.
			if w, err := os.OpenFile(path, os.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
				w.Close()
			}
			return "", fmt.Errorf("nothing written to %s in %v", path, timeout)
		}
	}, nil
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// fakeSource delivers events pushed by the test.
type fakeSource struct {
	events chan *uevent.Event
	errs   chan error
	mu     sync.Mutex
	stop   chan struct{}
}

func newFakeSource() *fakeSource {
	return &fakeSource{events: make(chan *uevent.Event, 1024), errs: make(chan error, 16), stop: make(chan struct{})}
}

func (f *fakeSource) Receive() (*uevent.Event, error) {
	f.mu.Lock()
	stop := f.stop
	f.mu.Unlock()
	select {
	case ev := <-f.events:
		return ev, nil
	case err := <-f.errs:
		return nil, err
	case <-stop:
		return nil, os.ErrDeadlineExceeded
	}
}

func (f *fakeSource) SetReadDeadline(t time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-f.stop:
		if t.IsZero() {
			f.stop = make(chan struct{})
		}
	default:
		if !t.IsZero() && t.Before(time.Now()) {
			close(f.stop)
		}
	}
	return nil
}

func (f *fakeSource) Close() error { return nil }

// event builds a parsed event from KEY=VALUE pairs (ACTION and DEVPATH needed).
func event(t testing.TB, kv ...string) *uevent.Event {
	t.Helper()
	ev, err := parseKV(kv)
	if err != nil {
		t.Fatalf("test event %q: %v", kv, err)
	}
	return ev
}

func mustEvent(kv ...string) *uevent.Event {
	ev, err := parseKV(kv)
	if err != nil {
		panic(err)
	}
	return ev
}

func parseKV(kv []string) (*uevent.Event, error) {
	var action, devpath string
	for _, e := range kv {
		if v, ok := strings.CutPrefix(e, "ACTION="); ok {
			action = v
		}
		if v, ok := strings.CutPrefix(e, "DEVPATH="); ok {
			devpath = v
		}
	}
	return uevent.Parse([]byte(action + "@" + devpath + "\x00" + strings.Join(kv, "\x00") + "\x00"))
}

// parseRules compiles rules text with isdir under root.
func parseRules(root, text string) (Rules, error) {
	s, err := rules.Parse("test.json", []byte(text))
	if err != nil {
		return nil, err
	}
	if w := s.Warnings(); len(w) > 0 {
		return nil, fmt.Errorf("rules warnings: %v", w)
	}
	s.Root = root
	return s, nil
}

// script compiles a rules file from text.
func script(t testing.TB, root, text string) *rules.Script {
	t.Helper()
	s, err := rules.Parse("test.json", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if w := s.Warnings(); len(w) > 0 {
		t.Fatalf("rules warnings: %v", w)
	}
	s.Root = root
	return s
}

// tree is a fake root: dev, sys, etc, lib/firmware.
type tree struct {
	root, dev, sys, etc, fw string
}

func newTree(t testing.TB) *tree {
	t.Helper()
	root := t.TempDir()
	tr := &tree{root: root, dev: filepath.Join(root, "dev"), sys: filepath.Join(root, "sys"),
		etc: filepath.Join(root, "etc"), fw: filepath.Join(root, "lib", "firmware")}
	for _, d := range []string{tr.dev, tr.sys, tr.etc, tr.fw} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return tr
}

func (tr *tree) write(t testing.TB, rel, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(tr.root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// newPlug makes a Plug on the tree with a fake source; cfg fields set by the
// caller win.
func newPlug(t testing.TB, tr *tree, r Rules, cfg Config) (*Plug, *logBuf, *fakeSource) {
	t.Helper()
	lb := &logBuf{}
	src := newFakeSource()
	cfg.Rules = r
	cfg.Dev, cfg.Sys, cfg.Etc, cfg.Firmware = tr.dev, tr.sys, tr.etc, tr.fw
	cfg.Log = kmsg.NewWriter("hotplug", lb)
	cfg.Source = src
	if cfg.Env == nil {
		cfg.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "FROM_DAEMON=1"}
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, lb, src
}

func waitIdle(t testing.TB, p *Plug) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.WaitIdle(ctx.Done()); err != nil {
		t.Fatalf("queue not idle: %v", err)
	}
}

func readFile(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// poll polls cond until it holds or 20 s pass (for effects no event signals).
// It returns an error rather than failing a test, for goroutines other than
// the test's (netnstest.Do's fn among them).
func poll(what string, cond func() bool) error {
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return errors.New("timed out waiting for " + what)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// waitFor is poll for the test's own goroutine.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	if err := poll(what, cond); err != nil {
		t.Fatal(err)
	}
}

// emitter is a Rules that emits fixed commands, with %VAR% replaced.
type emitter [][]string

func (e emitter) Run(vars map[string]string, emit func(string, []string)) {
	for _, c := range e {
		args := make([]string, len(c)-1)
		for i, a := range c[1:] {
			for k, v := range vars {
				a = strings.ReplaceAll(a, "%"+k+"%", v)
			}
			args[i] = a
		}
		emit(c[0], args)
	}
}

// parseRulesLenient compiles a real rules file, warnings allowed (Chaos
// Calmer's trailing commas), with isdir under root.
func parseRulesLenient(root string, data []byte) (Rules, error) {
	s, err := rules.Parse("hotplug.json", data)
	if err != nil {
		return nil, err
	}
	s.Root = root
	return s, nil
}
