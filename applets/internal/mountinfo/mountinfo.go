// Package mountinfo reads the kernel's mount table, /proc/PID/mountinfo: what
// oneit unmounts at shutdown and what mount_root and init look up.
package mountinfo

import (
	"bufio"
	"io"
	"os"
	"strings"

	"toybox-go/applets/printf"
)

// Entry is one mount.
type Entry struct {
	_      [0]func() // not comparable: no generated equality function
	Dev    string    // MAJOR:MINOR of the mounted device
	Target string    // mount point, unescaped
	FSType string
	Source string
}

// Read parses a mountinfo file. Lines that are not mountinfo lines are
// reported to warn as "FILE:N: ..." (when warn is not nil) and skipped.
func Read(path string, warn func(format string, args ...any)) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	es, err := Parse(path, f, warn)
	f.Close()
	return es, err
}

// Parse is Read on an open file; name is used in warnings.
func Parse(name string, r io.Reader, warn func(format string, args ...any)) ([]Entry, error) {
	var out []Entry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		// ID PARENT MAJ:MIN ROOT TARGET OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		a, b := strings.Fields(pre), strings.Fields(post)
		if !ok || len(a) < 5 || len(b) < 2 {
			if warn != nil {
				warn("%s:%d: not a mountinfo line", name, line)
			}
			continue
		}
		out = append(out, Entry{Dev: a[2], Target: Unescape(a[4]), FSType: b[0], Source: Unescape(b[1])})
	}
	if err := sc.Err(); err != nil {
		return out, printf.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// Unescape undoes the kernel's octal escapes in mount tables (\040 for a
// space, \011 tab, \012 newline, \134 backslash).
func Unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b = append(b, (s[i+1]-'0')<<6|(s[i+2]-'0')<<3|(s[i+3]-'0'))
			i += 3
			continue
		}
		b = append(b, s[i])
	}
	return string(b)
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }
