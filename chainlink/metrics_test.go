package chainlink

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The service's /metrics reports the ledger's state and the requests it
// answered; /health and /ready answer.
func TestServerMetrics(t *testing.T) {
	ctx := context.Background()
	l, err := Open(ctx, NewMemDatastore(), WithLogger(quietLogger()), WithShards(testShards))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.AdvanceEpoch(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewServer(l))
	defer srv.Close()
	c := NewClient(srv.URL, nil)
	for range 3 {
		if _, err := c.EpochState(ctx); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if v := fams["floe_ledger_epoch"].GetMetric()[0].GetGauge().GetValue(); v != 1 {
		t.Fatalf("floe_ledger_epoch %v", v)
	}
	if v := fams["floe_ledger_n_shards"].GetMetric()[0].GetGauge().GetValue(); v != testShards {
		t.Fatalf("floe_ledger_n_shards %v", v)
	}
	got := 0.0
	for _, m := range fams["floe_ledger_requests_total"].GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == "route" && lp.GetValue() == "GET /v1/epoch" {
				got += m.GetCounter().GetValue()
			}
		}
	}
	if got < 3 {
		t.Fatalf("%v epoch requests counted", got)
	}
	for _, p := range []string{"/health", "/ready"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %v %v", p, err, resp)
		}
		resp.Body.Close()
	}
}
