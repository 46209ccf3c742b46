package plan

import "testing"

func TestSizes(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
	}{{"1KiB", 1024}, {"64MiB", 64 << 20}, {"20MB", 20_000_000}, {"512", 512}, {"1.5KiB", 1536}} {
		got, err := ParseSize(c.in)
		if err != nil || got != c.want {
			t.Fatalf("ParseSize(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "-1", "1XB", "KiB"} {
		if _, err := ParseSize(bad); err == nil {
			t.Fatalf("ParseSize(%q) accepted", bad)
		}
	}
	for n, want := range map[int64]string{1024: "1KiB", 64 << 20: "64MiB", 1000: "1000B", 1536: "1536B"} {
		if got := FormatSize(n); got != want {
			t.Fatalf("FormatSize(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestParamsCollectErrors(t *testing.T) {
	p := NewParams(map[string]string{"blobs": "3", "size": "1MiB", "timeout": "2m", "bad": "x", "sizes": "1KiB, 64MiB"})
	if p.Int("blobs", 0) != 3 || p.Size("size", 0) != 1<<20 || p.Duration("timeout", 0).Minutes() != 2 || p.Int("missing", 7) != 7 {
		t.Fatal("parameters not read with their units")
	}
	if s := p.Sizes("sizes", ""); len(s) != 2 || s[1] != 64<<20 {
		t.Fatalf("sizes %v", s)
	}
	if p.Err != nil {
		t.Fatal(p.Err)
	}
	p.Int("bad", 0)
	p.Bool("bad", false)
	if p.Err == nil {
		t.Fatal("a malformed parameter was not reported")
	}
}
