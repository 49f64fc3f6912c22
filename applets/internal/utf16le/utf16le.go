// Package utf16le decodes the NUL-terminated UTF-16LE names that on-disk
// structures hold: GPT partition names and f2fs volume labels.
package utf16le

import "unicode/utf8"

// Name decodes b (pairs of bytes, little-endian) up to its first NUL unit. A
// surrogate pair becomes its rune; an unpaired surrogate becomes U+FFFD, as
// unicode/utf16.Decode does, so the result is always valid UTF-8.
func Name(b []byte) string {
	var out []byte
	for i := 0; i+1 < len(b); i += 2 {
		r := rune(b[i]) | rune(b[i+1])<<8
		if r == 0 {
			break
		}
		if 0xd800 <= r && r < 0xdc00 && i+3 < len(b) {
			if lo := rune(b[i+2]) | rune(b[i+3])<<8; 0xdc00 <= lo && lo < 0xe000 {
				r = 0x10000 + (r-0xd800)<<10 + (lo - 0xdc00)
				i += 2
			}
		}
		out = utf8.AppendRune(out, r) // a lone surrogate is written as U+FFFD
	}
	return string(out)
}
