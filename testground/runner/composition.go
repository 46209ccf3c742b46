package runner

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Composition is the subset of testground's composition format (the
// single-run form: [global], [[groups]]) that the runner reads, plus its
// own [floe_tg] table, which testground ignores.
type Composition struct {
	Metadata struct {
		Name string `toml:"name"`
	} `toml:"metadata"`
	Global struct {
		Plan           string `toml:"plan"`
		Case           string `toml:"case"`
		TotalInstances int    `toml:"total_instances"`
		Builder        string `toml:"builder"`
		Runner         string `toml:"runner"`
		Run            struct {
			TestParams map[string]string `toml:"test_params"`
		} `toml:"run"`
	} `toml:"global"`
	Groups []Group `toml:"groups"`
	FloeTG Local   `toml:"floe_tg"`
}

// Group is one group of instances.
type Group struct {
	ID        string `toml:"id"`
	Instances struct {
		Count int `toml:"count"`
	} `toml:"instances"`
	Run struct {
		TestParams map[string]string `toml:"test_params"`
	} `toml:"run"`
}

// Local is the [floe_tg] table: what only the local runner does.
type Local struct {
	// Timeout bounds the whole run (default 20m).
	Timeout string `toml:"timeout"`
	// Shaped puts every instance in its own network namespace behind the
	// link emulator (needs root); Link describes every instance's link.
	Shaped bool     `toml:"shaped"`
	Link   LinkSpec `toml:"link"`
	// Schedule are kills, restarts and signals.
	Schedule []Event `toml:"schedule"`
}

// LinkSpec describes each instance's access link: one-way delay and
// jitter added to every packet, and the same rate limit on the uplink and
// the downlink. Round trip between two instances: 2 × Delay.
type LinkSpec struct {
	Delay     string  `toml:"delay"`     // "25ms"
	Jitter    string  `toml:"jitter"`    // "2ms"
	Bandwidth string  `toml:"bandwidth"` // "20Mbit/s"; "" unlimited
	Loss      float64 `toml:"loss"`      // packet loss probability, 0–1
	MTU       int     `toml:"mtu"`       // default 1500
}

// Event is a scheduled action: once the sync state AtState (as a plan
// names it, without testground's run prefix) has AtCount entries (default
// 1), or At after the start when AtState is empty, wait After, then apply
// Action to the Instances of Group (all when empty): "kill" (SIGKILL),
// "restart" (start a killed instance again, with FLOE_TG_RESTART=1 and its
// temp directory kept), or nothing ("signal" only). Signal, when set, is
// entered once per instance acted on, after the action.
type Event struct {
	Group     string `toml:"group"`
	Instances []int  `toml:"instances"`
	Action    string `toml:"action"`
	AtState   string `toml:"at_state"`
	AtCount   int    `toml:"at_count"`
	At        string `toml:"at"`
	After     string `toml:"after"`
	Signal    string `toml:"signal"`
}

// Load reads a composition file.
func Load(path string) (*Composition, error) {
	var c Composition
	if _, err := toml.DecodeFile(path, &c); err != nil {
		return nil, fmt.Errorf("composition %s: %w", path, err)
	}
	if c.Global.Case == "" || len(c.Groups) == 0 {
		return nil, fmt.Errorf("composition %s: needs global.case and at least one group", path)
	}
	total := 0
	for _, g := range c.Groups {
		if g.ID == "" || g.Instances.Count < 1 {
			return nil, fmt.Errorf("composition %s: group %q needs an id and instances.count ≥ 1", path, g.ID)
		}
		total += g.Instances.Count
	}
	if c.Global.TotalInstances != 0 && c.Global.TotalInstances != total {
		return nil, fmt.Errorf("composition %s: total_instances %d, groups add up to %d", path, c.Global.TotalInstances, total)
	}
	c.Global.TotalInstances = total
	for _, ev := range c.FloeTG.Schedule {
		switch ev.Action {
		case "kill", "restart", "signal", "":
		default:
			return nil, fmt.Errorf("composition %s: schedule action %q (kill, restart or signal)", path, ev.Action)
		}
		if ev.AtState == "" && ev.At == "" {
			return nil, fmt.Errorf("composition %s: schedule event needs at_state or at", path)
		}
	}
	return &c, nil
}

// Manifest is the part of manifest.toml the runner reads: each case's
// parameter defaults and instance bounds.
type Manifest struct {
	Name      string `toml:"name"`
	TestCases []struct {
		Name      string `toml:"name"`
		Instances struct {
			Min int `toml:"min"`
			Max int `toml:"max"`
		} `toml:"instances"`
		Params map[string]struct {
			Type    string `toml:"type"`
			Default any    `toml:"default"`
		} `toml:"params"`
	} `toml:"testcases"`
}

// LoadManifest reads manifest.toml.
func LoadManifest(path string) (*Manifest, error) {
	var m Manifest
	if _, err := toml.DecodeFile(path, &m); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", path, err)
	}
	return &m, nil
}

// Defaults are the case's parameter defaults as strings, and checks the
// instance count against the case's bounds.
func (m *Manifest) Defaults(tc string, instances int) (map[string]string, error) {
	for _, c := range m.TestCases {
		if c.Name != tc {
			continue
		}
		if (c.Instances.Min > 0 && instances < c.Instances.Min) || (c.Instances.Max > 0 && instances > c.Instances.Max) {
			return nil, fmt.Errorf("case %s takes %d to %d instances, composition has %d", tc, c.Instances.Min, c.Instances.Max, instances)
		}
		out := map[string]string{}
		for k, p := range c.Params {
			out[k] = fmt.Sprint(p.Default)
		}
		return out, nil
	}
	var names []string
	for _, c := range m.TestCases {
		names = append(names, c.Name)
	}
	sort.Strings(names)
	return nil, fmt.Errorf("manifest has no case %q (has %s)", tc, strings.Join(names, ", "))
}

func parseDur(s string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	return time.ParseDuration(s)
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }
