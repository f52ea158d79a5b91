package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// newLogger returns the logger that --log-format and --log-level ask for,
// writing to w. In both formats durations read as a person or a program
// expects them: text prints them with units (1.5s, 230µs); JSON prints
// them as numbers of seconds (1.5, 0.00023), not slog's default integer
// nanoseconds.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl})), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lvl, ReplaceAttr: durationSeconds})), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", format)
}

// durationSeconds is a slog ReplaceAttr that turns a time.Duration into
// its float number of seconds, the unit of Prometheus and of most log
// pipelines.
func durationSeconds(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.Float64Value(a.Value.Duration().Seconds())
	}
	return a
}

// reportError writes err, which ended davd, to w: as a JSON log line when
// format is "json", so that a log pipeline expecting JSON gets nothing
// else, and as the line "davd: err" otherwise.
func reportError(w io.Writer, format string, err error) {
	if format != "json" {
		fmt.Fprintln(w, "davd:", err)
		return
	}
	slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{ReplaceAttr: durationSeconds})).
		Error("davd exited", "err", err.Error())
}

// maxConfigPeek bounds what logFormat reads of a config file: a config is
// a few kilobytes, and a wrong --config naming a huge file must not stall
// the error report.
const maxConfigPeek = 1 << 20

// logFormat returns the --log-format a run with args (the arguments after
// the program name) asks for, as the flags would resolve it: the command
// line, then the environment (getenv), then the log-format key of the
// --config file, else "text". It looks before the flags are parsed, and
// never fails, so that an error in parsing them, or in anything before the
// logger exists, is still reported in the format asked for.
func logFormat(args []string, getenv func(string) string) string {
	if v, ok := flagValue(args, "log-format"); ok {
		return v
	}
	if v := getenv("DAVD_LOG_FORMAT"); v != "" {
		return v
	}
	config, ok := flagValue(args, "config")
	if !ok {
		config = getenv("DAVD_CONFIG")
	}
	if config == "" {
		return "text"
	}
	f, err := os.Open(config)
	if err != nil {
		return "text"
	}
	defer f.Close()
	var keys struct {
		LogFormat string `yaml:"log-format"`
	}
	if yaml.NewDecoder(io.LimitReader(f, maxConfigPeek)).Decode(&keys) != nil || keys.LogFormat == "" {
		return "text"
	}
	return keys.LogFormat
}

// flagValue returns the last value given to flag name in args, in any of
// the forms Go's flag package accepts (-name v, --name v, -name=v,
// --name=v); arguments after "--" are not flags.
func flagValue(args []string, name string) (value string, ok bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") {
			continue
		}
		a = strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		if v, found := strings.CutPrefix(a, name+"="); found {
			value, ok = v, true
		} else if a == name && i+1 < len(args) {
			value, ok = args[i+1], true
			i++
		}
	}
	return value, ok
}
