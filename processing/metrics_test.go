package processing

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestMetricsHandlerPerRegistry: two servers in one process each serve
// their own counters beside the Go and process families (nothing shared
// through a default registry), and davd_build_info shows the build, with
// "unknown" for what it does not know.
func TestMetricsHandlerPerRegistry(t *testing.T) {
	t.Parallel()
	a, b := NewRegistry(time.Hour), NewRegistry(time.Hour)
	a.Begin(httptest.NewRequest("GET", "/x", nil), nil, "").End()
	scrape := func(h http.Handler) string {
		srv := httptest.NewServer(h)
		defer srv.Close()
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		text, _ := io.ReadAll(resp.Body)
		return string(text)
	}
	ta := scrape(a.MetricsHandler(BuildInfo{Version: "v1.2.3", GoVersion: "go1.99"}))
	tb := scrape(b.MetricsHandler(BuildInfo{}))
	for _, want := range []string{
		`davd_requests_total{method="GET",status="200"} 1`,
		`davd_build_info{goversion="go1.99",revision="unknown",version="v1.2.3"} 1`,
		"go_goroutines ",
		"process_resident_memory_bytes ",
	} {
		if !strings.Contains(ta, want) {
			t.Errorf("first server's metrics lack %q", want)
		}
	}
	if strings.Contains(tb, "davd_requests_total") {
		t.Error("second server's metrics count the first server's request")
	}
	if !strings.Contains(tb, `davd_build_info{goversion="unknown",revision="unknown",version="unknown"} 1`) {
		t.Error("empty build info not reported as unknown")
	}
}
