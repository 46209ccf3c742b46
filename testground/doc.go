// Command floe-plan is floe's testground plan: `testground run … --plan
// floe` builds it with exec:go or docker:go, and cmd/floe-tg runs it
// locally. The test cases are in package plan; manifest.toml lists them
// with their parameters.
package main
