//go:build race

package node

// raceEnabled: the race detector slows verification tenfold; tests of
// sizes and limits skip under it (the plain run covers them).
const raceEnabled = true
