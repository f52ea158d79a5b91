package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Statistics of samples (medians, rates) and how values print.

// median is the middle value (the mean of the two middle ones for an even
// count); 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func durations(ss []sample) []float64 {
	out := make([]float64, len(ss))
	for i, s := range ss {
		out[i] = s.dur.Seconds()
	}
	return out
}

func rates(ss []sample) []float64 {
	out := make([]float64, len(ss))
	for i, s := range ss {
		out[i] = s.mbps()
	}
	return out
}

// unit is what a value measures.
type unit int

const (
	unitSeconds unit = iota
	unitReqPerSec
	unitMBps
	unitBytes
)

// value is one cell's number; the zero value is "not measured".
type value struct {
	v   float64
	u   unit
	set bool
}

func secs(s float64) value     { return value{s, unitSeconds, true} }
func rate(r float64) value     { return value{r, unitReqPerSec, true} }
func mbps(r float64) value     { return value{r, unitMBps, true} }
func bytesValue(n int64) value { return value{float64(n), unitBytes, true} }
func (v value) String() string {
	if !v.set {
		return "—"
	}
	switch v.u {
	case unitSeconds:
		return fmtSeconds(v.v)
	case unitReqPerSec:
		return thousands(int64(v.v+0.5)) + " req/s"
	case unitMBps:
		return fmt.Sprintf("%.0f MB/s", v.v)
	default:
		return mib(int64(v.v))
	}
}

// fmtSeconds prints a duration with 3 significant digits or so.
func fmtSeconds(s float64) string {
	switch {
	case s < 0.01:
		return fmt.Sprintf("%.2f ms", s*1000)
	case s < 1:
		return fmt.Sprintf("%.1f ms", s*1000)
	case s < 100:
		return fmt.Sprintf("%.2f s", s)
	default:
		return fmt.Sprintf("%.0f s", s)
	}
}

// perEntry is a time per entry, in µs, to show linear growth.
func perEntry(s float64, n int64) string {
	if n <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f µs", s/float64(n)*1e6)
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

// thousands prints n with comma separators.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// fmtRatio prints a measured ratio.
func fmtRatio(x float64) string { return fmt.Sprintf("%.2f×", x) }
