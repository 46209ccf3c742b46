package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"floe/node"
	"floe/node/gateway"
)

// DefaultGatewayListen is the Walrus daemon's default port, on loopback.
const defaultGatewayListen = "127.0.0.1:31415"

func newGatewayCommand() *cobra.Command {
	var (
		cf            clientFlags
		listen        string
		allowRemote   bool
		maxBlobSize   string
		tokenFile     string
		maxConcurrent int
		readTimeout   time.Duration
		storeTimeout  time.Duration
		noCTParam     bool
		verbose       bool
	)
	cmd := &cobra.Command{
		Use:   "gateway",
		Short: "Serve the Walrus aggregator/publisher HTTP API on a swarm",
		Long: `Serve the Walrus aggregator/publisher HTTP API (PUT /v1/blobs, GET /v1/blobs/{blob_id},
byte ranges, by-object-id, /status, /v1/api) on a floe swarm, so curl, scripts
and web pages written for Walrus work unchanged. It serves on loopback unless
--allow-remote is given; --auth-token-file makes PUT require a bearer token.
It stops on Ctrl-C or SIGTERM, letting requests in progress finish.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			switch {
			case maxConcurrent < 1:
				return fmt.Errorf("--max-concurrent %d: want at least 1", maxConcurrent)
			case readTimeout <= 0:
				return fmt.Errorf("--read-timeout %v: must be positive", readTimeout)
			case storeTimeout <= 0:
				return fmt.Errorf("--store-timeout %v: must be positive", storeTimeout)
			}
			size, err := parseByteSize(maxBlobSize)
			if err != nil {
				return fmt.Errorf("--max-blob-size: %w", err)
			}
			gcfg := gateway.Config{
				MaxBlobSize: size, MaxConcurrent: maxConcurrent, ReadTimeout: readTimeout,
				StoreTimeout: storeTimeout, DisableContentTypeParam: noCTParam,
			}
			if tokenFile != "" {
				if gcfg.AuthToken, err = readToken(tokenFile); err != nil {
					return err
				}
			}
			level := slog.LevelInfo
			if verbose {
				level = slog.LevelDebug
			}
			gcfg.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			cc, err := node.LoadClientConfig(cf.config)
			if err != nil {
				return err
			}
			wait, err := startGateway(ctx, cc, listen, "--listen", allowRemote, gcfg, cmd.OutOrStdout())
			if err != nil {
				return err
			}
			return wait()
		},
	}
	cf.add(cmd)
	f := cmd.Flags()
	f.StringVar(&listen, "listen", defaultGatewayListen, "address to serve on (loopback unless --allow-remote)")
	f.BoolVar(&allowRemote, "allow-remote", false, "allow a non-loopback --listen address")
	f.StringVar(&maxBlobSize, "max-blob-size", "64MiB", "largest blob stored or served (bytes, or with KiB/MiB/GiB)")
	f.StringVar(&tokenFile, "auth-token-file", "", "file holding the bearer token PUT requires (default: no auth)")
	f.IntVar(&maxConcurrent, "max-concurrent", gateway.DefaultMaxConcurrent, "blob requests served at once; more get 429")
	f.DurationVar(&readTimeout, "read-timeout", gateway.DefaultReadTimeout, "time limit of one read")
	f.DurationVar(&storeTimeout, "store-timeout", gateway.DefaultStoreTimeout, "time limit of one store, body upload included")
	f.BoolVar(&noCTParam, "no-content-type-param", false, "refuse the ?content_type= extension on reads")
	f.BoolVar(&verbose, "verbose", false, "log every request")
	return cmd
}

// listenGateway listens on addr (the value of flag), refusing anything but
// loopback unless allowRemote.
func listenGateway(addr, flag string, allowRemote bool) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", flag, addr, err)
	}
	if !allowRemote && !isLoopbackHost(host) {
		return nil, fmt.Errorf("%s %q is not a loopback address; pass --allow-remote to serve beyond this host", flag, addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("gateway: %s %s: %w", flag, addr, err)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !allowRemote && !tcp.IP.IsLoopback() {
		ln.Close()
		return nil, fmt.Errorf("%s %q resolved to %s, not loopback", flag, addr, tcp.IP)
	}
	return ln, nil
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// startGateway connects a client to the swarm of cc and serves the
// gateway over it on addr (the value of flag; loopback unless allowRemote)
// until ctx ends, printing its URL to out. wait blocks until the gateway has stopped and
// its client is closed, and returns Serve's error. `floe devnet --gateway`
// runs it too (and must call wait before closing the devnet).
func startGateway(ctx context.Context, cc node.ClientConfig, addr, flag string, allowRemote bool, cfg gateway.Config,
	out io.Writer) (wait func() error, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ln, err := listenGateway(addr, flag, allowRemote)
	if err != nil {
		return nil, err
	}
	c, err := node.NewClient(ctx, cc, node.WithClientLogger(cfg.Logger))
	if err != nil {
		ln.Close()
		return nil, err
	}
	g, err := gateway.New(c, cfg)
	if err != nil {
		ln.Close()
		return nil, errors.Join(err, c.Close())
	}
	fmt.Fprintf(out, "gateway: http://%s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- g.Serve(ctx, ln) }()
	return func() error {
		err := <-errc
		return errors.Join(err, c.Close())
	}, nil
}

func readToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--auth-token-file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" || strings.ContainsAny(tok, " \t\r\n") {
		return "", fmt.Errorf("--auth-token-file %s: want one token without spaces", path)
	}
	return tok, nil
}

// parseByteSize parses 1048576, 1024KiB, 64MiB, 1GiB.
func parseByteSize(s string) (int64, error) {
	num, mul := strings.TrimSpace(s), int64(1)
	for _, u := range []struct {
		suffix string
		mul    int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(num, u.suffix) {
			num, mul = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.mul
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	switch {
	case err != nil:
		return 0, fmt.Errorf("%q: want bytes, or a number with KiB, MiB or GiB", s)
	case n <= 0 || n > (1<<62)/mul:
		return 0, errors.New("size out of range")
	}
	return n * mul, nil
}
