//go:build race

package codec

// quiltRace: the race detector is on. The n = 1000 quilt fixtures, pure
// single-goroutine layout work around encoders -race already covers, then
// run only without it (go test ./...).
const quiltRace = true
