package processing

import (
	"bufio"
	"context"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestRegistryListsSlowOperations(t *testing.T) {
	t.Parallel()
	reg := NewRegistry(time.Hour)
	begin := func(method, target string) (*Operation, *Progress) {
		r := httptest.NewRequest(method, target, nil)
		p := new(Progress)
		r = r.WithContext(WithProgress(r.Context(), p))
		if method == "COPY" {
			r.Header.Set("Destination", "http://example.com/dst%20x")
		}
		return reg.Begin(r, &Writer{}, "bob"), p
	}
	copyOp, p := begin("COPY", "/src")
	getOp, _ := begin("GET", "/file")
	p.SetTotal(10, 0)
	p.AddResource("/src/a")
	p.AddBytes(5)

	list := reg.Operations()
	if len(list) != 1 {
		t.Fatalf("listed %+v, want the COPY only (a quick GET is not slow)", list)
	}
	got := list[0]
	if got.Method != "COPY" || got.Path != "/src" || got.Destination != "/dst x" || got.User != "bob" ||
		got.Resources != 1 || got.TotalResources != 10 || got.Bytes != 5 || got.Current != "/src/a" ||
		got.Progress != `1/10 "/src/a" 5/ (bytes)` || got.ID == "" {
		t.Errorf("listed %+v", got)
	}
	if n := reg.InFlight(); n != 2 {
		t.Errorf("InFlight = %d, want 2", n)
	}

	// A request that has sent a 102 is slow whatever its method.
	getOp.w.interim.Add(1)
	if list := reg.Operations(); len(list) != 2 || list[1].Method != "GET" || list[1].Interim != 1 {
		t.Errorf("after a 102 the GET is not listed: %+v", list)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := reg.Wait(ctx); err == nil {
		t.Error("Wait returned while requests run")
	}
	if info := copyOp.End(); info.Long || info.Resources != 1 {
		t.Errorf("End of a quick COPY = %+v; want not long", info)
	}
	waited := make(chan error, 1)
	go func() { waited <- reg.Wait(context.Background()) }()
	if info := getOp.End(); !info.Long {
		t.Error("End of a GET that sent a 102 is not long")
	}
	select {
	case err := <-waited:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return once every request ended")
	}
	if list := reg.Operations(); len(list) != 0 || reg.InFlight() != 0 {
		t.Errorf("after End: %+v", list)
	}
}

func TestRegistrySlowAfter(t *testing.T) {
	t.Parallel()
	reg := NewRegistry(10 * time.Millisecond)
	op := reg.Begin(httptest.NewRequest("PUT", "/big", nil), nil, "")
	if len(reg.Operations()) != 0 {
		t.Error("a PUT is listed before it is slow")
	}
	time.Sleep(15 * time.Millisecond)
	if len(reg.Operations()) != 1 {
		t.Error("a PUT running longer than slowAfter is not listed")
	}
	if !op.End().Long {
		t.Error("not long")
	}
}

func TestRegistryNil(t *testing.T) {
	t.Parallel()
	var reg *Registry
	op := reg.Begin(httptest.NewRequest("COPY", "/x", nil), nil, "")
	if info := op.End(); info.Method != "COPY" || !info.Long {
		t.Errorf("End = %+v", info)
	}
	if reg.Operations() != nil || reg.InFlight() != 0 || reg.Wait(context.Background()) != nil {
		t.Error("nil Registry tracks something")
	}
	var b strings.Builder
	if err := reg.WriteMetrics(&b); err != nil || !strings.Contains(b.String(), "davd_requests_in_flight 0") {
		t.Errorf("WriteMetrics = %v:\n%s", err, b.String())
	}
}

// sampleLine is a Prometheus text format sample: name, optional labels,
// value (no timestamps are written).
var sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? ([0-9.eE+-]+|\+Inf|NaN)$`)

// parseMetrics checks text against the Prometheus text exposition format
// and returns each sample's value by its name and labels as written. Every
// sample must follow a TYPE line for its metric family.
func parseMetrics(t *testing.T, text string) map[string]string {
	t.Helper()
	samples := map[string]string{}
	typed := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if f, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, typ, _ := strings.Cut(f, " ")
			if _, dup := typed[name]; dup {
				t.Errorf("TYPE of %s given twice", name)
			}
			typed[name] = typ
			continue
		}
		if strings.HasPrefix(line, "# HELP ") {
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("not a sample line: %q", line)
			continue
		}
		family := m[1]
		if typed[family] == "" {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if base, ok := strings.CutSuffix(family, suffix); ok && typed[base] == "histogram" {
					family = base
				}
			}
		}
		if typed[family] == "" {
			t.Errorf("sample before its TYPE line: %q", line)
		}
		key := m[1] + m[2]
		if _, dup := samples[key]; dup {
			t.Errorf("sample %s given twice", key)
		}
		samples[key] = line[strings.LastIndexByte(line, ' ')+1:]
	}
	return samples
}

func TestWriteMetrics(t *testing.T) {
	t.Parallel()
	reg := NewRegistry(time.Hour)
	for _, tt := range []struct {
		method   string
		status   int32
		interim  int32
		written  int64
		progress int64
	}{
		{"COPY", 201, 3, 0, 4},
		{"COPY", 201, 0, 0, 2},
		{"GET", 0, 0, 10, 0},
		{"BREW", 405, 0, 20, 0},
	} {
		r := httptest.NewRequest(tt.method, "/x", nil)
		p := new(Progress)
		r = r.WithContext(WithProgress(r.Context(), p))
		w := &Writer{}
		op := reg.Begin(r, w, "")
		w.status.Store(tt.status)
		w.interim.Store(tt.interim)
		w.written.Store(tt.written)
		for range tt.progress {
			p.AddResource("/x")
			p.AddBytes(100)
		}
		op.End()
	}
	running := reg.Begin(httptest.NewRequest("DELETE", "/y", nil), nil, "")
	defer running.End()

	var b strings.Builder
	if err := reg.WriteMetrics(&b); err != nil {
		t.Fatal(err)
	}
	got := parseMetrics(t, b.String())
	for key, want := range map[string]string{
		`davd_requests_total{method="COPY",status="201"}`:               "2",
		`davd_requests_total{method="GET",status="200"}`:                "1",
		`davd_requests_total{method="other",status="405"}`:              "1",
		`davd_request_duration_seconds_count{method="COPY"}`:            "2",
		`davd_request_duration_seconds_bucket{method="COPY",le="+Inf"}`: "2",
		`davd_request_duration_seconds_bucket{method="COPY",le="1800"}`: "2",
		`davd_interim_responses_total{method="COPY"}`:                   "3",
		`davd_response_bytes_total{method="GET"}`:                       "10",
		`davd_response_bytes_total{method="other"}`:                     "20",
		`davd_operation_resources_total{method="COPY"}`:                 "6",
		`davd_operation_bytes_total{method="COPY"}`:                     "600",
		`davd_requests_in_flight`:                                       "1",
		`davd_operations_in_flight`:                                     "1",
	} {
		if got[key] != want {
			t.Errorf("%s = %q, want %q", key, got[key], want)
		}
	}
	if _, ok := got[`davd_requests_total{method="BREW",status="405"}`]; ok {
		t.Error("an unknown method got its own label value")
	}
}
