package gf16

import "sync"

const (
	// Bits is the size of a field element in bits.
	Bits = 16
	// Order is the number of field elements.
	Order = 1 << Bits
	// Modulus is Order-1; as a log value it marks "multiply by zero" in FFT skews.
	Modulus    = Order - 1
	polynomial = 0x1002D
)

var cantorBasis = [Bits]uint16{
	0x0001, 0xACCA, 0x3C0E, 0x163E, 0xC582, 0xED2E, 0x914C, 0x4012,
	0x6C98, 0x10D8, 0x6A72, 0xB900, 0xFDB8, 0xFB34, 0xFF38, 0x991E,
}

// Tables are the immutable lookup tables of the field.
type Tables struct {
	Exp      [Order]uint16
	Log      [Order]uint16
	Skew     [Modulus]uint16
	LogWalsh [Order]uint16
	// Mul16[logM][i][x] is x<<(4i) multiplied by exp(logM): the product of
	// one nibble of an element, so a product is four lookups XORed.
	Mul16 [Order][4][16]uint16
	// Affine[logM] holds multiplication by exp(logM) as the four 8×8 bit
	// matrices of GF2P8AFFINEQB: low byte → low, high → low, low → high,
	// high → high. The product's low byte is A·lo ⊕ B·hi, its high byte
	// C·lo ⊕ D·hi, since multiplying by a constant is GF(2)-linear.
	Affine [Order][4]uint64
	// Nibble[logM] is Mul16[logM] split into bytes for the AVX2 kernels'
	// VPSHUFB lookups: for nibble i, the products' low bytes at 2i and
	// their high bytes at 2i+1.
	Nibble [Order][8][16]byte
}

// Get returns the field tables, computing them on first use.
var Get = sync.OnceValue(newTables)

// AddMod is the addition of logarithms modulo 65535 used by the tables.
func AddMod(x, y uint16) uint16 {
	s := uint32(x) + uint32(y)
	return uint16(s + s>>Bits)
}

// SubMod is the subtraction of logarithms modulo 65535.
func SubMod(x, y uint16) uint16 {
	d := uint32(x) - uint32(y)
	return uint16(d + d>>Bits)
}

// Mul returns x multiplied by the element whose logarithm is logM.
func (t *Tables) Mul(x, logM uint16) uint16 {
	if x == 0 {
		return 0
	}
	return t.Exp[AddMod(t.Log[x], logM)]
}

func newTables() *Tables {
	t := new(Tables)
	exp, log := &t.Exp, &t.Log
	state := 1
	for i := range Modulus {
		exp[state] = uint16(i)
		state <<= 1
		if state >= Order {
			state ^= polynomial
		}
	}
	exp[0] = Modulus

	log[0] = 0
	for i := range Bits {
		width := 1 << i
		for j := range width {
			log[j+width] = log[j] ^ cantorBasis[i]
		}
	}
	for i := range Order {
		log[i] = exp[log[i]]
	}
	for i := range Order {
		exp[log[i]] = uint16(i)
	}
	exp[Modulus] = exp[0]

	// Skew factors of the additive FFT.
	var temp [Bits - 1]uint16
	for i := 1; i < Bits; i++ {
		temp[i-1] = 1 << i
	}
	skew := &t.Skew
	for m := range Bits - 1 {
		step := 1 << (m + 1)
		skew[(1<<m)-1] = 0
		for i := m; i < Bits-1; i++ {
			s := 1 << (i + 1)
			for j := (1 << m) - 1; j < s; j += step {
				skew[j+s] = skew[j] ^ temp[i]
			}
		}
		temp[m] = Modulus - log[t.Mul(temp[m], log[temp[m]^1])]
		for i := m + 1; i < Bits-1; i++ {
			sum := AddMod(log[temp[i]^1], temp[m])
			temp[i] = t.Mul(temp[i], sum)
		}
	}
	for i := range Modulus {
		skew[i] = log[skew[i]]
	}

	// Walsh transform of the log table, for the erasure locator polynomial.
	t.LogWalsh = t.Log
	t.LogWalsh[0] = 0
	FWHT(&t.LogWalsh, Order)

	for logM := range Order {
		t.Affine[logM] = t.affine(uint16(logM))
		lut := &t.Mul16[logM]
		for i := range 16 {
			lut[0][i] = t.Mul(uint16(i), uint16(logM))
			lut[1][i] = t.Mul(uint16(i<<4), uint16(logM))
			lut[2][i] = t.Mul(uint16(i<<8), uint16(logM))
			lut[3][i] = t.Mul(uint16(i<<12), uint16(logM))
		}
		t.Nibble[logM] = nibbleTables(t, uint16(logM))
	}
	return t
}

// FWHT is the fast Walsh-Hadamard transform over the log domain (mod 65535);
// only the first truncated entries of data may be non-zero. A block that
// starts at or past truncated holds only zeros at every level, so it is
// skipped.
func FWHT(data *[Order]uint16, truncated int) {
	for dist := 1; dist < Order; dist <<= 1 {
		for r := 0; r < truncated; r += dist << 1 {
			for i := r; i < r+dist; i++ {
				a, b := data[i], data[i+dist]
				data[i], data[i+dist] = AddMod(a, b), SubMod(a, b)
			}
		}
	}
}

// affine builds the GF2P8AFFINEQB matrices of multiplication by exp(logM).
// In such a matrix, byte 7-i of the qword is the row giving output bit i.
func (t *Tables) affine(logM uint16) [4]uint64 {
	var cols [16]uint16 // cols[j] = product of input bit j
	for j := range 16 {
		cols[j] = t.Mul(1<<j, logM)
	}
	var m [4]uint64
	for q, sel := range [4]struct{ inShift, outShift int }{{0, 0}, {8, 0}, {0, 8}, {8, 8}} {
		var mat uint64
		for i := range 8 {
			var row uint64
			for j := range 8 {
				row |= uint64(cols[sel.inShift+j]>>(sel.outShift+i)&1) << j
			}
			mat |= row << (8 * (7 - i))
		}
		m[q] = mat
	}
	return m
}
