package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"floe/chainlink"
	"floe/codec"
	"floe/node"
	"floe/node/rest"
)

// readREST is `floe read --transport rest`: the blob through the
// committee's REST APIs (rest.Read), found and pinned from the chain the
// client config names, written to stdout or atomically to out.
func readREST(cmd *cobra.Command, config string, id codec.BlobID, out string, check codec.ConsistencyCheck) error {
	ctx := cmd.Context()
	cfg, err := node.LoadClientConfig(config)
	if err != nil {
		return err
	}
	var chain chainlink.Chain
	if cfg.Chain.IsSui() {
		c, err := dialSui(ctx, cfg.Chain, quietLogger(cmd.ErrOrStderr()), "", "", cfg.Key())
		if err != nil {
			return err
		}
		defer c.Close()
		chain = c
	} else {
		if cfg.Ledger == "" {
			return fmt.Errorf("%w: %s names no ledger", node.ErrConfig, config)
		}
		chain = chainlink.NewClient(cfg.Ledger, nil)
	}
	// The client's whole-operation bound (ClientConfig.Timeout, default
	// 5 minutes).
	timeout := time.Duration(cfg.Timeout)
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	data, err := rest.Read(rctx, chain, id, rest.ReadOptions{Check: check})
	if err != nil {
		return err
	}
	if out == "" || out == "-" {
		_, err = cmd.OutOrStdout().Write(data)
		return err
	}
	return node.WriteFileAtomic(out, data, 0o644)
}
