//go:build !race

package codec

const quiltRace = false
