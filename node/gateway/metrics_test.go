package gateway

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// After a store and a read through the gateway, its /metrics counts them;
// /health and /ready answer.
func TestGatewayMetrics(t *testing.T) {
	s := startSwarm(t)
	base := s.serve(t, Config{})
	data := bytes.Repeat([]byte("metrics "), 1000)
	req, _ := http.NewRequest(http.MethodPut, base+"/v1/blobs?epochs=2", bytes.NewReader(data))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	raw, _ := json.Marshal(out)
	id := ""
	if i := strings.Index(string(raw), `"blobId":"`); i >= 0 {
		id = string(raw)[i+10:]
		id = id[:strings.Index(id, `"`)]
	}
	if resp.StatusCode != http.StatusOK || id == "" {
		t.Fatalf("store: %d %s", resp.StatusCode, raw)
	}
	if resp, err = http.Get(base + "/v1/blobs/" + id); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("read: %v %v", err, resp)
	}
	resp.Body.Close()
	resp, err = http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]float64{}
	for _, m := range fams["floe_gateway_requests_total"].GetMetric() {
		labels := ""
		for _, l := range m.GetLabel() {
			labels += l.GetName() + "=" + l.GetValue() + " "
		}
		counts[labels] += m.GetCounter().GetValue()
	}
	if counts["code=OK route=/v1/blobs "] < 1 || counts["code=OK route=/v1/blobs/{blob_id} "] < 1 {
		t.Fatalf("requests counted: %v", counts)
	}
	for _, p := range []string{"/health", "/ready"} {
		resp, err := http.Get(base + p)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %v %v", p, err, resp)
		}
		resp.Body.Close()
	}
}
