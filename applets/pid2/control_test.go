package pid2

import (
	"bufio"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"toybox-go/applets/internal/supervise"
	"toybox-go/internal/testbin"
)

func TestRequestRoundTrip(t *testing.T) {
	for _, r := range []request{
		{Cmd: "status"},
		{Cmd: "status", JSON: true},
		{Cmd: "status", JSON: true, Name: "-j"},
		{Cmd: "log", Name: "getty@ttyS0"},
		{Cmd: "start", Name: "a b%c\xff"},
		{Cmd: "stop", Name: "-x"},
		{Cmd: "reboot"},
	} {
		line := formatRequest(r)
		if strings.Count(string(line), "\n") != 1 || line[len(line)-1] != '\n' {
			t.Errorf("%+v: line %q", r, line)
			continue
		}
		got, err := parseRequest(string(line[:len(line)-1]))
		if err != nil || !reflect.DeepEqual(got, r) {
			t.Errorf("%+v: line %q parsed as %+v, %v", r, line, got, err)
		}
	}
}

func TestParseRequestRefuses(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{"", "empty word"},
		{"frob", "unknown command"},
		{"status  a", "empty word"},
		{"status a b", "NAME must be the last word"},
		{"status a -j", "NAME must be the last word"},
		{"status -x", "unknown option"},
		{"log -j", "status only"},
		{"start", "NAME missing"},
		{"reboot now", "takes no NAME"},
		{"start a%3Ab", "bad name"},
		{"start a%2Fb", "bad name"},
		{"start a%0Ab", "bad name"},
		{"start a%0", "bad escape"},
		{"start a%zz", "bad escape"},
		{"start a\tb", "unescaped byte"},
		{"start é", "unescaped byte"},
		{"start " + strings.Repeat("a", maxRequest), "too long"},
	} {
		if _, err := parseRequest(tc.line); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%.40q: error %v, want %q", tc.line, err, tc.want)
		}
	}
}

func TestReplyRoundTrip(t *testing.T) {
	for _, rep := range []reply{
		{OK: true},
		{OK: true, Out: "one\n"},
		{OK: true, Out: "one\n\ntwo \xff\r\nok\nerr x\n"},
		{Err: "no such service \"x\""},
	} {
		got, err := readReply(bufio.NewReader(strings.NewReader(string(formatReply(rep)))))
		if err != nil || !reflect.DeepEqual(got, rep) {
			t.Errorf("%+v: read back %+v, %v", rep, got, err)
		}
	}
	// Control characters in a message cannot end it early.
	got, err := readReply(bufio.NewReader(strings.NewReader(string(formatReply(reply{Err: "a\nok\n"})))))
	if err != nil || got.OK || got.Err != "a ok " {
		t.Errorf("message with newlines: %+v, %v", got, err)
	}
	for _, bad := range []string{"", "o partial\n", "o no end marker\n", "oops\n", "ok"} {
		if rep, err := readReply(bufio.NewReader(strings.NewReader(bad))); err == nil {
			t.Errorf("%q: accepted as %+v", bad, rep)
		}
	}
}

// FuzzParseRequest: the daemon's parser never panics, and what it accepts
// is a valid request that survives formatting and parsing again.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{"status", "status -j", "status -j a", "log a", "start %2Dx",
		"stop a%20b", "reload", "poweroff x", "start a%", "status a b", "\xff", "start a%3a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		r, err := parseRequest(line)
		if err != nil {
			return
		}
		if checkRequest(r) != nil {
			t.Fatalf("%q accepted as invalid %+v", line, r)
		}
		again := formatRequest(r)
		r2, err := parseRequest(string(again[:len(again)-1]))
		if err != nil || !reflect.DeepEqual(r2, r) {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", line, r, again, r2, err)
		}
	})
}

// FuzzReadReply: the client's parser never panics, and a reply it formats
// reads back the same (modulo the output's final newline).
func FuzzReadReply(f *testing.F) {
	f.Add("o a\nok\n", "x\ny", "bad")
	f.Add("err boom\n", "", "")
	f.Add("o \xff\n", "\n\n", "a\x00b")
	f.Fuzz(func(t *testing.T, wire, out, msg string) {
		readReply(bufio.NewReader(strings.NewReader(wire)))
		for _, rep := range []reply{{OK: true, Out: out}, {Out: out, Err: msg}} {
			got, err := readReply(bufio.NewReader(strings.NewReader(string(formatReply(rep)))))
			if err != nil {
				t.Fatalf("%+v: %v", rep, err)
			}
			want := rep.Out
			if want != "" && !strings.HasSuffix(want, "\n") {
				want += "\n"
			}
			if got.OK != rep.OK || got.Out != want || strings.Contains(got.Err, "\n") {
				t.Fatalf("%+v read back as %+v", rep, got)
			}
		}
	})
}

// validUTF8 is what a JSON decoder makes of s: each byte of invalid UTF-8
// becomes U+FFFD.
func validUTF8(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(r)
		i += size
	}
	return b.String()
}

func TestStatusJSON(t *testing.T) {
	st := []supervise.Status{
		{Name: "a", Action: "respawn", State: "running", Pid: 42, Restarts: 3, LastExit: "exit 1", Command: "/bin/sleep 1"},
		{Name: "b\"\\", Action: "askfirst", State: "backoff", Pid: -1, LastExit: "\x00\x1f\x7f\n\t", Adopted: true,
			Note: "crash \xff\xfeloop é \u2028", Command: "/bin/echo \"<&>\""},
	}
	got := statusJSON(st)
	want, _ := json.MarshalIndent(st, "", "  ")
	var back []supervise.Status
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, got)
	}
	st[1].Note = validUTF8(st[1].Note)
	if !reflect.DeepEqual(back, st) {
		t.Errorf("read back %+v\nwant %+v", back, st)
	}
	// Same layout as encoding/json for plain text (the first entry).
	if g, w := strings.SplitN(string(got), "},", 2)[0], strings.SplitN(string(want), "},", 2)[0]; g != w {
		t.Errorf("layout:\n%s\nwant:\n%s", g, w)
	}
	if s := string(statusJSON(nil)); s != "[]" {
		t.Errorf("empty: %q", s)
	}
}

func FuzzStatusJSON(f *testing.F) {
	f.Add("a", "running", "\xff\x00\"\\", "x\u2028\U0001F600")
	f.Fuzz(func(t *testing.T, name, state, note, cmd string) {
		st := []supervise.Status{{Name: name, State: state, Note: note, Command: cmd, Pid: len(name)}}
		b := statusJSON(st)
		var back []supervise.Status
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("not JSON: %v\n%q", err, b)
		}
		for i := range st {
			st[i].Name, st[i].State, st[i].Note, st[i].Command =
				validUTF8(st[i].Name), validUTF8(st[i].State), validUTF8(st[i].Note), validUTF8(st[i].Command)
		}
		if !reflect.DeepEqual(back, st) {
			t.Fatalf("read back %+v, want %+v", back, st)
		}
	})
}

// TestControlSocket: the real socket, served by listen and a stand-in main
// loop, asked by call and by client.
func TestControlSocket(t *testing.T) {
	testbin.RequireRoot(t) // SO_PEERCRED: only root is served
	dir := t.TempDir()
	reqs := make(chan ctlReq)
	l, err := listen(dir, reqs)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for r := range reqs {
			switch r.req.Cmd {
			case "status":
				r.reply <- reply{OK: true, Out: "name=" + r.req.Name + " json=" + map[bool]string{true: "yes", false: "no"}[r.req.JSON] + "\nsecond\n"}
			case "stop":
				r.reply <- reply{Err: "no service " + r.req.Name}
			case "reload":
				// never answers: the connection's own timeout must
			}
		}
	}()
	rep, err := call(dir, request{Cmd: "status", JSON: true, Name: "a b"})
	if err != nil || !rep.OK || rep.Out != "name=a b json=yes\nsecond\n" {
		t.Errorf("status: %+v, %v", rep, err)
	}
	var out, errb strings.Builder
	if code := client(dir, []string{"stop", "x"}, &out, &errb); code != 1 || errb.String() != "pid2: no service x\n" {
		t.Errorf("stop: exit %d, stderr %q", code, errb.String())
	}
	if code := client(dir, []string{"stop", "a:b"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "bad name") {
		t.Errorf("bad name: exit %d, stderr %q", code, errb.String())
	}
	// Raw bad requests get an error reply, not a hang.
	for _, bad := range []string{"frob\n", "status\x00\n", strings.Repeat("x", maxRequest+10)} {
		c, err := dial(filepath.Join(dir, SocketName))
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte(bad))
		rep, err := readReply(bufio.NewReader(c))
		c.Close()
		if err != nil || rep.OK || !strings.HasPrefix(rep.Err, "bad request") {
			t.Errorf("%.20q: %+v, %v", bad, rep, err)
		}
	}
	// The socket is not for others to open, and leaks into no child.
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(dir, SocketName), &st); err != nil || st.Mode&0o777 != 0o600 {
		t.Errorf("socket mode %o, %v", st.Mode&0o777, err)
	}
	if fl, err := unix.FcntlInt(l.Fd(), unix.F_GETFD, 0); err != nil || fl&unix.FD_CLOEXEC == 0 {
		t.Errorf("listener not close-on-exec: %#x %v", fl, err)
	}
}

// TestDialTimeout: a listener that never accepts, with its backlog full,
// does not make the client hang.
func TestDialTimeout(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, SocketName)
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	defer func(c, r time.Duration) { connectTimeout, replyTimeout = c, r }(connectTimeout, replyTimeout)
	connectTimeout, replyTimeout = 300*time.Millisecond, 500*time.Millisecond
	// The first connections fill the backlog (or wait for a reply that never
	// comes); a later one times out in connect.
	var sawConnectTimeout bool
	for i := 0; i < 4; i++ {
		t0 := time.Now()
		_, err := call(dir, request{Cmd: "status"})
		took := time.Since(t0)
		if err == nil {
			t.Fatal("a listener that never answers answered")
		}
		if took > 3*time.Second {
			t.Fatalf("call took %v: %v", took, err)
		}
		if strings.Contains(err.Error(), "timed out") {
			sawConnectTimeout = true
			if took < connectTimeout/2 {
				t.Errorf("connect gave up after %v only", took)
			}
			break
		}
	}
	if !sawConnectTimeout {
		t.Error("connect never timed out on a full backlog")
	}
}
