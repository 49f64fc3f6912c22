package utf16le

import (
	"encoding/binary"
	"testing"
	"unicode/utf16"
	"unicode/utf8"
)

// reference is what gpt and superblock did before: the units up to the first
// NUL through unicode/utf16.Decode.
func reference(b []byte) string {
	var units []uint16
	for i := 0; i+1 < len(b); i += 2 {
		u := binary.LittleEndian.Uint16(b[i:])
		if u == 0 {
			break
		}
		units = append(units, u)
	}
	return string(utf16.Decode(units))
}

func le(units ...uint16) []byte {
	var b []byte
	for _, u := range units {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return b
}

func TestName(t *testing.T) {
	for _, c := range []struct {
		in   []byte
		want string
	}{
		{le('r', 'o', 'o', 't', 'f', 's', '_', 'd', 'a', 't', 'a', 0, 'x'), "rootfs_data"},
		{le(0xe9, 0x20ac), "é€"},
		{le(0xd83d, 0xde00), "\U0001F600"},         // a surrogate pair
		{le(0xd83d, 'a'), "\uFFFDa"},               // high surrogate, no low one
		{le(0xde00, 'a'), "\uFFFDa"},               // lone low surrogate
		{le(0xd83d, 0), "\uFFFD"},                  // high surrogate before the NUL
		{append(le('a', 0xd83d), 0x00), "a\uFFFD"}, // odd length: the last byte is no unit
		{nil, ""},
	} {
		if got := Name(c.in); got != c.want {
			t.Errorf("Name(% x) = %q, want %q", c.in, got, c.want)
		}
		if got := reference(c.in); got != c.want {
			t.Errorf("reference(% x) = %q, want %q (the test is wrong)", c.in, got, c.want)
		}
	}
}

func FuzzName(f *testing.F) {
	f.Add(le('a', 'b', 0))
	f.Add(le(0xd83d, 0xde00, 0xdc00, 0xd800))
	f.Add([]byte{0x3d, 0xd8, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		got := Name(b)
		if want := reference(b); got != want {
			t.Fatalf("Name(% x) = %q, utf16.Decode gives %q", b, got, want)
		}
		if !utf8.ValidString(got) {
			t.Fatalf("Name(% x) = %q: not UTF-8", b, got)
		}
	})
}
