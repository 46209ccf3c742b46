//go:build !unix

package blake2b

func cpuNanos() int64 { return 0 }
