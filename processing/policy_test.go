package processing

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestParseMode(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in      string
		want    Mode
		wantErr bool
	}{
		{"off", ModeOff, false},
		{"auto", ModeAuto, false},
		{"always", ModeAlways, false},
		{"Always", ModeAlways, false},
		{" auto ", ModeAuto, false},
		{"", ModeOff, true},
		{"on", ModeOff, true},
		{"never", ModeOff, true},
	} {
		got, err := ParseMode(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseMode(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil {
			for _, valid := range []string{"off", "auto", "always"} {
				if !strings.Contains(err.Error(), valid) {
					t.Errorf("ParseMode(%q) error %q does not name %q", tt.in, err, valid)
				}
			}
		}
	}
	for _, m := range []Mode{ModeOff, ModeAuto, ModeAlways} {
		if got, err := ParseMode(m.String()); got != m || err != nil {
			t.Errorf("ParseMode(%v.String()) = %v, %v", m, got, err)
		}
	}
	if s := Mode(7).String(); s != "Mode(7)" {
		t.Errorf("Mode(7).String() = %q", s)
	}
}

func TestDefaultDeny(t *testing.T) {
	t.Parallel()
	deny, err := CompileDeny(DefaultDeny())
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Deny: deny}
	for _, tt := range []struct {
		ua     string
		denied bool
	}{
		{"python-requests/2.31.0", true},
		{"Python-urllib/3.11", true},
		{"Java/17.0.9", true},
		{"okhttp/4.12.0", true},
		{"okhttp/3.14.9", true},
		{"okhttp/5.0.0", false},
		{"Wget2/2.1.0", true},
		{"Wget/1.21.3", false},
		{"rclone/v1.60.1", true},
		{"rclone/v1.9.0", true},
		{"rclone/v1.69.3", true},
		{"rclone/", true}, // Debian's 1.60.1 (Go 1.19)
		{"rclone/v1.60.1-DEV", true},
		{"rclone/v1.70.0", false},
		{"rclone/v1.71.2", false},
		{"rclone/v2.0.0", false},
		{"curl/8.5.0", false},
		{"Go-http-client/1.1", false},
		{"DAVx5/4.3 (okhttp/4.12.0)", false}, // anchored patterns: only a leading product counts
		{"", true},                           // Python's bare http.client sends none
		{" ", false},
	} {
		if got := cfg.Deny.Match(tt.ua); got != tt.denied {
			t.Errorf("Match(%q) = %v, want %v", tt.ua, got, tt.denied)
		}
	}
	a, b := DefaultDeny(), DefaultDeny()
	a[0] = "changed"
	if b[0] == "changed" {
		t.Error("DefaultDeny returns a shared slice")
	}
}

func TestCompileDeny(t *testing.T) {
	t.Parallel()
	res, err := CompileDeny([]string{`^a/`, `b`})
	if err != nil || len(res) != 2 || !res.Match("a/1") || !res.Match("xbx") || res.Match("x/a/") {
		t.Fatalf("CompileDeny = %v, %v", res, err)
	}
	if res, err := CompileDeny(nil); err != nil || len(res) != 0 {
		t.Errorf("CompileDeny(nil) = %v, %v", res, err)
	}
	_, err = CompileDeny([]string{`^ok/`, `^bad(/`})
	if err == nil || !strings.Contains(err.Error(), `"^bad(/"`) {
		t.Errorf("CompileDeny with a bad pattern: error %v does not name it", err)
	}
}

// TestDenyPrefix checks that the literal prefix which lets Match skip a
// regexp is taken only where the pattern really demands it, and that
// Match agrees with the plain regexp either way.
func TestDenyPrefix(t *testing.T) {
	t.Parallel()
	uas := []string{"", "a", "ab", "abc", "Ab", "xab", "b", "java/1", "Java/1", "rclone/", "rclone/v1.60.1", "a\nb", "ab\n", "rclone/\n", "é/1"}
	for _, tt := range []struct {
		pattern, prefix string
		whole           bool
	}{
		{`^python-requests/`, "python-requests/", false},
		{`^rclone/v1\.([0-9]|[1-6][0-9])\.`, "rclone/v1.", false},
		{`^rclone/$`, "rclone/", true},
		{`^$`, "", true},
		{`^ab$b`, "ab", false},
		{`ab`, "", false},         // not anchored
		{`^a|b`, "", false},       // an alternative need not start with a
		{`(?i)^java/`, "", false}, // case-folded
		{`^(?i:j)ava/`, "", false},
		{`^ab*`, "a", false},
		{`^a?b`, "", false},
		{`^a?$`, "", false},
		{`(?m)^ab`, "", false}, // ^ after any newline too
		{`(?m)^ab$`, "", false},
		{`^ab(?m:$)`, "ab", false},
		{`^é/`, "é/", false},
	} {
		if prefix, whole := anchoredPrefix(tt.pattern); prefix != tt.prefix || whole != tt.whole {
			t.Errorf("anchoredPrefix(%q) = %q, %v, want %q, %v", tt.pattern, prefix, whole, tt.prefix, tt.whole)
		}
		deny, err := CompileDeny([]string{tt.pattern})
		if err != nil {
			t.Fatal(err)
		}
		re := regexp.MustCompile(tt.pattern)
		for _, ua := range uas {
			if got, want := deny.Match(ua), re.MatchString(ua); got != want {
				t.Errorf("pattern %q: Match(%q) = %v, regexp says %v", tt.pattern, ua, got, want)
			}
		}
	}
}

func TestEnabled(t *testing.T) {
	t.Parallel()
	deny, _ := CompileDeny(DefaultDeny())
	auto := Config{Mode: ModeAuto, After: time.Second, Interval: time.Second, Deny: deny}
	always, off, noInterval := auto, auto, auto
	always.Mode, off.Mode, noInterval.Interval = ModeAlways, ModeOff, 0
	const denied = "python-requests/2.31"
	for _, tt := range []struct {
		name       string
		cfg        Config
		proto      string
		header     map[string][]string
		on, prefer bool
	}{
		{"auto", auto, "HTTP/1.1", nil, true, false},
		{"http/2", auto, "HTTP/2.0", nil, true, false},
		{"http/1.0", auto, "HTTP/1.0", nil, false, false},
		{"http/1.0 prefer", auto, "HTTP/1.0", map[string][]string{"Prefer": {"processing"}}, false, false},
		{"off", off, "HTTP/1.1", nil, false, false},
		{"off prefer", off, "HTTP/1.1", map[string][]string{"Prefer": {"processing"}}, false, false},
		{"no interval", noInterval, "HTTP/1.1", nil, false, false},
		{"denied", auto, "HTTP/1.1", map[string][]string{"User-Agent": {denied}}, false, false},
		{"denied always", always, "HTTP/1.1", map[string][]string{"User-Agent": {denied}}, true, false},
		{"denied prefer", auto, "HTTP/1.1", map[string][]string{"User-Agent": {denied}, "Prefer": {"processing"}}, true, true},
		{"prefer always", always, "HTTP/1.1", map[string][]string{"Prefer": {"processing"}}, true, true},
		{"prefer among others", auto, "HTTP/1.1", map[string][]string{"Prefer": {"respond-async, wait=10, processing"}}, true, true},
		{"prefer second line", auto, "HTTP/1.1", map[string][]string{"Prefer": {"return=minimal", "PROCESSING"}}, true, true},
		{"prefer with params", auto, "HTTP/1.1", map[string][]string{"Prefer": {" processing ; x=1"}}, true, true},
		{"prefer other", auto, "HTTP/1.1", map[string][]string{"Prefer": {"processingx, wait=processing"}}, true, false},
		{"denied prefer other", auto, "HTTP/1.1", map[string][]string{"User-Agent": {denied}, "Prefer": {"respond-async"}}, false, false},
		{"no user-agent", auto, "HTTP/1.1", map[string][]string{"User-Agent": {""}}, false, false},
		{"no user-agent prefer", auto, "HTTP/1.1", map[string][]string{"User-Agent": {""}, "Prefer": {"processing"}}, true, true},
		{"no user-agent always", always, "HTTP/1.1", map[string][]string{"User-Agent": {""}}, true, false},
	} {
		r := httptest.NewRequest("COPY", "/x", nil)
		r.Header.Set("User-Agent", "curl/8.5.0") // not denied unless the case says so
		r.Proto = tt.proto
		r.ProtoMajor, r.ProtoMinor, _ = http.ParseHTTPVersion(tt.proto)
		for k, v := range tt.header {
			r.Header[k] = v
		}
		on, prefer := tt.cfg.enabled(r)
		if on != tt.on || prefer != tt.prefer {
			t.Errorf("%s: enabled = %v, %v; want %v, %v", tt.name, on, prefer, tt.on, tt.prefer)
		}
	}
}
