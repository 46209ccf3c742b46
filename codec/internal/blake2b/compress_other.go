//go:build !amd64 || purego

package blake2b

func haveAVX512() bool { return false }

func compressFunc() compressor { return compressGeneric }
