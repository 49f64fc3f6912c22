package pid2

import (
	"bytes"
	"strings"
	"testing"
)

func TestClientErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"status"}, "pid2 is not running"},
		{[]string{"reboot"}, "pid2 is not running"},
		{[]string{"start"}, "usage: pid2 start NAME"},
		{[]string{"stop", "a", "b"}, "usage: pid2 stop NAME"},
		{[]string{"status", "--bogus"}, "unknown option"},
		{[]string{"frobnicate"}, "unknown command"},
		{[]string{"reload", "x"}, "usage: pid2 reload"},
	} {
		var out, errb bytes.Buffer
		if code := client(dir, tc.args, &out, &errb); code != 1 || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tc.args, code, errb.String(), tc.want)
		}
	}
}

func TestMainHelp(t *testing.T) {
	if code := Main([]string{"pid2", "--help"}); code != 0 {
		t.Errorf("--help exit %d", code)
	}
	if code := Main([]string{"pid2", "-x"}); code != 1 {
		t.Errorf("bad flag exit %d", code)
	}
	if !strings.HasPrefix(Usage, "usage: pid2 ") {
		t.Error("usage text")
	}
}
