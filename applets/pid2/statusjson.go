package pid2

import (
	"strconv"
	"unicode/utf8"

	"toybox-go/applets/internal/supervise"
)

// statusJSON is `pid2 status --json`: an array of objects with the fields
// and layout encoding/json's MarshalIndent(st, "", "  ") would give
// supervise.Status, written by hand so that encoding/json (and the reflection
// it drags along) stays out of the binary.
func statusJSON(st []supervise.Status) []byte {
	b := []byte{'['}
	for i := range st {
		s := &st[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, "\n  {\n    \"name\": "...)
		b = jsonString(b, s.Name)
		b = jsonField(b, "action")
		b = jsonString(b, s.Action)
		b = jsonField(b, "state")
		b = jsonString(b, s.State)
		b = jsonField(b, "pid")
		b = strconv.AppendInt(b, int64(s.Pid), 10)
		b = jsonField(b, "restarts")
		b = strconv.AppendInt(b, int64(s.Restarts), 10)
		b = jsonField(b, "last_exit")
		b = jsonString(b, s.LastExit)
		b = jsonField(b, "adopted")
		b = strconv.AppendBool(b, s.Adopted)
		if s.Note != "" {
			b = jsonField(b, "note")
			b = jsonString(b, s.Note)
		}
		b = jsonField(b, "command")
		b = jsonString(b, s.Command)
		b = append(b, "\n  }"...)
	}
	if len(st) > 0 {
		b = append(b, '\n')
	}
	return append(b, ']')
}

// jsonField appends the start of a member after the first. It is kept out of
// line (go:noinline): statusJSON calls it at eight places.
//
//go:noinline
func jsonField(b []byte, key string) []byte {
	b = append(b, ",\n    \""...)
	b = append(b, key...)
	return append(b, "\": "...)
}

// jsonString appends s as a JSON string (RFC 8259): quote and backslash
// escaped, control characters as \u00XX, each byte of invalid UTF-8 replaced
// by U+FFFD.
func jsonString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = utf8.AppendRune(b, utf8.RuneError)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
