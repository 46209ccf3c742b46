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
		cf             clientFlags
		listen         string
		allowRemote    bool
		allowUnauth    bool
		maxBlobSize    string
		tokenFile      string
		maxConcurrent  int
		maxReads       int
		maxReadsPerIP  int
		maxStores      int
		maxStoresPerIP int
		maxConnsPerIP  int
		bodyTimeout    time.Duration
		bodyMin        string
		readTimeout    time.Duration
		storeTimeout   time.Duration
		noCTParam      bool
		sniffCT        bool
		verbose        bool
		logs           logFlags
		spillDir       string
		bodyMemory     string
		siteDomain     string
		siteTTL        time.Duration
	)
	cmd := &cobra.Command{
		Use:   "gateway",
		Short: "Serve the Walrus aggregator/publisher HTTP API on a swarm",
		Long: `Serve the Walrus aggregator/publisher HTTP API (PUT /v1/blobs, GET /v1/blobs/{blob_id},
byte ranges, by-object-id, /status, /v1/api) on a floe swarm, so curl, scripts
and web pages written for Walrus work unchanged. It serves on loopback unless
--allow-remote is given; --auth-token-file makes PUT require a bearer token,
which a gateway listening beyond loopback must have for stores unless
--allow-unauthenticated-stores is given (anyone who can reach it could
otherwise store at the expense of its account).

Reads and stores have pools of their own (--max-reads, --max-stores), each
with a cap per client IP (IPv6: per /64); a store takes its slot only once
the first --body-min-bytes of its body have arrived, and every
--body-chunk-timeout must bring that many more bytes (or the end), so a
stalled or trickling upload is cut off. --max-conns-per-ip caps the
connections one client holds open.

In a browser, / is a page about the gateway with an upload form and /v1/api
the API reference. A blob read answers a Content-Type only when one is
known: ?content_type=TYPE (or =sniff) on the read, unless
--no-content-type-param; with --sniff-content-type, the type sniffed from
the blob's first 512 bytes for every read, never HTML (a blob anyone
stored would otherwise run as a page of this gateway's origin).
It stops on Ctrl-C or SIGTERM, letting requests in progress finish.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if cmd.Flags().Changed("max-concurrent") {
				if maxConcurrent < 1 {
					return fmt.Errorf("--max-concurrent %d: want at least 1", maxConcurrent)
				}
				for _, f := range []struct {
					name string
					v    *int
				}{{"max-reads", &maxReads}, {"max-stores", &maxStores}} {
					if !cmd.Flags().Changed(f.name) {
						*f.v = maxConcurrent
					}
				}
			}
			for _, f := range []struct {
				name string
				v    int
			}{{"max-reads", maxReads}, {"max-reads-per-ip", maxReadsPerIP}, {"max-stores", maxStores},
				{"max-stores-per-ip", maxStoresPerIP}, {"max-conns-per-ip", maxConnsPerIP}} {
				if f.v < 1 {
					return fmt.Errorf("--%s %d: want at least 1", f.name, f.v)
				}
			}
			switch {
			case bodyTimeout <= 0:
				return fmt.Errorf("--body-chunk-timeout %v: must be positive", bodyTimeout)
			case readTimeout <= 0:
				return fmt.Errorf("--read-timeout %v: must be positive", readTimeout)
			case storeTimeout <= 0:
				return fmt.Errorf("--store-timeout %v: must be positive", storeTimeout)
			case siteTTL < 0:
				return fmt.Errorf("--site-ttl %v: must not be negative", siteTTL)
			}
			size, err := parseByteSize(maxBlobSize)
			if err != nil {
				return fmt.Errorf("--max-blob-size: %w", err)
			}
			minBytes, err := parseByteSize(bodyMin)
			if err != nil {
				return fmt.Errorf("--body-min-bytes: %w", err)
			}
			gcfg := gateway.Config{
				MaxBlobSize: size, MaxReads: maxReads, MaxReadsPerIP: maxReadsPerIP,
				MaxStores: maxStores, MaxStoresPerIP: maxStoresPerIP, MaxConnsPerIP: maxConnsPerIP,
				BodyChunkTimeout: bodyTimeout, BodyMinBytes: minBytes,
				ReadTimeout: readTimeout, StoreTimeout: storeTimeout, DisableContentTypeParam: noCTParam,
				SniffContentType: sniffCT, SiteDomain: siteDomain, SiteTTL: siteTTL,
			}
			if tokenFile != "" {
				if gcfg.AuthToken, err = readToken(tokenFile); err != nil {
					return err
				}
			}
			if err := checkStoreAuth(listen, gcfg.AuthToken != "", allowUnauth); err != nil {
				return err
			}
			if verbose && !cmd.Flags().Changed("log-level") {
				logs.level = levelValue(slog.LevelDebug) // --verbose: the old spelling of --log-level debug
			}
			gcfg.Logger = logs.logger(cmd.ErrOrStderr())
			gcfg.SpillDir = spillDir
			if gcfg.BodyMemory, err = parseByteSize(bodyMemory); err != nil {
				return fmt.Errorf("--body-memory: %w", err)
			}
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
	f.BoolVar(&allowUnauth, "allow-unauthenticated-stores", false,
		"beyond loopback, accept stores without --auth-token-file (anyone reaching the gateway spends its account)")
	f.StringVar(&maxBlobSize, "max-blob-size", "64MiB", "largest blob stored or served (bytes, or with KiB/MiB/GiB)")
	f.StringVar(&tokenFile, "auth-token-file", "", "file holding the bearer token PUT requires (default: no auth)")
	f.IntVar(&maxReads, "max-reads", gateway.DefaultMaxReads, "reads served at once; more get 429")
	f.IntVar(&maxReadsPerIP, "max-reads-per-ip", gateway.DefaultMaxReadsPerIP, "reads served at once for one client IP")
	f.IntVar(&maxStores, "max-stores", gateway.DefaultMaxStores, "stores served at once (a pool apart from reads); more get 429")
	f.IntVar(&maxStoresPerIP, "max-stores-per-ip", gateway.DefaultMaxStoresPerIP, "stores served at once for one client IP")
	f.IntVar(&maxConnsPerIP, "max-conns-per-ip", gateway.DefaultMaxConnsPerIP, "connections one client IP may hold open")
	f.DurationVar(&bodyTimeout, "body-chunk-timeout", gateway.DefaultBodyChunkTimeout,
		"a store body must bring --body-min-bytes within every such interval")
	f.StringVar(&bodyMin, "body-min-bytes", "64KiB", "minimum bytes of a store body per --body-chunk-timeout")
	// --max-concurrent set the one pool of old; it now sets both.
	f.IntVar(&maxConcurrent, "max-concurrent", 0, "sets --max-reads and --max-stores (kept for old scripts)")
	_ = f.MarkHidden("max-concurrent")
	f.DurationVar(&readTimeout, "read-timeout", gateway.DefaultReadTimeout, "time limit of one read")
	f.DurationVar(&storeTimeout, "store-timeout", gateway.DefaultStoreTimeout, "time limit of one store after its body arrived")
	f.BoolVar(&noCTParam, "no-content-type-param", false, "refuse the ?content_type= extension on reads")
	f.BoolVar(&sniffCT, "sniff-content-type", false,
		"answer reads that name no type with the type sniffed from the blob (images, text; never HTML)")
	f.BoolVar(&verbose, "verbose", false, "log every request (--log-level debug)")
	logs.add(cmd, slog.LevelInfo)
	f.StringVar(&spillDir, "spill-dir", "", "directory of spooled store bodies and of the streamed stores' and reads' spills (default $TMPDIR)")
	f.StringVar(&bodyMemory, "body-memory", "16MiB", "largest store body held in memory; larger ones are spooled to --spill-dir and stored streamed")
	f.StringVar(&siteDomain, "site-domain", "",
		"also serve sites by host name: {base36 site ID}.DOMAIN[:port] (e.g. localhost; default off)")
	f.DurationVar(&siteTTL, "site-ttl", 5*time.Second,
		"how long the lookup of which manifest is a site's current one is reused (an update shows within it; 0: on every request)")
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

// checkStoreAuth refuses a gateway beyond loopback whose stores need no
// token, unless allowUnauth.
func checkStoreAuth(listen string, haveToken, allowUnauth bool) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil || haveToken || allowUnauth || isLoopbackHost(host) {
		return nil // a bad address is listenGateway's to report
	}
	return fmt.Errorf("--listen %q is not a loopback address: stores there need --auth-token-file "+
		"(or --allow-unauthenticated-stores, letting anyone who reaches it store at this gateway's expense)", listen)
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
	opts, err := clientChainOptions(ctx, cc, cfg.Logger)
	if err != nil {
		ln.Close()
		return nil, err
	}
	c, err := node.NewClient(ctx, cc, append(opts, node.WithClientLogger(cfg.Logger))...)
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
