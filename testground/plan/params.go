package plan

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Params are an instance's test parameters (manifest defaults overlaid by
// the composition's global and group parameters) read with their units.
// A parameter that does not parse is an error of the run, collected in Err
// and reported before the case starts.
type Params struct {
	m   map[string]string
	Err error
}

// NewParams wraps a parameter map.
func NewParams(m map[string]string) *Params { return &Params{m: m} }

func (p *Params) fail(name, v string, err error) {
	if p.Err == nil {
		p.Err = fmt.Errorf("parameter %s=%q: %v", name, v, err)
	}
}

func (p *Params) get(name, def string) string {
	if v, ok := p.m[name]; ok && v != "" {
		return v
	}
	return def
}

// String is a parameter as given.
func (p *Params) String(name, def string) string { return p.get(name, def) }

// Int is an integer parameter.
func (p *Params) Int(name string, def int) int {
	v := p.get(name, strconv.Itoa(def))
	n, err := strconv.Atoi(v)
	if err != nil {
		p.fail(name, v, err)
	}
	return n
}

// Float is a decimal parameter.
func (p *Params) Float(name string, def float64) float64 {
	v := p.get(name, strconv.FormatFloat(def, 'g', -1, 64))
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		p.fail(name, v, err)
	}
	return f
}

// Bool is a true/false parameter.
func (p *Params) Bool(name string, def bool) bool {
	v := p.get(name, strconv.FormatBool(def))
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.fail(name, v, err)
	}
	return b
}

// Duration is a Go duration ("25ms", "2m").
func (p *Params) Duration(name string, def time.Duration) time.Duration {
	v := p.get(name, def.String())
	d, err := time.ParseDuration(v)
	if err != nil {
		p.fail(name, v, err)
	}
	return d
}

// Size is a byte size with a binary or decimal unit: "1KiB", "64MiB", "20MB", "512".
func (p *Params) Size(name string, def int64) int64 {
	v := p.get(name, strconv.FormatInt(def, 10))
	n, err := ParseSize(v)
	if err != nil {
		p.fail(name, v, err)
	}
	return n
}

// Sizes is a comma-separated list of sizes.
func (p *Params) Sizes(name, def string) []int64 {
	v := p.get(name, def)
	var out []int64
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := ParseSize(f)
		if err != nil {
			p.fail(name, v, err)
			continue
		}
		out = append(out, n)
	}
	return out
}

// Strings is a comma-separated list.
func (p *Params) Strings(name, def string) []string {
	var out []string
	for _, f := range strings.Split(p.get(name, def), ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// ParseSize parses "64MiB", "1KiB", "20MB" or a plain byte count.
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
		{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
		{"B", 1},
	} {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
			if err != nil || f < 0 {
				return 0, fmt.Errorf("not a size")
			}
			return int64(f * float64(u.mult)), nil
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("not a size (want e.g. 1KiB, 64MiB, 20MB)")
	}
	return n, nil
}

// FormatSize writes n the way ParseSize reads it, in the largest binary
// unit that divides it ("1KiB", "64MiB", "1000B").
func FormatSize(n int64) string {
	for _, u := range []struct {
		s string
		m int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.m && n%u.m == 0 {
			return strconv.FormatInt(n/u.m, 10) + u.s
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}
