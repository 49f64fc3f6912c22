package ere

import (
	"bytes"
	"encoding/binary"
	"math/rand"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"toybox-go/internal/testbin"
)

// TestMusl compares with the real thing: musl's regcomp and regexec (the
// C library of OpenWrt, whose procd reads hotplug.json) in the C locale,
// through testdata/regexec.c built with musl-gcc. Random patterns over
// every special character, subjects with newlines and high bytes.
//
// Where we differ on purpose, the test expects it: we refuse \d, \1,
// \b, \x... (musl's own extensions, which glibc reads otherwise), {,n}
// and programs too large to expand; musl refuses [.c.] and [=c=]. musl
// (TRE) also gets some patterns wrong that mix anchors inside the
// pattern or next to an empty alternative with text that can match
// empty: "^$|" does not match "b" there, "--^*" does not match "--"
// (POSIX and glibc say both match). Those patterns are not compared.
func TestMusl(t *testing.T) {
	cc := testbin.RequireTool(t, "musl-gcc")
	bin := filepath.Join(t.TempDir(), "regexec")
	if out, err := exec.Command(cc, "-static", "-O1", "-o", bin, "testdata/regexec.c").CombinedOutput(); err != nil {
		t.Fatalf("musl-gcc: %v\n%s", err, out)
	}

	pieces := []string{"{2}", "{1,3}", "{0,}", "{,2}", "[[:alpha:]]", "[[:digit:]-]", "[^a]", "[]a]", "[a-]",
		"[%--]", "[a-c-e]", "[[.a.]-c]", "\\.", "\\\\", "\\/", "\\}", "\\d", "()", "a**"}
	rng := rand.New(rand.NewSource(7))
	patterns := 10000
	if testing.Short() {
		patterns = 1000
	}
	type record struct{ pat, subject string }
	var records []record
	var input bytes.Buffer
	put := func(s string) {
		binary.Write(&input, binary.LittleEndian, uint32(len(s)))
		input.WriteString(s)
	}
	for i := 0; i < patterns; i++ {
		var pat string
		if i%2 == 0 {
			src := make([]byte, 40)
			rng.Read(src)
			pat = generate(src)
		} else {
			pat = randomPattern(rng, pieces)
		}
		for j := 0; j < 4; j++ {
			s := randomSubject(rng, "abx1\n\xff](A.- ")
			records = append(records, record{pat, s})
			put(pat)
			put(s)
		}
	}
	cmd := exec.Command(bin)
	cmd.Stdin = &input
	out, err := cmd.Output()
	if err != nil || len(out) != len(records) {
		t.Fatalf("%s: %v; %d answers for %d records", bin, err, len(out), len(records))
	}

	compared := 0
	for i, r := range records {
		re, err := Compile(r.pat)
		switch {
		case err != nil && out[i] != 'E':
			if e := err.(*Error); !strings.Contains(e.Msg, "unsupported escape") && !strings.Contains(e.Msg, "missing minimum") {
				t.Errorf("%q: we refuse it (%v), musl compiles it", r.pat, err)
			}
		case err == nil && out[i] == 'E':
			if !strings.Contains(r.pat, "[[.") && !strings.Contains(r.pat, "[[=") {
				t.Errorf("%q: musl refuses it, we compile it", r.pat)
			}
		case err == nil && !muslAnchorBug(r.pat):
			compared++
			if got, want := re.MatchString(r.subject), out[i] == '1'; got != want {
				t.Errorf("%q against %q: got %v, musl says %v", r.pat, r.subject, got, want)
			}
		}
	}
	t.Logf("%d records, %d compared with musl", len(records), compared)
	if compared < len(records)/4 {
		t.Errorf("only %d of %d records compared", compared, len(records))
	}
}

// muslAnchorBug: an anchor other than a leading ^ or a trailing $, or an
// anchor in a pattern with an empty alternative.
func muslAnchorBug(pat string) bool {
	if !strings.ContainsAny(pat, "^$") {
		return false
	}
	core := strings.TrimSuffix(strings.TrimPrefix(pat, "^"), "$")
	return strings.ContainsAny(core, "^$") || strings.Contains(pat, "||") ||
		strings.HasPrefix(core, "|") || strings.HasSuffix(core, "|") ||
		strings.Contains(pat, "(|") || strings.Contains(pat, "|)") || strings.Contains(pat, "()")
}
