package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/bits"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"floe/chainlink"
	"floe/codec"
	"floe/node"
)

// Exit codes (documented in the root command's help and cmd/floe/CONFIG.md).
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitInterrupted = 130
)

// usageError is a command line that does not parse: an unknown command or
// flag, a flag value of the wrong type, a wrong number of arguments, a
// required flag missing. It exits with exitUsage.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// isUsage says whether err is a usage error, also one cobra makes itself
// (required flags are checked outside the hooks below).
func isUsage(err error) bool {
	var u usageError
	return errors.As(err, &u) || strings.HasPrefix(err.Error(), "required flag(s) ")
}

// markUsage makes every command of the tree report its usage errors as
// usageError: flag errors, argument-count errors, and unknown subcommands
// of command groups (which cobra would otherwise answer with their help
// and exit 0, or with a several-line suggestion).
func markUsage(c *cobra.Command) {
	c.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w (see '%s --help')", err, cmd.CommandPath())}
	})
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if c.HasSubCommands() && c.Run == nil && c.RunE == nil {
			c.Args = cobra.ArbitraryArgs
			c.RunE = func(cmd *cobra.Command, args []string) error {
				if len(args) > 0 {
					return usageError{fmt.Errorf("unknown command %q for %q (see '%s --help')", args[0], cmd.CommandPath(), cmd.CommandPath())}
				}
				return cmd.Help()
			}
			return
		}
		if orig := c.Args; orig != nil {
			c.Args = func(cmd *cobra.Command, args []string) error {
				if err := orig(cmd, args); err != nil {
					return usageError{fmt.Errorf("%w (see '%s --help')", err, cmd.CommandPath())}
				}
				return nil
			}
		}
	}
	walk(c)
}

// oneLine joins the lines of an error message: floe prints one line per
// error.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }), " ")
}

// logFlags are --log-level and --log-format of the long-running commands.
type logFlags struct {
	level  levelValue
	format formatValue
}

func (l *logFlags) add(cmd *cobra.Command, def slog.Level) {
	l.level = levelValue(def)
	l.format = "text"
	cmd.Flags().Var(&l.level, "log-level", "least severe messages logged: debug, info, warn or error")
	cmd.Flags().Var(&l.format, "log-format", "log format on stderr: text (key=value) or json (one object a line)")
}

func (l *logFlags) logger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.Level(l.level)}
	if l.format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// levelValue is a slog level as a flag; a bad value is a usage error.
type levelValue slog.Level

func (v *levelValue) String() string { return strings.ToLower(slog.Level(*v).String()) }
func (v *levelValue) Type() string   { return "level" }
func (v *levelValue) Set(s string) error {
	switch strings.ToLower(s) {
	case "debug":
		*v = levelValue(slog.LevelDebug)
	case "info":
		*v = levelValue(slog.LevelInfo)
	case "warn", "warning":
		*v = levelValue(slog.LevelWarn)
	case "error":
		*v = levelValue(slog.LevelError)
	default:
		return fmt.Errorf("want debug, info, warn or error")
	}
	return nil
}

// formatValue is text or json.
type formatValue string

func (v *formatValue) String() string { return string(*v) }
func (v *formatValue) Type() string   { return "format" }
func (v *formatValue) Set(s string) error {
	if s != "text" && s != "json" {
		return fmt.Errorf("want text or json")
	}
	*v = formatValue(s)
	return nil
}

// epochsValue is a number of epochs or "max" (the longest storage period
// the chain allows, EpochState.MaxEpochsAhead).
type epochsValue struct {
	n   uint32
	max bool
}

func (v *epochsValue) String() string {
	if v.max {
		return "max"
	}
	return strconv.FormatUint(uint64(v.n), 10)
}
func (v *epochsValue) Type() string { return "epochs" }
func (v *epochsValue) Set(s string) error {
	if s == "max" {
		v.n, v.max = 0, true
		return nil
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return fmt.Errorf("want a number of epochs or max")
	}
	v.n, v.max = uint32(n), false
	return nil
}

// resolve returns the number of epochs against the chain's limit.
func (v *epochsValue) resolve(flag string, st chainlink.EpochState) (uint32, error) {
	if v.max {
		return st.MaxEpochsAhead, nil
	}
	switch {
	case v.n < 1:
		return 0, fmt.Errorf("%s %d: want at least 1", flag, v.n)
	case v.n > st.MaxEpochsAhead:
		return 0, fmt.Errorf("%s %d: the chain stores at most %d epochs ahead (%s max)", flag, v.n, st.MaxEpochsAhead, flag)
	}
	return v.n, nil
}

// chainOf opens the chain of the client config at path without a libp2p
// host (the commands that only read or change chain state), signing with
// the config's account key if it has one, and checks that the ledger
// answers.
func chainOf(ctx context.Context, path string) (node.ClientConfig, *chainlink.Client, chainlink.EpochState, error) {
	cfg, err := node.LoadClientConfig(path)
	if err != nil {
		return cfg, nil, chainlink.EpochState{}, err
	}
	if cfg.Chain.IsSui() {
		return cfg, nil, chainlink.EpochState{}, fmt.Errorf("%w: this command speaks to the ledger service only; a client config on Sui (chain kind sui) works with store, read and the gateway", node.ErrConfig)
	}
	ch := chainlink.NewClient(cfg.Ledger, nil, chainlink.ClientAccountKey(cfg.Key()))
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	st, err := ch.EpochState(sctx)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return cfg, nil, st, ctx.Err()
		}
		return cfg, nil, st, fmt.Errorf("%w: %s: %w", node.ErrChain, cfg.Ledger, err)
	}
	return cfg, ch, st, nil
}

// storeCost is what storing Size bytes for Epochs epochs costs (the
// ledger's rule, chainlink/doc.go: storage per MiB of the encoded length
// per epoch, plus a write price per MiB of it once).
type storeCost struct {
	Size          uint64 `json:"size"`
	EncodedLength uint64 `json:"encoded_length"`
	Epochs        uint32 `json:"epochs"`
	EndEpoch      uint32 `json:"end_epoch"`
	StorageCost   uint64 `json:"storage_cost"`
	WriteCost     uint64 `json:"write_cost"`
	Cost          uint64 `json:"cost"`
}

func costOf(st chainlink.EpochState, size uint64, epochs uint32) (storeCost, error) {
	c := storeCost{Size: size, Epochs: epochs, EndEpoch: st.Epoch + epochs}
	p, err := codec.NewParams(st.NShards)
	if err != nil {
		return c, err
	}
	if size > p.MaxBlobSize() {
		return c, fmt.Errorf("%w: %d bytes (maximum %d at %d shards)", node.ErrTooLarge, size, p.MaxBlobSize(), st.NShards)
	}
	if c.EncodedLength, err = p.EncodedLength(size); err != nil {
		return c, err
	}
	units := chainlink.Units(c.EncodedLength)
	var ok1, ok2, ok3 bool
	c.StorageCost, ok1 = mul(st.StoragePricePerUnit, units)
	c.StorageCost, ok2 = mul(c.StorageCost, uint64(epochs))
	c.WriteCost, ok3 = mul(st.WritePricePerUnit, units)
	sum, carry := bits.Add64(c.StorageCost, c.WriteCost, 0)
	if !ok1 || !ok2 || !ok3 || carry != 0 {
		return c, errors.New("the cost overflows 64 bits")
	}
	c.Cost = sum
	return c, nil
}

func mul(a, b uint64) (uint64, bool) {
	hi, lo := bits.Mul64(a, b)
	return lo, hi == 0
}

// humanBytes prints a byte count in binary units.
func humanBytes(b uint64) string {
	switch {
	case b < 1<<10:
		return fmt.Sprintf("%d B", b)
	case b < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	case b < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	default:
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	}
}
