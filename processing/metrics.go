package processing

import (
	"bufio"
	"io"
	"slices"
	"strconv"
)

// durationBuckets (read only) are the upper bounds, in seconds, of the request
// duration histogram: from a quick GET to an operation that needs 102s for
// half an hour.
var durationBuckets = []float64{0.005, 0.025, 0.1, 0.5, 1, 5, 20, 60, 300, 1800}

// metricMethod returns the label value for method: itself for the methods
// davd serves, "other" for any other, so that clients cannot grow the
// series without bound.
func metricMethod(method string) string {
	switch method {
	case "OPTIONS", "GET", "HEAD", "PUT", "DELETE", "MKCOL",
		"COPY", "MOVE", "PROPFIND", "PROPPATCH", "LOCK", "UNLOCK":
		return method
	}
	return "other"
}

// metrics are the counters of finished requests, kept by a Registry under
// its mutex.
type metrics struct {
	requests  map[methodStatus]uint64
	byMethod  map[string]*methodMetrics
	histogram map[string][]uint64 // per method: count per bucket, +Inf last
}

type methodStatus struct {
	method string
	status int
}

type methodMetrics struct {
	seconds       float64
	count         uint64
	responseBytes uint64
	interim       uint64
	resources     uint64
	bytes         uint64
}

func (m *metrics) observe(info OperationInfo) {
	if m.requests == nil {
		m.requests = make(map[methodStatus]uint64)
		m.byMethod = make(map[string]*methodMetrics)
		m.histogram = make(map[string][]uint64)
	}
	method := metricMethod(info.Method)
	status := info.Status
	if status == 0 {
		status = 200 // net/http's implicit status for a handler that wrote nothing
	}
	m.requests[methodStatus{method, status}]++
	mm := m.byMethod[method]
	if mm == nil {
		mm = new(methodMetrics)
		m.byMethod[method] = mm
	}
	mm.seconds += info.Seconds
	mm.count++
	mm.responseBytes += uint64(max(info.ResponseBytes, 0))
	mm.interim += uint64(max(info.Interim, 0))
	mm.resources += uint64(max(info.Resources, 0))
	mm.bytes += uint64(max(info.Bytes, 0))
	h := m.histogram[method]
	if h == nil {
		h = make([]uint64, len(durationBuckets)+1)
		m.histogram[method] = h
	}
	i, _ := slices.BinarySearch(durationBuckets, info.Seconds) // first bound >= seconds
	h[i]++
}

// WriteMetrics writes the server's metrics in the Prometheus text
// exposition format (version 0.0.4): requests by method and status,
// request durations, response bytes, 102s sent, the work done by
// operations, and what is in flight. Counters cover finished requests.
// Label values are method names from a fixed set and status codes, so they
// need no escaping.
func (r *Registry) WriteMetrics(w io.Writer) error {
	bw := bufio.NewWriter(w)
	inFlight, slow := 0, 0
	if r != nil {
		slow = len(r.Operations())
		r.mu.Lock()
		inFlight = len(r.ops)
		r.m.writeTo(bw)
		r.mu.Unlock()
	}
	gauge(bw, "davd_requests_in_flight", "Requests being served.", inFlight)
	gauge(bw, "davd_operations_in_flight", "Slow operations running, as listed at /operations.", slow)
	return bw.Flush()
}

func gauge(w *bufio.Writer, name, help string, v int) {
	header(w, name, help, "gauge")
	w.WriteString(name + " " + strconv.Itoa(v) + "\n")
}

func header(w *bufio.Writer, name, help, typ string) {
	w.WriteString("# HELP " + name + " " + help + "\n# TYPE " + name + " " + typ + "\n")
}

// writeTo writes the counters, sorted so that the output is stable.
func (m *metrics) writeTo(w *bufio.Writer) {
	keys := make([]methodStatus, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b methodStatus) int {
		if a.method != b.method {
			if a.method < b.method {
				return -1
			}
			return 1
		}
		return a.status - b.status
	})
	header(w, "davd_requests_total", "Requests finished, by method and status.", "counter")
	for _, k := range keys {
		w.WriteString(`davd_requests_total{method="` + k.method + `",status="` + strconv.Itoa(k.status) + `"} ` +
			strconv.FormatUint(m.requests[k], 10) + "\n")
	}

	methods := make([]string, 0, len(m.byMethod))
	for k := range m.byMethod {
		methods = append(methods, k)
	}
	slices.Sort(methods)
	header(w, "davd_request_duration_seconds", "Time from the start of a request to the end of its response.", "histogram")
	for _, method := range methods {
		var cum uint64
		for i, c := range m.histogram[method] {
			cum += c
			le := "+Inf"
			if i < len(durationBuckets) {
				le = strconv.FormatFloat(durationBuckets[i], 'g', -1, 64)
			}
			w.WriteString(`davd_request_duration_seconds_bucket{method="` + method + `",le="` + le + `"} ` +
				strconv.FormatUint(cum, 10) + "\n")
		}
		mm := m.byMethod[method]
		w.WriteString(`davd_request_duration_seconds_sum{method="` + method + `"} ` +
			strconv.FormatFloat(mm.seconds, 'g', -1, 64) + "\n")
		w.WriteString(`davd_request_duration_seconds_count{method="` + method + `"} ` +
			strconv.FormatUint(mm.count, 10) + "\n")
	}
	for _, c := range []struct {
		name, help string
		get        func(*methodMetrics) uint64
	}{
		{"davd_response_bytes_total", "Response body bytes written, by method.", func(mm *methodMetrics) uint64 { return mm.responseBytes }},
		{"davd_interim_responses_total", "102 Processing responses sent, by method.", func(mm *methodMetrics) uint64 { return mm.interim }},
		{"davd_operation_resources_total", "Resources handled by operations (copied, moved, deleted, described, locked), by method.", func(mm *methodMetrics) uint64 { return mm.resources }},
		{"davd_operation_bytes_total", "File content bytes handled by operations (copied or deleted), by method.", func(mm *methodMetrics) uint64 { return mm.bytes }},
	} {
		header(w, c.name, c.help, "counter")
		for _, method := range methods {
			w.WriteString(c.name + `{method="` + method + `"} ` + strconv.FormatUint(c.get(m.byMethod[method]), 10) + "\n")
		}
	}
}
