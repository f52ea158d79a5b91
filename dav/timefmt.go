package dav

import (
	"net/http"
	"time"
)

// PROPFIND formats two times per resource (getlastmodified and, for
// allprop, creationdate). time.Time.AppendFormat interprets its layout on
// every call; these write the two fixed layouts directly, and fall back to
// AppendFormat for years that do not have four digits.

const (
	dayNames   = "SunMonTueWedThuFriSat"
	monthNames = "JanFebMarAprMayJunJulAugSepOctNovDec"
)

// appendHTTPTime appends t in UTC as RFC 1123 with GMT (http.TimeFormat).
func appendHTTPTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 1000 || year > 9999 {
		return t.AppendFormat(b, http.TimeFormat)
	}
	hour, minute, sec := t.Clock()
	wd := int(t.Weekday()) * 3
	mo := (int(month) - 1) * 3
	b = append(b, dayNames[wd:wd+3]...)
	b = append(b, ", "...)
	b = append2(b, day)
	b = append(b, ' ')
	b = append(b, monthNames[mo:mo+3]...)
	b = append(b, ' ')
	b = append4(b, year)
	b = append(b, ' ')
	b = appendClock(b, hour, minute, sec)
	return append(b, " GMT"...)
}

// appendISOTime appends t in UTC as RFC 3339 without fractions
// (2006-01-02T15:04:05Z), the form of DAV:creationdate.
func appendISOTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 1000 || year > 9999 {
		return t.AppendFormat(b, "2006-01-02T15:04:05Z")
	}
	hour, minute, sec := t.Clock()
	b = append4(b, year)
	b = append(b, '-')
	b = append2(b, int(month))
	b = append(b, '-')
	b = append2(b, day)
	b = append(b, 'T')
	b = appendClock(b, hour, minute, sec)
	return append(b, 'Z')
}

func appendClock(b []byte, hour, minute, sec int) []byte {
	b = append2(b, hour)
	b = append(b, ':')
	b = append2(b, minute)
	b = append(b, ':')
	return append2(b, sec)
}

func append2(b []byte, n int) []byte { return append(b, byte('0'+n/10), byte('0'+n%10)) }

func append4(b []byte, n int) []byte { return append2(append2(b, n/100), n%100) }
