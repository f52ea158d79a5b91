package dav

import (
	"math/rand/v2"
	"net/http"
	"testing"
	"time"
)

// TestTimeFormats compares the hand-written formatters with AppendFormat
// over fixed edge cases and random instants, in zones other than UTC too.
func TestTimeFormats(t *testing.T) {
	t.Parallel()
	zone := time.FixedZone("X", -7*3600-1800)
	times := []time.Time{
		time.Unix(0, 0),
		time.Date(1999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2000, 2, 29, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 2, 9, 5, 7, 0, zone),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(999, 1, 1, 0, 0, 0, 0, time.UTC),   // three-digit year: fallback
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), // five digits: fallback
		{}, // the zero time, year 1
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		times = append(times, time.Unix(rng.Int64N(1<<35)-1<<33, rng.Int64N(1e9)).In(zone))
	}
	for _, tm := range times {
		if got, want := string(appendHTTPTime(nil, tm)), tm.UTC().Format(http.TimeFormat); got != want {
			t.Errorf("appendHTTPTime(%v) = %q, want %q", tm, got, want)
		}
		if got, want := string(appendISOTime(nil, tm)), tm.UTC().Format("2006-01-02T15:04:05Z"); got != want {
			t.Errorf("appendISOTime(%v) = %q, want %q", tm, got, want)
		}
	}
}
