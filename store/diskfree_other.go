//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package store

// diskFree is unknown on this platform: the MinFreeDisk check is skipped.
func diskFree(string) (int64, bool) { return 0, false }
