// Package cmdline reads the kernel command line as the kernel itself splits
// it (lib/cmdline.c's next_arg): words are separated by white space except
// inside double quotes, and the quotes around a word or around its value are
// dropped, so `rootflags="a b"` is the word `rootflags=a b`.
package cmdline

import (
	"os"
	"strings"
)

// Split splits a command line into words.
func Split(s string) []string {
	var words []string
	for {
		s = strings.TrimLeft(s, " \t\n\r\v\f")
		if s == "" {
			return words
		}
		end, quoted := 0, false
		for ; end < len(s); end++ {
			c := s[end]
			if c == '"' {
				quoted = !quoted
			} else if !quoted && isSpace(c) {
				break
			}
		}
		words = append(words, unquote(s[:end]))
		s = s[end:]
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// unquote drops a leading quote of the word or of its value, and then a
// trailing one, as next_arg does.
func unquote(w string) string {
	trailing := len(w) > 1 && w[len(w)-1] == '"'
	if w[0] == '"' {
		w = w[1:]
	} else if k, v, ok := strings.Cut(w, "="); ok && strings.HasPrefix(v, `"`) {
		w = k + "=" + v[1:]
	} else {
		trailing = false
	}
	if trailing && strings.HasSuffix(w, `"`) {
		w = w[:len(w)-1]
	}
	return w
}

// Read splits the command line in the file path (normally /proc/cmdline); a
// file that cannot be read is an empty command line.
func Read(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	return Split(string(b))
}

// Lookup returns the value of key=VALUE in words (the last one wins, as for
// the kernel's own parameters; a bare "key" has the value ""), and whether it
// is there. Words after "--" are the init's arguments, not parameters.
func Lookup(words []string, key string) (string, bool) {
	val, found := "", false
	for _, w := range words {
		if w == "--" {
			break
		}
		k, v, _ := strings.Cut(w, "=")
		if k == key {
			val, found = v, true
		}
	}
	return val, found
}
