package runner

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"floe/testground/linkemu"
)

// Point is one recorded figure: a metric, its tags and a value.
type Point struct {
	Metric string
	Tags   map[string]string
	Value  float64
}

// ReadResults reads every results.out under the given directories (or
// files): sdk-go's JSON lines {"name": "metric,k=v,…", "measures":
// {"value": v}}.
func ReadResults(paths ...string) ([]Point, error) {
	var pts []Point
	for _, root := range paths {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || filepath.Base(p) != "results.out" {
				return nil
			}
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 1<<20), 1<<24)
			for sc.Scan() {
				var m struct {
					Name     string             `json:"name"`
					Measures map[string]float64 `json:"measures"`
				}
				if json.Unmarshal(sc.Bytes(), &m) != nil || m.Name == "" {
					continue
				}
				v, ok := m.Measures["value"]
				if !ok {
					continue
				}
				pts = append(pts, parsePoint(m.Name, v))
			}
			return sc.Err()
		})
		if err != nil {
			return nil, err
		}
	}
	return pts, nil
}

func parsePoint(name string, v float64) Point {
	parts := strings.Split(name, ",")
	p := Point{Metric: parts[0], Tags: map[string]string{}, Value: v}
	for _, t := range parts[1:] {
		if k, val, ok := strings.Cut(t, "="); ok {
			p.Tags[k] = val
		}
	}
	return p
}

// TableOptions select what a table shows.
type TableOptions struct {
	Metrics []string // empty: all
	// Drop are tags left out of the rows (their values merged).
	Drop []string
}

// WriteTable writes the points as a Markdown table, metric × parameters:
// one row per metric and distinct set of tags, with the number of points
// and their median, 95th percentile (nearest rank) and maximum. Tags
// that are the same on every point are written once above the table.
func WriteTable(w io.Writer, pts []Point, opt TableOptions) error {
	var sel []Point
	for _, p := range pts {
		if len(opt.Metrics) == 0 || slices.Contains(opt.Metrics, p.Metric) {
			for _, d := range opt.Drop {
				delete(p.Tags, d)
			}
			sel = append(sel, p)
		}
	}
	if len(sel) == 0 {
		_, err := fmt.Fprintln(w, "(no figures)")
		return err
	}
	// Tags constant over the selection go above the table.
	values := map[string]map[string]bool{}
	present := map[string]int{}
	for _, p := range sel {
		for k, v := range p.Tags {
			if values[k] == nil {
				values[k] = map[string]bool{}
			}
			values[k][v] = true
			present[k]++
		}
	}
	var common, cols []string
	for k := range values {
		if len(values[k]) == 1 && present[k] == len(sel) {
			common = append(common, k)
		} else {
			cols = append(cols, k)
		}
	}
	sort.Strings(common)
	sort.Slice(cols, func(i, j int) bool {
		return colRank(cols[i]) < colRank(cols[j]) || (colRank(cols[i]) == colRank(cols[j]) && cols[i] < cols[j])
	})
	if len(common) > 0 {
		var cs []string
		for _, k := range common {
			for v := range values[k] {
				cs = append(cs, k+"="+v)
			}
		}
		fmt.Fprintf(w, "Common to every row: %s\n\n", strings.Join(cs, ", "))
	}
	type row struct {
		metric string
		tags   []string
		vals   []float64
	}
	rows := map[string]*row{}
	var order []string
	for _, p := range sel {
		tv := make([]string, len(cols))
		for i, c := range cols {
			tv[i] = p.Tags[c]
		}
		key := p.Metric + "\x00" + strings.Join(tv, "\x00")
		r := rows[key]
		if r == nil {
			r = &row{metric: p.Metric, tags: tv}
			rows[key] = r
			order = append(order, key)
		}
		r.vals = append(r.vals, p.Value)
	}
	sort.SliceStable(order, func(i, j int) bool {
		a, b := rows[order[i]], rows[order[j]]
		if a.metric != b.metric {
			return metricRank(a.metric) < metricRank(b.metric) || (metricRank(a.metric) == metricRank(b.metric) && a.metric < b.metric)
		}
		for k := range cols {
			if c := compareTag(cols[k], a.tags[k], b.tags[k]); c != 0 {
				return c < 0
			}
		}
		return false
	})
	head := append(append([]string{"metric"}, cols...), "n", "median", "p95", "max")
	fmt.Fprintf(w, "| %s |\n", strings.Join(head, " | "))
	seps := make([]string, len(head))
	for i := range seps {
		seps[i] = "---"
		if i >= len(head)-4 {
			seps[i] = "---:"
		}
	}
	fmt.Fprintf(w, "|%s|\n", strings.Join(seps, "|"))
	for _, k := range order {
		r := rows[k]
		s := append([]float64(nil), r.vals...)
		sort.Float64s(s)
		cells := append(append([]string{r.metric}, r.tags...), strconv.Itoa(len(s)),
			format(r.metric, quantile(s, 0.5)), format(r.metric, nearestRank(s, 0.95)), format(r.metric, s[len(s)-1]))
		for i, c := range cells {
			if c == "" {
				cells[i] = "–"
			}
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
	return nil
}

func metricRank(m string) int {
	for i, p := range []string{"store_ms", "read_ms", "node_sent_bytes", "node_recv_bytes", "client_sent_bytes", "client_recv_bytes"} {
		if m == p {
			return i
		}
	}
	return 100
}

func colRank(c string) int {
	for i, p := range []string{"op", "size", "lat", "bw", "n", "shards", "transport", "byz", "f", "epoch", "phase"} {
		if c == p {
			return i
		}
	}
	return 100
}

// compareTag orders sizes, durations and rates by value.
func compareTag(key, a, b string) int {
	if a == b {
		return 0
	}
	num := func(s string) (float64, bool) {
		if n, err := parseSizeTag(s); err == nil {
			return float64(n), true
		}
		if d, err := time.ParseDuration(s); err == nil {
			return float64(d), true
		}
		if r, err := linkemu.ParseRate(s); err == nil && s != "none" {
			return float64(r), true
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f, true
		}
		return 0, false
	}
	x, ok1 := num(a)
	y, ok2 := num(b)
	if ok1 && ok2 && x != y {
		if x < y {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

func parseSizeTag(s string) (int64, error) {
	for _, u := range []struct {
		s string
		m int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if n, ok := strings.CutSuffix(s, u.s); ok {
			v, err := strconv.ParseInt(n, 10, 64)
			return v * u.m, err
		}
	}
	return 0, fmt.Errorf("not a size")
}

func quantile(s []float64, q float64) float64 {
	if len(s) == 0 {
		return math.NaN()
	}
	pos := q * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	return s[lo] + (s[hi]-s[lo])*(pos-float64(lo))
}

func nearestRank(s []float64, q float64) float64 {
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func format(metric string, v float64) string {
	switch {
	case strings.HasSuffix(metric, "_bytes"):
		switch {
		case v >= 1<<20:
			return fmt.Sprintf("%.2f MiB", v/(1<<20))
		case v >= 1<<10:
			return fmt.Sprintf("%.1f KiB", v/(1<<10))
		}
		return fmt.Sprintf("%.0f B", v)
	case strings.HasSuffix(metric, "_ms"):
		if v >= 10000 {
			return fmt.Sprintf("%.2f s", v/1000)
		}
		return fmt.Sprintf("%.0f ms", v)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}
