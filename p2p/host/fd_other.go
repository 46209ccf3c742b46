//go:build !unix

package host

// fdLimit is unknown here; the caller falls back to a fixed budget.
func fdLimit() int { return 0 }
