package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads /metrics at admin as Prometheus does and parses it with the
// Prometheus text parser, which refuses anything outside the format.
func scrape(t *testing.T, admin string) map[string]*dto.MetricFamily {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, admin+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	// What Prometheus sends when it may not use protobuf.
	req.Header.Set("Accept", "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("/metrics = %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics is not in the text format: %v", err)
	}
	return families
}

// sample returns the value of the sample of family name whose labels
// include want (name=value pairs), and whether there is one.
func sample(families map[string]*dto.MetricFamily, name string, want ...string) (float64, bool) {
	mf := families[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(want); i += 2 {
			if labels[want[i]] != want[i+1] {
				continue next
			}
		}
		switch mf.GetType() {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue(), true
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue(), true
		case dto.MetricType_HISTOGRAM:
			return float64(m.GetHistogram().GetSampleCount()), true
		default:
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

// TestMetricsScrape uploads, reads and deletes through a real server and
// scrapes its admin listener: the davd_ families count those requests
// (the PUT body bytes among them), the Go runtime and process families are
// there, and davd_build_info is 1.
func TestMetricsScrape(t *testing.T) {
	t.Parallel()
	d := runDavd(t, "--admin-addr", "127.0.0.1:0", "--storage", "mem://")
	if d.admin == "" {
		t.Fatal("no admin listener in the log")
	}
	sizes := []int{1000, 2345, 70000}
	uploaded := 0
	for i, n := range sizes {
		body := io.Reader(strings.NewReader(strings.Repeat("x", n)))
		if i == 1 {
			body = io.MultiReader(body) // no length known: sent chunked
		}
		req, _ := http.NewRequest(http.MethodPut, fmt.Sprintf("%s/f%d", d.base, i), body)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("PUT %d bytes = %d", n, resp.StatusCode)
		}
		uploaded += n
	}
	if code, body := get(t, d.base+"/f0"); code != http.StatusOK || len(body) != sizes[0] {
		t.Fatalf("GET = %d, %d bytes", code, len(body))
	}

	// A request is counted once its handler has returned, which may be
	// just after the client has its response.
	var families map[string]*dto.MetricFamily
	for deadline := time.Now().Add(5 * time.Second); ; {
		families = scrape(t, d.admin)
		if n, _ := sample(families, "davd_requests_total", "method", "GET", "status", "200"); n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the GET is not counted in davd_requests_total")
		}
		time.Sleep(10 * time.Millisecond)
	}

	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"davd_requests_total", []string{"method", "PUT", "status", "201"}, float64(len(sizes))},
		{"davd_request_duration_seconds", []string{"method", "PUT"}, float64(len(sizes))},
		{"davd_operation_bytes_total", []string{"method", "PUT"}, float64(uploaded)},
		{"davd_response_bytes_total", []string{"method", "GET"}, float64(sizes[0])},
		{"davd_build_info", nil, 1},
	} {
		if got, ok := sample(families, c.name, c.labels...); !ok || got != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	for _, name := range []string{"davd_requests_in_flight", "davd_operations_in_flight",
		"davd_interim_responses_total", "davd_operation_resources_total"} {
		if _, ok := sample(families, name); !ok {
			t.Errorf("%s missing", name)
		}
	}
	if got := families["davd_request_duration_seconds"].GetType(); got != dto.MetricType_HISTOGRAM {
		t.Errorf("davd_request_duration_seconds is a %v", got)
	}
	if n, ok := sample(families, "go_goroutines"); !ok || n < 1 {
		t.Errorf("go_goroutines = %v (present %v)", n, ok)
	}
	if n, ok := sample(families, "process_resident_memory_bytes"); !ok || n < 1<<20 {
		t.Errorf("process_resident_memory_bytes = %v (present %v)", n, ok)
	}
	info := families["davd_build_info"].GetMetric()
	if len(info) != 1 {
		t.Fatalf("davd_build_info has %d samples", len(info))
	}
	labels := map[string]string{}
	for _, l := range info[0].GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	if len(labels) != 3 || labels["version"] == "" || labels["revision"] == "" || !strings.HasPrefix(labels["goversion"], "go1.") {
		t.Errorf("davd_build_info labels = %v", labels)
	}
}
