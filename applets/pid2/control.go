package pid2

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The control socket STATEDIR/control speaks one JSON request line and one JSON
// reply per connection. Only peers with uid 0 (SO_PEERCRED) are served; the
// socket is also mode 0600 in a 0700 directory.

// SocketName is the control socket's name in the state directory.
const SocketName = "control"

type request struct {
	Cmd  string `json:"cmd"`
	Name string `json:"name,omitempty"`
	JSON bool   `json:"json,omitempty"`
}

type reply struct {
	OK  bool   `json:"ok"`
	Out string `json:"out,omitempty"`
	Err string `json:"err,omitempty"`
}

type ctlReq struct {
	req   request
	reply chan reply
}

// listen opens the control socket; the accept loop hands requests to reqs.
func listen(stateDir string, reqs chan<- ctlReq) (*net.UnixListener, error) {
	path := filepath.Join(stateDir, SocketName)
	os.Remove(path)
	old := unix.Umask(0o177)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	unix.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	l.SetUnlinkOnClose(false) // a relaunched pid2 replaces it
	go func() {
		for {
			c, err := l.AcceptUnix()
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				time.Sleep(10 * time.Millisecond)
				continue
			}
			go serve(c, reqs)
		}
	}()
	return l, nil
}

func peerUID(c *net.UnixConn) (uint32, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *unix.Ucred
	var cerr error
	err = raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	if err == nil {
		err = cerr
	}
	if err != nil {
		return 0, err
	}
	return cred.Uid, nil
}

func serve(c *net.UnixConn, reqs chan<- ctlReq) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	enc := json.NewEncoder(c)
	uid, err := peerUID(c)
	if err != nil || uid != 0 {
		enc.Encode(reply{Err: fmt.Sprintf("permission denied: peer uid %d is not root", uid)})
		return
	}
	line, err := bufio.NewReaderSize(io.LimitReader(c, 4096), 4096).ReadBytes('\n')
	if err != nil && len(line) == 0 {
		return
	}
	var r request
	if err := json.Unmarshal(line, &r); err != nil {
		enc.Encode(reply{Err: "bad request: " + err.Error()})
		return
	}
	cr := ctlReq{req: r, reply: make(chan reply, 1)}
	reqs <- cr
	select {
	case rep := <-cr.reply:
		enc.Encode(rep)
	case <-time.After(9 * time.Second):
		enc.Encode(reply{Err: "pid2 did not answer"})
	}
}

// call sends one request to the pid2 serving stateDir.
func call(stateDir string, r request) (reply, error) {
	path := filepath.Join(stateDir, SocketName)
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return reply{}, fmt.Errorf("pid2 is not running (no listener on %s)", path)
		}
		return reply{}, fmt.Errorf("cannot reach pid2 at %s: %w", path, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(15 * time.Second))
	b, _ := json.Marshal(r)
	// A refusing pid2 answers before reading: read its answer even when the
	// write fails.
	_, werr := c.Write(append(b, '\n'))
	var rep reply
	if err := json.NewDecoder(c).Decode(&rep); err != nil {
		if werr != nil {
			err = werr
		}
		return reply{}, fmt.Errorf("pid2 at %s: no answer: %w", path, err)
	}
	return rep, nil
}

// client runs `pid2 COMMAND ...`.
func client(stateDir string, args []string, stdout, stderr io.Writer) int {
	r := request{Cmd: args[0]}
	rest := args[1:]
	switch r.Cmd {
	case "status", "log":
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
	case "start", "stop", "restart":
		if len(rest) != 1 {
			return errorf(stderr, "usage: pid2 %s NAME", r.Cmd)
		}
		r.Name = rest[0]
	case "reload", "reboot", "halt", "poweroff":
		if len(rest) != 0 {
			return errorf(stderr, "usage: pid2 %s", r.Cmd)
		}
	default:
		return errorf(stderr, "unknown command %q (see pid2 --help)", r.Cmd)
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
