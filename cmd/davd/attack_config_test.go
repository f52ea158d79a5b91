package main

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
)

// refusedConfig is a configuration davd must refuse before it listens,
// with one line mentioning want.
type refusedConfig struct {
	name string
	args []string
	want string
}

func checkRefused(t *testing.T, tests []refusedConfig) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			listened := false
			args := append([]string{"davd", "serve", "--addr", "127.0.0.1:0"}, tt.args...)
			err := runApp(context.Background(), args, io.Discard, io.Discard, func(net.Addr) { listened = true })
			if err == nil || listened {
				t.Fatalf("err %v, listened %v", err, listened)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

// TestAdminExposureRefused: the admin listener has no authentication, so
// a non-loopback --admin-addr needs --allow-remote-admin. The ports are
// invalid, so that a server that skipped the check fails in Listen with
// another message.
func TestAdminExposureRefused(t *testing.T) {
	t.Parallel()
	checkRefused(t, []refusedConfig{
		{"all interfaces", []string{"--storage", "mem://", "--admin-addr", ":99999"}, "--allow-remote-admin"},
		{"0.0.0.0", []string{"--storage", "mem://", "--admin-addr", "0.0.0.0:99999"}, "--allow-remote-admin"},
		{"[::]", []string{"--storage", "mem://", "--admin-addr", "[::]:99999"}, "--allow-remote-admin"},
		{"a LAN address", []string{"--storage", "mem://", "--admin-addr", "192.0.2.1:99999"}, "--allow-remote-admin"},
		{"anonymous allowed", []string{"--storage", "mem://", "--allow-anonymous", "--admin-addr", "0.0.0.0:99999"}, "--allow-remote-admin"},
		// Allowed: the check passes and Listen fails on the port.
		{"allowed remote", []string{"--storage", "mem://", "--allow-remote-admin", "--admin-addr", "0.0.0.0:99999"}, "--admin-addr: listen"},
		{"loopback", []string{"--storage", "mem://", "--admin-addr", "127.0.0.1:99999"}, "--admin-addr: listen"},
		{"localhost", []string{"--storage", "mem://", "--admin-addr", "localhost:99999"}, "--admin-addr: listen"},
	})
}
