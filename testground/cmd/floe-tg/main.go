package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"floe/testground/runner"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = runCmd(os.Args[2:])
	case "table":
		err = tableCmd(os.Args[2:])
	case "-h", "--help", "help":
		usage()
		return
	default:
		usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "floe-tg:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `usage:
  floe-tg run [flags] COMPOSITION.toml
  floe-tg table [--metrics m1,m2] [--drop tag1,tag2] DIR|results.out...
`)
}

type kv map[string]string

func (m kv) String() string { return fmt.Sprint(map[string]string(m)) }
func (m kv) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("want key=value, got %q", s)
	}
	m[k] = v
	return nil
}

func runCmd(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	params := kv{}
	fs.Var(params, "param", "test parameter for every group, key=value (repeatable)")
	planDir := fs.String("plan-dir", ".", "the plan's folder (manifest.toml, main package)")
	binary := fs.String("binary", "", "a built plan binary (default: go build the plan)")
	outputs := fs.String("outputs", filepath.Join(os.TempDir(), "floe-tg", "outputs"), "outputs root")
	shaped := fs.Bool("shaped", false, "shaped links: a network namespace per instance behind the link emulator (root)")
	delay := fs.String("delay", "", "shaped: one-way delay of every link, e.g. 25ms")
	jitter := fs.String("jitter", "", "shaped: jitter, e.g. 2ms")
	bw := fs.String("bw", "", "shaped: rate of every uplink and downlink, e.g. 20Mbit/s")
	loss := fs.Float64("loss", 0, "shaped: packet loss probability")
	timeout := fs.Duration("timeout", 0, "whole-run timeout (default: the composition's, else 20m)")
	keep := fs.Bool("keep-temp", false, "keep the instances' temp directories (node stores)")
	table := fs.Bool("table", true, "print the run's figures as a table at the end")
	verbose := fs.Bool("v", false, "runner debug logs")
	_ = fs.Parse(args)
	if fs.NArg() != 1 {
		return fmt.Errorf("run takes one composition file")
	}
	comp, err := runner.Load(fs.Arg(0))
	if err != nil {
		return err
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := filepath.Abs(*planDir)
	if err != nil {
		return err
	}
	res, err := runner.Run(ctx, comp, runner.Options{
		PlanDir: dir, Binary: *binary, Outputs: *outputs, Params: params,
		Shaped: *shaped, Link: runner.LinkSpec{Delay: *delay, Jitter: *jitter, Bandwidth: *bw, Loss: *loss},
		Timeout: *timeout, KeepTemp: *keep, Log: log,
	})
	if err != nil {
		return err
	}
	if *table {
		pts, err := runner.ReadResults(res.Dir)
		if err == nil {
			fmt.Println()
			_ = runner.WriteTable(os.Stdout, pts, runner.TableOptions{})
		}
	}
	fmt.Printf("\noutputs: %s\n", res.Dir)
	if len(res.Failed) > 0 {
		for _, f := range res.Failed {
			fmt.Println("FAILED:", f)
		}
		return fmt.Errorf("run %s: %d failures", res.RunID, len(res.Failed))
	}
	fmt.Printf("run %s: every instance succeeded (%s)\n", res.RunID, time.Now().Format(time.RFC3339))
	return nil
}

func tableCmd(args []string) error {
	fs := flag.NewFlagSet("table", flag.ExitOnError)
	metrics := fs.String("metrics", "", "metrics to show, comma-separated (default all)")
	drop := fs.String("drop", "", "tags to leave out, comma-separated")
	_ = fs.Parse(args)
	if fs.NArg() == 0 {
		return fmt.Errorf("table needs directories or results.out files")
	}
	pts, err := runner.ReadResults(fs.Args()...)
	if err != nil {
		return err
	}
	var opt runner.TableOptions
	if *metrics != "" {
		opt.Metrics = strings.Split(*metrics, ",")
	}
	if *drop != "" {
		opt.Drop = strings.Split(*drop, ",")
	}
	return runner.WriteTable(os.Stdout, pts, opt)
}
