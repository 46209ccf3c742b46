package rest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"floe/codec"
	"floe/p2p"
)

// The error answers TestRoutesAndErrors cannot give with one request:
// the blob-status reasons, an answer too large, the recovery-symbol
// limiter (503, global domain) and the memory budget (429 MEMORY_BUSY);
// and the 405 Allow header and HEAD.
func TestMoreErrorCodes(t *testing.T) {
	id := testID.String()
	t.Run("blob status", func(t *testing.T) {
		ts := newTestServer(t, 10, nil)
		for _, c := range []struct {
			err            error
			code           int
			status, reason string
		}{
			{p2p.ErrNotFound, 404, StatusNotFound, "BLOB_NOT_FOUND"},
			{fmt.Errorf("%w: no", p2p.ErrInvalidRequest), 400, StatusInvalidArgument, "BLOB_STATUS"},
			{errors.New("chain down"), 500, StatusInternal, "INTERNAL_ERROR"},
		} {
			ts.f.err = c.err
			code, _, er := ts.do(t, "GET", "/v1/blobs/"+id+"/status", nil, nil)
			if code != c.code || er.Error.Status != c.status || reasonOf(er) != c.reason {
				t.Errorf("%v: %d %s %s, want %d %s %s", c.err, code, er.Error.Status, reasonOf(er), c.code, c.status, c.reason)
			}
		}
	})
	t.Run("answer too large", func(t *testing.T) {
		ts := newTestServer(t, 10, nil)
		ts.f.err = fmt.Errorf("%w: 9 targets", ErrAnswerTooLarge)
		code, _, er := ts.do(t, "GET", "/v1/blobs/"+id+"/decodingSymbols?targetSlivers=1&targetType=primary", nil, nil)
		if code != 403 || er.Error.Status != StatusSizeExceeded || reasonOf(er) != "RESPONSE_TOO_LARGE" {
			t.Fatalf("%d %s %s", code, er.Error.Status, reasonOf(er))
		}
	})
	t.Run("recovery limiter", func(t *testing.T) {
		ts := newTestServer(t, 10, func(c *Config) { c.MaxRecoveryRequests = 1 })
		entered, release := make(chan struct{}, 1), make(chan struct{})
		ts.f.symbols = func(r p2p.RecoveryRequest) ([]p2p.Result, error) {
			select {
			case entered <- struct{}{}:
			default:
			}
			<-release
			sym := codec.RecoverySymbol{Target: r.Target.Type, Index: 4, Data: []byte{1, 2}}
			return []p2p.Result{{Data: sym.MarshalBCS()}}, nil
		}
		first := make(chan int)
		go func() {
			code, _, _ := ts.do(t, "GET", "/v1/blobs/"+id+"/recoverySymbols?id=1-2", nil, nil)
			first <- code
		}()
		<-entered
		code, _, er := ts.do(t, "GET", "/v1/blobs/"+id+"/recoverySymbols?id=1-2", nil, nil)
		close(release)
		if code != 503 || er.Error.Status != StatusUnavailable || er.Error.Details[0].Domain != GlobalErrorDomain {
			t.Fatalf("a second recovery request while one runs: %d %s %s", code, er.Error.Status, er.Error.Details[0].Domain)
		}
		if c := <-first; c != 200 {
			t.Fatalf("the first recovery request: %d", c)
		}
		// Once it is done, the next one is served.
		if code, _, _ := ts.do(t, "GET", "/v1/blobs/"+id+"/recoverySymbols?id=1-2", nil, nil); code != 200 {
			t.Fatalf("after the limiter freed: %d", code)
		}
	})
	t.Run("memory", func(t *testing.T) {
		ts := newTestServer(t, 10, func(c *Config) {
			c.MemoryPerIP, c.Memory = 1000, 1000
			c.MemoryWait = 300 * time.Millisecond
		})
		body := metadataBody(10)
		if len(body) > 1000 || 2*len(body) <= 1000 {
			t.Fatalf("metadata body of %d bytes: the test needs one to fit the budget and two not", len(body))
		}
		entered, release := make(chan struct{}, 1), make(chan struct{})
		ts.f.storeHook = func() {
			select {
			case entered <- struct{}{}:
			default:
			}
			<-release
		}
		first := make(chan int)
		go func() {
			code, _, _ := ts.do(t, "PUT", "/v1/blobs/"+id+"/metadata", nil, body)
			first <- code
		}()
		<-entered
		code, _, er := ts.do(t, "PUT", "/v1/blobs/"+id+"/metadata", nil, body)
		close(release)
		if code != 429 || er.Error.Status != StatusResourceExhausted || reasonOf(er) != "MEMORY_BUSY" {
			t.Fatalf("a body past the budget: %d %s %s", code, er.Error.Status, reasonOf(er))
		}
		if c := <-first; c != 201 {
			t.Fatalf("the first upload: %d", c)
		}
		if m, _ := ts.s.clients.usage(); m != 0 {
			t.Fatalf("%d bytes still reserved after both answers", m)
		}
	})
	t.Run("memory queue", func(t *testing.T) {
		// With a longer MemoryWait the second upload waits for the first
		// to end, then is served (as the SDK's all-at-once uploads need).
		ts := newTestServer(t, 10, func(c *Config) { c.MemoryPerIP, c.Memory = 1000, 1000 })
		body := metadataBody(10)
		entered, release := make(chan struct{}, 2), make(chan struct{})
		ts.f.storeHook = func() {
			entered <- struct{}{}
			<-release
		}
		codes := make(chan int, 2)
		for range 2 {
			go func() {
				code, _, _ := ts.do(t, "PUT", "/v1/blobs/"+id+"/metadata", nil, body)
				codes <- code
			}()
		}
		<-entered
		select {
		case <-entered:
			t.Fatal("two uploads past the memory budget ran at once")
		case <-time.After(200 * time.Millisecond):
		}
		close(release)
		if a, b := <-codes, <-codes; a != 201 || b != 201 {
			t.Fatalf("queued uploads: %d %d", a, b)
		}
	})
	t.Run("allow and head", func(t *testing.T) {
		ts := newTestServer(t, 10, nil)
		req, _ := http.NewRequest(http.MethodPost, ts.url+"/v1/blobs/"+id+"/metadata", nil)
		resp, err := ts.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, PUT" {
			t.Fatalf("POST on metadata: %d Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
		}
		ts.f.meta = []byte{1, 2, 3, 4, 5}
		req, _ = http.NewRequest(http.MethodHead, ts.url+"/v1/blobs/"+id+"/metadata", nil)
		resp, err = ts.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.ContentLength != 5 || resp.Header.Get("Content-Type") != "application/octet-stream" {
			t.Fatalf("HEAD metadata: %d length %d type %q", resp.StatusCode, resp.ContentLength, resp.Header.Get("Content-Type"))
		}
	})
}

// The metrics count answers by route and code, bytes both ways and
// refusals.
func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	ts := newTestServer(t, 10, func(c *Config) {
		c.Registerer = reg
		c.RateLimit = p2p.RateLimit{Rate: 0.01, Burst: 2}
	})
	id := testID.String()
	ts.f.meta = []byte{1, 2, 3}
	ts.do(t, "GET", "/v1/blobs/"+id+"/metadata", nil, nil)
	ts.do(t, "GET", "/v1/blobs/"+id+"/metadata", nil, nil)
	ts.do(t, "GET", "/v1/blobs/"+id+"/metadata", nil, nil) // rate-limited
	ts.do(t, "PUT", "/v1/blobs/"+id+"/metadata", nil, metadataBody(10))
	m := ts.s.metrics
	for _, c := range []struct {
		c    prometheus.Metric
		want float64
	}{
		{m.requests.WithLabelValues("get_metadata", "200"), 2},
		{m.requests.WithLabelValues("get_metadata", "429"), 1},
		{m.requests.WithLabelValues("put_metadata", "201"), 1},
		{m.sent.WithLabelValues("get_metadata"), 6 + float64(len(mustErrorJSON(t, ts)))},
		{m.received.WithLabelValues("put_metadata"), float64(len(metadataBody(10)))},
		{m.refused.WithLabelValues("rate"), 1},
	} {
		var d dto.Metric
		if err := c.c.Write(&d); err != nil {
			t.Fatal(err)
		}
		if got := d.GetCounter().GetValue(); got != c.want {
			t.Errorf("%s: %v, want %v", c.c.Desc(), got, c.want)
		}
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	series := -1
	for _, f := range fams {
		if f.GetName() == "floe_rest_request_seconds" {
			series = len(f.GetMetric())
		}
	}
	if series != 2 {
		t.Errorf("request durations: %d series, want 2 (get_metadata, put_metadata)", series)
	}
}

// mustErrorJSON is the body of the rate-limit answer on get_metadata (what
// the sent-bytes counter saw for it).
func mustErrorJSON(t *testing.T, ts *testServer) []byte {
	t.Helper()
	rec := &countingWriter{ResponseWriter: discardWriter{h: http.Header{}}}
	writeError(rec, exhausted("RATE_LIMITED", "per-address rate limit on %s", routeNames[routeGetMetadata]))
	return make([]byte, rec.n)
}

type discardWriter struct{ h http.Header }

func (d discardWriter) Header() http.Header         { return d.h }
func (d discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d discardWriter) WriteHeader(int)             {}

// impostor serves HTTPS on loopback with the certificate and private key
// given, and returns its URL.
func impostor(t *testing.T, cert tls.Certificate) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler:   http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(`{"success":{"code":200,"data":{}}}`)) }),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}},
		ErrorLog:  log.New(io.Discard, "", 0),
	}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	return "https://" + ln.Addr().String()
}

// certFor makes a certificate for the public key pub, signed by signer,
// with the names and validity given.
func certFor(t *testing.T, pub *ecdsa.PublicKey, signer *ecdsa.PrivateKey, name string, notAfter time.Time) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: notAfter.Add(-time.Hour), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// The client accepts only a server holding the pinned key: a certificate
// for another key is refused even when it carries the pinned key's server
// name; a certificate that claims the pinned key but whose holder cannot
// sign with it fails the handshake; a certificate for the pinned key is
// accepted however expired, misnamed or foreign-signed (Walrus's rule).
func TestTLSPinningImpostors(t *testing.T) {
	p := fuzzParams(t, 10)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pinned, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	name := ServerName(&pinned.PublicKey)

	// Another key, the pinned key's names, valid.
	der := certFor(t, &other.PublicKey, other, name, time.Now().Add(time.Hour))
	url := impostor(t, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: other})
	c := NewClient(url, &pinned.PublicKey, p)
	defer c.Close()
	if _, err := c.Health(ctx, false); !errors.Is(err, ErrPinMismatch) {
		t.Fatalf("a certificate for another key with the pinned name: %v", err)
	}

	// The pinned key's certificate, served by someone without its
	// private key (the handshake is signed with another key).
	der = certFor(t, &pinned.PublicKey, other, name, time.Now().Add(time.Hour))
	url = impostor(t, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: other})
	c2 := NewClient(url, &pinned.PublicKey, p)
	defer c2.Close()
	if _, err := c2.Health(ctx, false); err == nil {
		t.Fatal("a server without the pinned private key was accepted")
	}

	// The pinned key, expired, another name, signed by another key: the
	// handshake proves the key, and that is what Walrus checks.
	der = certFor(t, &pinned.PublicKey, other, "elsewhere.example", time.Now().Add(-24*time.Hour))
	url = impostor(t, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: pinned})
	c3 := NewClient(url, &pinned.PublicKey, p)
	defer c3.Close()
	if _, err := c3.Health(ctx, false); err != nil {
		t.Fatalf("an expired, misnamed certificate for the pinned key: %v", err)
	}

	// VerifyPinned on its own.
	if err := VerifyPinned(&pinned.PublicKey, nil); !errors.Is(err, ErrPinMismatch) {
		t.Fatalf("no certificate: %v", err)
	}
	if err := VerifyPinned(&pinned.PublicKey, [][]byte{[]byte("not a certificate")}); !errors.Is(err, ErrPinMismatch) {
		t.Fatalf("garbage certificate: %v", err)
	}
	if !strings.HasSuffix(name, ".network.walrus.alt") {
		t.Fatalf("server name %q", name)
	}
}
