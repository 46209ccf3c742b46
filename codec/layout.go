package codec

// layout maps symbols of S bytes into the Leopard-layout vectors of the RS
// kernels (F2.5). Every element position is an independent codeword, so a
// vector carries the symbols of many rows (or columns) side by side, each in
// its "slot":
//   - dense (S < 64): the E = S/2 elements of slot s sit at positions
//     s·E … s·E+E-1, so tiny symbols share blocks and the RS work is not
//     multiplied by padding (F18.4);
//   - padded (S ≥ 64): slot s owns ceil(S/64) whole blocks; full 64-byte
//     blocks of the symbol are copied as they are and its tail of t bytes
//     puts t/2 low bytes at block offset 0 and t/2 high bytes at offset 32
//     (F18.2), so conversion is mostly memcpy.
type layout struct {
	s, e   int // symbol size, elements per symbol
	dense  bool
	blocks int // padded: blocks per slot
}

func newLayout(symbolSize int) layout {
	l := layout{s: symbolSize, e: symbolSize / 2, dense: symbolSize < 64}
	l.blocks = (symbolSize + 63) / 64
	return l
}

// vecLen is the length of a vector holding `slots` symbols.
func (l layout) vecLen(slots int) int {
	if l.dense {
		return (slots*l.e + 31) / 32 * 64
	}
	return slots * l.blocks * 64
}

// put stores symbol sym (len S) into slot of vector v.
func (l layout) put(v []byte, slot int, sym []byte) {
	if l.dense {
		e := l.e
		lo, hi := sym[:e], sym[e:2*e]
		p := slot * e
		for k := range e {
			off := (p>>5)<<6 | p&31
			v[off] = lo[k]
			v[off+32] = hi[k]
			p++
		}
		return
	}
	base := slot * l.blocks * 64
	full := l.s &^ 63
	copy(v[base:base+full], sym[:full])
	if t := l.s - full; t > 0 {
		blk := v[base+full : base+full+64]
		copy(blk, sym[full:full+t/2])
		copy(blk[32:], sym[full+t/2:l.s])
	}
}

// get reads slot of vector v into sym (len S).
func (l layout) get(v []byte, slot int, sym []byte) {
	if l.dense {
		e := l.e
		lo, hi := sym[:e], sym[e:2*e]
		p := slot * e
		for k := range e {
			off := (p>>5)<<6 | p&31
			lo[k] = v[off]
			hi[k] = v[off+32]
			p++
		}
		return
	}
	base := slot * l.blocks * 64
	full := l.s &^ 63
	copy(sym[:full], v[base:base+full])
	if t := l.s - full; t > 0 {
		blk := v[base+full : base+full+64]
		copy(sym[full:full+t/2], blk[:t/2])
		copy(sym[full+t/2:l.s], blk[32:32+t/2])
	}
}
