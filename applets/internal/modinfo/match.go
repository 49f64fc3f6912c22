package modinfo

import "strings"

// Normalize returns a module name in the kernel's spelling: `-` becomes `_` and
// a trailing .ko (optionally compressed) is dropped.
func Normalize(name string) string {
	for _, s := range []string{".ko.xz", ".ko.zst", ".ko.gz", ".ko"} {
		if strings.HasSuffix(name, s) {
			name = name[:len(name)-len(s)]
			break
		}
	}
	return strings.ReplaceAll(name, "-", "_")
}

// normalizeAlias turns `-` into `_` outside bracket expressions, as kmod does
// for both the aliases it indexes and the strings it looks up: "fs-ext4" and
// "fs_ext4" are one alias, while "[a-z]" keeps its range.
func normalizeAlias(s string) string {
	if !strings.ContainsRune(s, '-') {
		return s
	}
	b := []byte(s)
	inBracket := false
	for i, c := range b {
		switch {
		case c == '[':
			inBracket = true
		case c == ']':
			inBracket = false
		case c == '-' && !inBracket:
			b[i] = '_'
		}
	}
	return string(b)
}

// isGlob reports whether s holds fnmatch metacharacters.
func isGlob(s string) bool { return strings.ContainsAny(s, "*?[") }

// Match reports whether name matches the shell pattern pattern with fnmatch(3)
// semantics and no flags: `*` and `?` match any character including `/`,
// `[...]` is a set with ranges and `!` or `^` negation, `\` quotes the next
// character. A malformed bracket matches a literal `[`.
func Match(pattern, name string) bool {
	// Iterative matcher with backtracking to the last star: linear-ish, no
	// recursion, so a hostile pattern cannot blow the stack.
	p, n := 0, 0
	starP, starN := -1, 0
	for n < len(name) {
		if p < len(pattern) {
			switch c := pattern[p]; c {
			case '*':
				starP, starN = p, n
				p++
				continue
			case '?':
				p++
				n++
				continue
			case '[':
				if ok, width, valid := matchBracket(pattern[p:], name[n]); valid {
					if ok {
						p += width
						n++
						continue
					}
				} else if name[n] == '[' {
					p++
					n++
					continue
				}
			case '\\':
				if p+1 < len(pattern) {
					if pattern[p+1] == name[n] {
						p += 2
						n++
						continue
					}
				} else if name[n] == '\\' {
					p++
					n++
					continue
				}
			default:
				if c == name[n] {
					p++
					n++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		starN++
		p, n = starP+1, starN
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// matchBracket matches c against the bracket expression at the start of pat.
// valid is false when the bracket is not closed (then `[` is literal).
func matchBracket(pat string, c byte) (ok bool, width int, valid bool) {
	i := 1
	negate := false
	if i < len(pat) && (pat[i] == '!' || pat[i] == '^') {
		negate = true
		i++
	}
	first := true
	for i < len(pat) {
		lo := pat[i]
		if lo == ']' && !first {
			return ok != negate, i + 1, true
		}
		first = false
		if lo == '\\' && i+1 < len(pat) {
			i++
			lo = pat[i]
		}
		i++
		hi := lo
		if i+1 < len(pat) && pat[i] == '-' && pat[i+1] != ']' {
			hi = pat[i+1]
			i += 2
			if hi == '\\' && i < len(pat) {
				hi = pat[i]
				i++
			}
		}
		if lo <= c && c <= hi {
			ok = true
		}
	}
	return false, 0, false
}
