package processing

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
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

// The descriptions of the families a Registry collects (read only). Label
// values are method names from a fixed set (see metricMethod) and status
// codes, so that clients cannot grow the series without bound.
var (
	requestsDesc = prometheus.NewDesc("davd_requests_total",
		"Requests finished, by method and status.", []string{"method", "status"}, nil)
	durationDesc = prometheus.NewDesc("davd_request_duration_seconds",
		"Time from the start of a request to the end of its response.", []string{"method"}, nil)
	responseBytesDesc = prometheus.NewDesc("davd_response_bytes_total",
		"Response body bytes written, by method.", []string{"method"}, nil)
	interimDesc = prometheus.NewDesc("davd_interim_responses_total",
		"102 Processing responses sent, by method.", []string{"method"}, nil)
	resourcesDesc = prometheus.NewDesc("davd_operation_resources_total",
		"Resources handled by operations (copied, moved, deleted, described, locked), by method.", []string{"method"}, nil)
	operationBytesDesc = prometheus.NewDesc("davd_operation_bytes_total",
		"File content bytes handled by operations (received by PUT, copied or deleted), by method.", []string{"method"}, nil)
	inFlightDesc = prometheus.NewDesc("davd_requests_in_flight",
		"Requests being served.", nil, nil)
	slowDesc = prometheus.NewDesc("davd_operations_in_flight",
		"Slow operations running, as listed at /operations.", nil, nil)
)

// Describe implements prometheus.Collector: a Registry collects the davd_
// families, whose names and meaning are part of davd's interface.
func (r *Registry) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{requestsDesc, durationDesc, responseBytesDesc, interimDesc,
		resourcesDesc, operationBytesDesc, inFlightDesc, slowDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. Counters cover finished
// requests; the two gauges count what is in flight. A nil Registry
// reports zero in flight and no counters.
func (r *Registry) Collect(ch chan<- prometheus.Metric) {
	inFlight, slow := 0, 0
	if r != nil {
		slow = len(r.Operations())
		r.mu.Lock()
		inFlight = len(r.ops)
		r.m.collect(ch)
		r.mu.Unlock()
	}
	ch <- prometheus.MustNewConstMetric(inFlightDesc, prometheus.GaugeValue, float64(inFlight))
	ch <- prometheus.MustNewConstMetric(slowDesc, prometheus.GaugeValue, float64(slow))
}

// collect sends the counters; the caller holds the Registry's mutex.
func (m *metrics) collect(ch chan<- prometheus.Metric) {
	for k, n := range m.requests {
		ch <- prometheus.MustNewConstMetric(requestsDesc, prometheus.CounterValue, float64(n), k.method, strconv.Itoa(k.status))
	}
	for method, mm := range m.byMethod {
		buckets := make(map[float64]uint64, len(durationBuckets))
		var cum uint64
		for i, bound := range durationBuckets {
			cum += m.histogram[method][i]
			buckets[bound] = cum
		}
		ch <- prometheus.MustNewConstHistogram(durationDesc, mm.count, mm.seconds, buckets, method)
		for _, c := range []struct {
			desc *prometheus.Desc
			v    uint64
		}{
			{responseBytesDesc, mm.responseBytes},
			{interimDesc, mm.interim},
			{resourcesDesc, mm.resources},
			{operationBytesDesc, mm.bytes},
		} {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(c.v), method)
		}
	}
}

// WriteMetrics writes the davd_ families of r (see Collect), and only
// those, in the Prometheus text exposition format (version 0.0.4). The
// admin listener serves them with the Go runtime and process families.
func (r *Registry) WriteMetrics(w io.Writer) error {
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(r); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	families, err := reg.Gather()
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	for _, mf := range families {
		if _, err := expfmt.MetricFamilyToText(w, mf); err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
	}
	return nil
}

// BuildInfo describes the running binary, for the davd_build_info gauge.
// Empty fields are reported as "unknown".
type BuildInfo struct {
	Version   string // release version, e.g. v1.2.0, or (devel)
	Revision  string // VCS commit the binary was built from
	GoVersion string // Go release that built it, e.g. go1.26.8
}

// MetricsHandler serves /metrics in the Prometheus formats (the text format
// unless the scraper asks for another) from a registry of its own: the
// davd_ families of r (see Collect), the standard go_ runtime and process_
// families, and davd_build_info, always 1, whose labels describe build.
// Nothing is registered with prometheus.DefaultRegisterer, so that servers
// in one process (tests run many) never share or clash over metrics.
func (r *Registry) MetricsHandler(build BuildInfo) http.Handler {
	reg := prometheus.NewRegistry()
	unknown := func(s string) string {
		if s == "" {
			return "unknown"
		}
		return s
	}
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "davd_build_info",
		Help: "Always 1; the labels describe the running binary.",
		ConstLabels: prometheus.Labels{
			"version":   unknown(build.Version),
			"revision":  unknown(build.Revision),
			"goversion": unknown(build.GoVersion),
		},
	})
	info.Set(1)
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		info,
		r,
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		// A collector that fails (a process_ value unreadable in a
		// sandbox) leaves the others served.
		ErrorHandling: promhttp.ContinueOnError,
	})
}
