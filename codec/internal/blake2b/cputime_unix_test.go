//go:build unix

package blake2b

import "syscall"

// cpuNanos is the CPU time (user + system) the process has used: on a
// shared machine it counts the time our code ran, not the time it waited.
func cpuNanos() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
