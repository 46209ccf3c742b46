package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Beyond loopback, `floe gateway` refuses to serve stores without a token
// unless told to; on loopback it needs none.
func TestGatewayStoreAuthRule(t *testing.T) {
	for _, tc := range []struct {
		listen      string
		token, open bool
		wantErr     bool
	}{
		{"127.0.0.1:31415", false, false, false},
		{"localhost:31415", false, false, false},
		{"[::1]:31415", false, false, false},
		{"0.0.0.0:31415", false, false, true},
		{"192.0.2.7:31415", false, false, true},
		{"0.0.0.0:31415", true, false, false},
		{"0.0.0.0:31415", false, true, false},
	} {
		err := checkStoreAuth(tc.listen, tc.token, tc.open)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s token=%v open=%v: %v", tc.listen, tc.token, tc.open, err)
		}
	}

	// The command stops before it connects to anything.
	tok := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tok, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) error {
		cmd := newGatewayCommand()
		cmd.SetArgs(args)
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		return cmd.Execute()
	}
	err := run("--config", filepath.Join(t.TempDir(), "none.json"), "--listen", "0.0.0.0:0", "--allow-remote")
	if err == nil || !strings.Contains(err.Error(), "--auth-token-file") || !strings.Contains(err.Error(), "--allow-unauthenticated-stores") {
		t.Errorf("remote without a token: %v", err)
	}
	// With a token, or told to, it goes on (and fails later: no config).
	for _, extra := range [][]string{{"--auth-token-file", tok}, {"--allow-unauthenticated-stores"}} {
		args := append([]string{"--config", filepath.Join(t.TempDir(), "none.json"), "--listen", "0.0.0.0:0", "--allow-remote"}, extra...)
		if err := run(args...); err == nil || strings.Contains(err.Error(), "--allow-unauthenticated-stores") {
			t.Errorf("%v: %v, want the missing config", extra, err)
		}
	}
}
