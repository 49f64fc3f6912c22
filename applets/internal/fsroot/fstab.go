package fsroot

import (
	"bufio"
	"io"
	"strconv"
	"strings"

	"toybox-go/applets/printf"
)

// Section is one `config TYPE ['NAME']` block of a UCI file with its options
// (list entries are joined with spaces; extroot needs none).
type Section struct {
	Type    string
	Name    string
	Options map[string]string
}

// ParseUCI reads UCI syntax as /etc/config/fstab uses it: `config`, `option`
// and `list` lines with single-, double- or un-quoted words, `#` comments. A
// bad line is reported as file:line in errs and skipped.
func ParseUCI(r io.Reader, file string) (secs []Section, errs []error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64<<10)
	var cur *Section
	for line := 1; sc.Scan(); line++ {
		words, err := uciWords(sc.Text())
		if err != nil {
			errs = append(errs, printf.Errorf("%s:%d: %w", file, line, err))
			continue
		}
		if len(words) == 0 {
			continue
		}
		bad := "" // what is wrong with the line
		switch words[0] {
		case "config":
			if len(words) < 2 || len(words) > 3 || words[1] == "" {
				bad = "config needs a type and at most a name"
				cur = nil
				break
			}
			secs = append(secs, Section{Type: words[1], Options: map[string]string{}})
			cur = &secs[len(secs)-1]
			if len(words) == 3 {
				cur.Name = words[2]
			}
		case "option", "list":
			if cur == nil {
				bad = words[0] + " outside a config section"
				break
			}
			if len(words) != 3 {
				bad = words[0] + " needs a name and one value"
				break
			}
			if old, ok := cur.Options[words[1]]; ok && words[0] == "list" {
				cur.Options[words[1]] = old + " " + words[2]
			} else {
				cur.Options[words[1]] = words[2]
			}
		case "package":
		default:
			bad = "unknown keyword " + strconv.Quote(words[0])
		}
		if bad != "" {
			errs = append(errs, printf.Errorf("%s:%d: %s", file, line, bad))
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, printf.Errorf("%s: %w", file, err))
	}
	return secs, errs
}

// uciWords splits a line into words, honouring quotes and # comments.
func uciWords(s string) ([]string, error) {
	var words []string
	var b []byte // the word being read
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '#' && !inWord:
			return words, nil
		case c == ' ' || c == '\t' || c == '\r':
			if inWord {
				words = append(words, string(b))
				b = b[:0]
				inWord = false
			}
		case c == '\'' || c == '"':
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				return nil, printf.Errorf("unterminated %c quote", c)
			}
			b = append(b, s[i+1:i+1+j]...)
			i += j + 1
			inWord = true
		case c == '\\' && i+1 < len(s):
			b = append(b, s[i+1])
			i++
			inWord = true
		default:
			b = append(b, c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, string(b))
	}
	return words, nil
}

// ExtrootMount is the fstab mount section that asks for an extroot.
type ExtrootMount struct {
	_         [0]func() // not comparable: no generated equality function
	Target    string    // "/overlay" (overlay on external storage) or "/" (whole root)
	Device    string    // a root=-style spec: UUID=..., LABEL=... or /dev/...
	FSType    string    // "" to probe
	Options   string
	DelayRoot int // seconds to wait for the device (config global delay_root)
}

// FindExtroot picks the first enabled `config mount` whose target is /overlay
// or / and that has extroot semantics (OpenWrt: an enabled mount with target
// /overlay or /), from the parsed fstab.
func FindExtroot(secs []Section) (*ExtrootMount, bool) {
	delay := 0
	for _, s := range secs {
		if s.Type == "global" {
			// uci's delay_root is whole seconds; anything else counts as none.
			if n, err := strconv.Atoi(strings.TrimSpace(s.Options["delay_root"])); err == nil {
				delay = n
			}
		}
	}
	for _, s := range secs {
		if s.Type != "mount" || s.Options["enabled"] == "0" {
			continue
		}
		t := s.Options["target"]
		if t != "/overlay" && t != "/" {
			continue
		}
		var dev string
		if uuid := s.Options["uuid"]; uuid != "" {
			dev = "UUID=" + uuid
		} else if label := s.Options["label"]; label != "" {
			dev = "LABEL=" + label
		} else if dev = s.Options["device"]; dev == "" {
			continue
		}
		return &ExtrootMount{Target: t, Device: dev, FSType: s.Options["fstype"], Options: s.Options["options"], DelayRoot: delay}, true
	}
	return nil, false
}
