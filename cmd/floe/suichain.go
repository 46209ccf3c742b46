package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"floe/chainlink"
	"floe/chainlink/account"
	"floe/chainlink/sui"
	"floe/node"
	"floe/node/rest"
)

// dialSui opens the Sui chain of a "chain": {"kind": "sui", …} config,
// signing with keys (the first is the default signer unless cc.Key names
// another).
func dialSui(ctx context.Context, cc *node.ChainConfig, log *slog.Logger, netKeyPath, indexDir string, keys ...*account.Key) (*sui.Client, error) {
	ring := chainlink.NewKeyring()
	var def *account.Key
	for _, k := range keys {
		if k != nil {
			ring.AddAccount(k)
			if def == nil {
				def = k
			}
		}
	}
	if cc.Key != "" {
		k, err := account.Load(cc.Key)
		if err != nil {
			return nil, fmt.Errorf("%w: chain key: %v", node.ErrConfig, err)
		}
		ring.AddAccount(k)
		def = k
	}
	cfg := sui.Config{RPC: cc.RPC, System: cc.SystemObject, Staking: cc.StakingObject, Treasury: cc.TreasuryObject, WAL: cc.WALType, Keys: ring, Key: def,
		FaucetURL: cc.Faucet, StartCheckpoint: cc.StartCheckpoint, IndexDir: indexDir, Logger: log}
	if cc.IndexDir != "" {
		cfg.IndexDir = cc.IndexDir
	}
	if netKeyPath != "" {
		k, err := rest.LoadOrCreateNetworkKey(netKeyPath)
		if err != nil {
			return nil, fmt.Errorf("network key: %w", err)
		}
		cfg.NetworkKey = k
	}
	c, err := sui.Dial(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: sui %s: %w", node.ErrChain, cc.RPC, err)
	}
	return c, nil
}

// clientChainOptions are the node.NewClient options a client config
// needs: a Sui chain for kind "sui", nothing for the ledger. The Sui
// client lives as long as the process.
func clientChainOptions(ctx context.Context, cfg node.ClientConfig, log *slog.Logger) ([]node.ClientOption, error) {
	if !cfg.Chain.IsSui() {
		return nil, nil
	}
	c, err := dialSui(ctx, cfg.Chain, log, "", "", cfg.Key())
	if err != nil {
		return nil, err
	}
	return []node.ClientOption{node.WithClientChain(c)}, nil
}

// nodeChain is the chain of a node config: a Sui client signing with the
// owner's key and registering the node's REST network key, or nil (the
// node's own ledger client).
func nodeChain(ctx context.Context, cfg node.Config, log *slog.Logger) (chainlink.Chain, error) {
	if !cfg.Chain.IsSui() {
		return nil, nil
	}
	path := cfg.OwnerKey
	if path == "" {
		path = filepath.Join(cfg.DataDir, node.OwnerKeyFile)
	}
	owner, err := account.Load(path)
	if err != nil {
		return nil, fmt.Errorf("%w: owner key (a node on Sui signs with it): %v", node.ErrConfig, err)
	}
	return dialSui(ctx, cfg.Chain, log, filepath.Join(cfg.DataDir, rest.NetworkKeyFile), filepath.Join(cfg.DataDir, "sui-index"), owner)
}
