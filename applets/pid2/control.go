package pid2

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"toybox-go/applets/printf"
)

// The control socket STATEDIR/control (AF_UNIX, SOCK_STREAM, mode 0600 in a
// 0700 directory) serves one request per connection, and only to peers with
// uid 0 (SO_PEERCRED). It is made with raw socket calls and served from
// goroutines on Go's poller; the package net is not linked in (binary size).
//
// The protocol is text, one request line and a few reply lines:
//
//	request  = CMD [" -j"] [" " NAME] "\n"     (at most 4096 bytes)
//	reply    = *( "o " TEXT "\n" ) end
//	end      = "ok\n" / "err " MESSAGE "\n"
//
// CMD is one of status, log, start, stop, restart, reload, reboot, halt,
// poweroff; -j (status only) asks for JSON. Words are separated by one space
// and escaped: '%', bytes outside 0x21-0x7e and a leading '-' of a NAME are
// written %XX (two hex digits). A NAME is inittab field 2: no ':', no '/', no
// control characters (refused with an error if it has any). Each "o" line is
// one line of the command's output, as it is (it cannot hold a newline; the
// client prints it followed by one); MESSAGE has its control characters
// replaced by spaces. The end line is the end marker: a reply without one is
// incomplete (pid2 died or timed out).

// SocketName is the control socket's name in the state directory.
const SocketName = "control"

// maxRequest bounds a request line, newline included.
const maxRequest = 4096

// maxReply bounds what a client reads (the log ring buffers and 10,000 status
// lines fit many times).
const maxReply = 64 << 20

// Client timeouts: connecting (a listener whose backlog is full blocks
// connect), and the whole exchange (pid2 answers within serveTimeout).
var (
	connectTimeout = 5 * time.Second
	replyTimeout   = 15 * time.Second
)

// serveTimeout bounds one connection on the daemon's side; answerTimeout is
// how long a connection waits for the main loop.
const (
	serveTimeout  = 10 * time.Second
	answerTimeout = 9 * time.Second
)

type request struct {
	_    [0]func() // not comparable: no generated equality function
	Cmd  string
	Name string
	JSON bool
}

type reply struct {
	_   [0]func() // not comparable: no generated equality function
	OK  bool
	Out string
	Err string
}

type ctlReq struct {
	req   request
	reply chan reply
}

// arity says whether command cmd takes a NAME: 'n' never, 'o' optional, 'r'
// required; 0 for an unknown command. It is kept out of line (go:noinline):
// its string switch is bigger than a call.
//
//go:noinline
func arity(cmd string) byte {
	switch cmd {
	case "status", "log":
		return 'o'
	case "start", "stop", "restart":
		return 'r'
	case "reload", "reboot", "halt", "poweroff":
		return 'n'
	}
	return 0
}

// checkName refuses what cannot be an inittab name.
func checkName(name string) error {
	if name == "" {
		return errors.New("empty name")
	}
	if len(name) > 255 {
		return printf.Errorf("name longer than 255 bytes")
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 || c == 0x7f || c == ':' || c == '/' {
			return printf.Errorf("bad name %q: no ':', '/' or control characters", name)
		}
	}
	return nil
}

// checkRequest validates a request's command, option and name.
func checkRequest(r request) error {
	arity := arity(r.Cmd)
	switch {
	case arity == 0:
		return printf.Errorf("unknown command %q", r.Cmd)
	case r.JSON && r.Cmd != "status":
		return printf.Errorf("%s: -j is for status only", r.Cmd)
	case arity == 'r' && r.Name == "":
		return printf.Errorf("%s: NAME missing", r.Cmd)
	case arity == 'n' && r.Name != "":
		return printf.Errorf("%s takes no NAME", r.Cmd)
	case r.Name != "":
		return checkName(r.Name)
	}
	return nil
}

func escapeWord(b []byte, w string, name bool) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(w); i++ {
		c := w[i]
		if c <= 0x20 || c >= 0x7f || c == '%' || (name && i == 0 && c == '-') {
			b = append(b, '%', hex[c>>4], hex[c&15])
		} else {
			b = append(b, c)
		}
	}
	return b
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func unescapeWord(w string) (string, error) {
	if w == "" {
		return "", errors.New("empty word")
	}
	var b []byte
	for i := 0; i < len(w); i++ {
		c := w[i]
		switch {
		case c == '%':
			if i+2 >= len(w) {
				return "", printf.Errorf("bad escape in %q", w)
			}
			hi, ok1 := unhex(w[i+1])
			lo, ok2 := unhex(w[i+2])
			if !ok1 || !ok2 {
				return "", printf.Errorf("bad escape in %q", w)
			}
			b = append(b, hi<<4|lo)
			i += 2
		case c <= 0x20 || c >= 0x7f:
			return "", printf.Errorf("unescaped byte %#02x", c)
		default:
			b = append(b, c)
		}
	}
	return string(b), nil
}

// formatRequest is the request line for r, newline included.
func formatRequest(r request) []byte {
	b := []byte(r.Cmd)
	if r.JSON {
		b = append(b, " -j"...)
	}
	if r.Name != "" {
		b = append(b, ' ')
		b = escapeWord(b, r.Name, true)
	}
	return append(b, '\n')
}

// parseRequest reads a request line (without its newline).
func parseRequest(line string) (request, error) {
	var r request
	if len(line) >= maxRequest {
		return r, errors.New("request too long")
	}
	words := strings.Split(line, " ")
	if len(words) > 3 {
		return r, errors.New("too many words")
	}
	for i, w := range words {
		s, err := unescapeWord(w)
		if err != nil {
			return request{}, err
		}
		switch {
		case i == 0:
			r.Cmd = s
		case w == "-j" && i == 1:
			r.JSON = true
		case w[0] == '-':
			return request{}, printf.Errorf("unknown option %q", s)
		case i != len(words)-1:
			return request{}, errors.New("NAME must be the last word")
		default:
			r.Name = s
		}
	}
	return r, checkRequest(r)
}

// formatReply is the reply text for rep, end marker included.
func formatReply(rep reply) []byte {
	var b []byte
	out := strings.TrimSuffix(rep.Out, "\n")
	if rep.Out != "" {
		for _, l := range strings.Split(out, "\n") {
			b = append(b, "o "...)
			b = append(b, l...)
			b = append(b, '\n')
		}
	}
	if rep.OK {
		return append(b, "ok\n"...)
	}
	b = append(b, "err "...)
	for _, c := range []byte(rep.Err) {
		if c < 0x20 || c == 0x7f {
			c = ' '
		}
		b = append(b, c)
	}
	return append(b, '\n')
}

// readReply reads reply lines up to the end marker. (A line longer than
// r's buffer comes in pieces: ReadSlice, not ReadString, which would link in
// bufio's fragment collector for this one use.)
func readReply(r *bufio.Reader) (reply, error) {
	var out, b []byte
	for {
		piece, err := r.ReadSlice('\n')
		b = append(b, piece...)
		if len(out)+len(b) > maxReply {
			return reply{}, errors.New("reply too long")
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return reply{}, err
		}
		if len(b) > 1 && b[0] == 'o' && b[1] == ' ' {
			out = append(out, b[2:]...) // with its newline
			b = b[:0]
			continue
		}
		line := string(b[:len(b)-1])
		switch {
		case line == "ok":
			return reply{OK: true, Out: string(out)}, nil
		case strings.HasPrefix(line, "err "):
			return reply{Out: string(out), Err: line[4:]}, nil
		default:
			return reply{}, printf.Errorf("bad reply line %.40q", line)
		}
	}
}

// listen opens the control socket; the accept loop hands requests to reqs.
// Closing the returned file ends the accept loop.
func listen(stateDir string, reqs chan<- ctlReq) (*os.File, error) {
	path := filepath.Join(stateDir, SocketName)
	os.Remove(path) // a relaunched pid2 replaces its predecessor's
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, printf.Errorf("control socket: %w", err)
	}
	old := unix.Umask(0o177)
	err = unix.Bind(fd, &unix.SockaddrUnix{Name: path})
	unix.Umask(old)
	if err == nil {
		err = unix.Listen(fd, 64)
	}
	if err != nil {
		unix.Close(fd)
		return nil, printf.Errorf("control socket %s: %w", path, err)
	}
	// A non-blocking descriptor given to os.NewFile goes to Go's poller.
	l := os.NewFile(uintptr(fd), path)
	rc, err := l.SyscallConn()
	if err != nil {
		l.Close()
		return nil, printf.Errorf("control socket %s: %w", path, err)
	}
	go func() {
		for {
			var nfd int
			var aerr error
			err := rc.Read(func(fd uintptr) bool {
				nfd, _, aerr = unix.Accept4(int(fd), unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK)
				return aerr != unix.EAGAIN
			})
			switch {
			case err != nil: // closed
				return
			case aerr == nil:
				go serve(nfd, reqs)
			case aerr != unix.EINTR && aerr != unix.ECONNABORTED:
				time.Sleep(10 * time.Millisecond) // EMFILE and the like: do not spin
			}
		}
	}()
	return l, nil
}

// serve answers one connection, fd (non-blocking, close-on-exec).
func serve(fd int, reqs chan<- ctlReq) {
	cred, cerr := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	c := os.NewFile(uintptr(fd), "control-conn")
	c.SetDeadline(time.Now().Add(serveTimeout))
	if rep, ok := answer(c, cred, cerr, reqs); ok {
		c.Write(formatReply(rep))
	}
	c.Close()
}

// answer reads the request on c and returns the reply to it; false when
// there is none to write (the peer sent nothing).
func answer(c *os.File, cred *unix.Ucred, cerr error, reqs chan<- ctlReq) (reply, bool) {
	if cerr != nil {
		return reply{Err: printf.Sprintf("permission denied: peer unknown: %v", cerr)}, true
	}
	if cred.Uid != 0 {
		return reply{Err: printf.Sprintf("permission denied: peer uid %d is not root", cred.Uid)}, true
	}
	// ReadSlice: a line without newline in maxRequest bytes fills the buffer.
	b, err := bufio.NewReaderSize(io.LimitReader(c, maxRequest), maxRequest).ReadSlice('\n')
	line := string(b)
	if err != nil {
		if len(line) >= maxRequest {
			return reply{Err: "bad request: request too long"}, true
		}
		return reply{Err: "bad request: no newline"}, len(line) > 0
	}
	r, err := parseRequest(line[:len(line)-1])
	if err != nil {
		return reply{Err: "bad request: " + err.Error()}, true
	}
	cr := ctlReq{req: r, reply: make(chan reply, 1)}
	reqs <- cr
	t := time.NewTimer(answerTimeout)
	rep := reply{Err: "pid2 did not answer"}
	select {
	case rep = <-cr.reply:
	case <-t.C:
	}
	t.Stop()
	return rep, true
}

// dial connects to the control socket at path within connectTimeout.
func dial(path string) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	// A blocking connect to a listener whose backlog is full waits at most
	// SO_SNDTIMEO, then fails with EAGAIN.
	tv := unix.NsecToTimeval(connectTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, err
	}
	deadline := time.Now().Add(connectTimeout)
	for {
		err = unix.Connect(fd, &unix.SockaddrUnix{Name: path})
		if err != unix.EINTR || time.Now().After(deadline) {
			break
		}
	}
	if err == nil {
		err = unix.SetNonblock(fd, true)
	}
	if err != nil {
		unix.Close(fd)
		if err == unix.EAGAIN || err == unix.EINTR {
			err = printf.Errorf("timed out after %v (pid2 busy?)", connectTimeout)
		}
		return nil, err
	}
	return os.NewFile(uintptr(fd), path), nil
}

// call sends one request to the pid2 serving stateDir.
func call(stateDir string, r request) (reply, error) {
	path := filepath.Join(stateDir, SocketName)
	c, err := dial(path)
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ECONNREFUSED) {
			return reply{}, printf.Errorf("pid2 is not running (no listener on %s)", path)
		}
		return reply{}, printf.Errorf("cannot reach pid2 at %s: %w", path, err)
	}
	c.SetDeadline(time.Now().Add(replyTimeout))
	// A refusing pid2 answers before reading: read its answer even when the
	// write fails.
	_, werr := c.Write(formatRequest(r))
	rep, err := readReply(bufio.NewReader(c))
	c.Close()
	if err != nil {
		if werr != nil {
			err = werr
		}
		return reply{}, printf.Errorf("pid2 at %s: no answer: %w", path, err)
	}
	return rep, nil
}

// client runs `pid2 COMMAND ...`.
func client(stateDir string, args []string, stdout, stderr io.Writer) int {
	r := request{Cmd: args[0]}
	rest := args[1:]
	switch arity(r.Cmd) {
	case 'o':
		for _, a := range rest {
			switch {
			case r.Cmd == "status" && (a == "--json" || a == "-j"):
				r.JSON = true
			case strings.HasPrefix(a, "-"):
				return errorf(stderr, "%s: unknown option %s", r.Cmd, a)
			case r.Name != "":
				return errorf(stderr, "%s: one NAME at most", r.Cmd)
			default:
				r.Name = a
			}
		}
	case 'r':
		if len(rest) != 1 {
			return errorf(stderr, "usage: pid2 %s NAME", r.Cmd)
		}
		r.Name = rest[0]
	case 'n':
		if len(rest) != 0 {
			return errorf(stderr, "usage: pid2 %s", r.Cmd)
		}
	default:
		return errorf(stderr, "unknown command %q (see pid2 --help)", r.Cmd)
	}
	if err := checkRequest(r); err != nil {
		return errorf(stderr, "%v", err)
	}
	rep, err := call(stateDir, r)
	if err != nil {
		return errorf(stderr, "%v", err)
	}
	io.WriteString(stdout, rep.Out)
	if !rep.OK {
		return errorf(stderr, "%s", rep.Err)
	}
	return 0
}
