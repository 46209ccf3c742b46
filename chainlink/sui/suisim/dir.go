package suisim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"

	"github.com/cockroachdb/pebble/v2"
	pebbleds "github.com/ipfs/go-ds-pebble"

	"floe/chainlink"
)

// StartDir opens (or creates) a ledger in dir (pebble, synced writes)
// with opts, puts the stand-in on it and serves it on loopback: gRPC on
// rpcAddr and the faucet on faucetAddr ("127.0.0.1:0" for free ports).
// Closing the Server closes the ledger and its datastore too.
func StartDir(ctx context.Context, dir, rpcAddr, faucetAddr string, log *slog.Logger, opts ...chainlink.Option) (_ *Server, err error) {
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("suisim: %w", err)
	}
	var undo []func() error
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
	}()
	ds, err := pebbleds.NewDatastore(dir, pebbleds.WithPebbleWriteOptions(pebble.Sync))
	if err != nil {
		return nil, fmt.Errorf("suisim: open %s: %w", dir, err)
	}
	undo = append(undo, ds.Close)
	l, err := chainlink.Open(ctx, ds, opts...)
	if err != nil {
		return nil, err
	}
	undo = append(undo, l.Close)
	sim, err := New(ctx, l, ds, log)
	if err != nil {
		return nil, err
	}
	rpc, err := listenLoopback(rpcAddr)
	if err != nil {
		return nil, err
	}
	undo = append(undo, rpc.Close)
	faucet, err := listenLoopback(faucetAddr)
	if err != nil {
		return nil, err
	}
	srv := Serve(sim, rpc, faucet)
	srv.after = []func() error{l.Close, ds.Close}
	return srv, nil
}

func listenLoopback(addr string) (net.Listener, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("suisim: listen %s: %w", addr, err)
	}
	if !ln.Addr().(*net.TCPAddr).IP.IsLoopback() {
		ln.Close()
		return nil, errors.New("suisim: the stand-in serves on loopback only")
	}
	return ln, nil
}
