// Command floe-tg runs floe's testground plan without the testground
// daemon and turns its figures into tables.
//
//	floe-tg run [flags] COMPOSITION.toml   run a composition (as local:exec would)
//	floe-tg table [flags] DIR|FILE...      Markdown table of results.out figures
//
// Run from the testground/ folder (the plan's folder; --plan-dir to
// change). `floe-tg run -h` lists the flags: --shaped with --delay,
// --jitter, --bw and --loss puts every instance behind an emulated link
// (root), --param k=v overrides a test parameter of every group. The exit
// status is non-zero when an instance failed.
package main
