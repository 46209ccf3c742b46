// Package runner is floe-tg's local runner: it runs a testground
// composition of floe's plan without the testground daemon, the way
// testground's local:exec runner does (same environment contract, same
// outputs layout: OUTPUTS/<plan>/<run>/<group>/<i>/{run.out,results.out,
// diagnostics.out,run.err}), serving the sync-service protocol itself. It
// adds what local:exec lacks: scheduled SIGKILLs and restarts, and shaped
// links (each instance in its own network namespace behind a user-space
// link emulator, package linkemu).
package runner
