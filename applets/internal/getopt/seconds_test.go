package getopt

import (
	"strconv"
	"testing"
	"time"
)

func TestParseSeconds(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
	}{
		{"0", 0},
		{"2", 2 * time.Second},
		{"0.5", 500 * time.Millisecond},
		{".5", 500 * time.Millisecond},
		{"5.", 5 * time.Second},
		{"1.25", 1250 * time.Millisecond},
		{"0.000000001", 1},
		{"0.0000000019", 1}, // past the nanosecond: dropped
		{"86400", 86400 * time.Second},
		{"9223372036", 9223372036 * time.Second},
		{"9223372036.854775807", 1<<63 - 1},
	} {
		got, err := ParseSeconds(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseSeconds(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"", ".", "-1", "+1", "1e3", "inf", "NaN", "0x10", "1.2.3", "1 ", " 1", "1s",
		"9223372037", "9223372036.854775808", "99999999999999999999"} {
		if got, err := ParseSeconds(in); err == nil {
			t.Errorf("ParseSeconds(%q) = %v, want an error", in, got)
		}
	}
}

// FuzzParseSeconds checks ParseSeconds against ParseFloat on what both take.
func FuzzParseSeconds(f *testing.F) {
	for _, s := range []string{"0", "1.5", ".25", "7.", "86400", "1e3", "-1", "0.123456789"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseSeconds(s)
		if err != nil {
			return
		}
		if d < 0 {
			t.Fatalf("ParseSeconds(%q) = %v < 0", s, d)
		}
		v, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil {
			t.Fatalf("ParseSeconds(%q) = %v, but ParseFloat fails: %v", s, d, ferr)
		}
		// float64 has 53 bits: compare to within its precision and a nanosecond.
		diff := v*1e9 - float64(d)
		if diff < 0 {
			diff = -diff
		}
		if diff > 1+v*1e9/(1<<52) {
			t.Fatalf("ParseSeconds(%q) = %d ns, ParseFloat gives %v s", s, int64(d), v)
		}
	})
}
