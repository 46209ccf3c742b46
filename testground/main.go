package main

import (
	"net"
	"os"
	"sync/atomic"

	"github.com/testground/sdk-go/run"

	"floe/testground/plan"
)

func main() {
	// sdk-go would serve pprof and /metrics on 0.0.0.0:6060; keep it on
	// loopback.
	if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		ln.Close()
		run.HTTPListenAddr = ln.Addr().String()
	}
	var failed atomic.Bool
	cases := map[string]interface{}{}
	for name, c := range plan.Cases() {
		cases[name] = plan.Run(c, &failed)
	}
	run.InvokeMap(cases)
	if failed.Load() {
		os.Exit(1)
	}
}
