package gateway

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// browser is headless Chromium driven over the DevTools protocol on a
// pipe (--remote-debugging-pipe: JSON messages separated by NUL bytes on
// file descriptors 3 and 4), so tests can click, pick files and take
// screenshots without a driver library or a debugging port.
type browser struct {
	t       testing.TB
	cmd     *exec.Cmd
	w       io.WriteCloser
	stderr  bytes.Buffer
	mu      sync.Mutex
	next    int
	pending map[int]chan cdpReply
	session string // the page's session (flat mode)
}

type cdpReply struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// startBrowser starts Chromium and opens one page of width×height CSS
// pixels. It is stopped at the test's cleanup.
func startBrowser(t testing.TB, path string, width, height int) *browser {
	t.Helper()
	toChrome, chromeIn, err := os.Pipe() // Chromium reads fd 3
	if err != nil {
		t.Fatal(err)
	}
	chromeOut, fromChrome, err := os.Pipe() // Chromium writes fd 4
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"--headless", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
		"--disable-extensions", "--disable-background-networking", "--hide-scrollbars", "--mute-audio",
		"--force-color-profile=srgb", "--user-data-dir=" + t.TempDir(), "--remote-debugging-pipe"}
	if os.Geteuid() == 0 {
		args = append([]string{"--no-sandbox"}, args...) // Chromium refuses to run as root with its sandbox
	}
	b := &browser{t: t, w: chromeIn, pending: map[int]chan cdpReply{}}
	b.cmd = exec.Command(path, args...)
	b.cmd.ExtraFiles = []*os.File{toChrome, fromChrome}
	b.cmd.Stderr = &b.stderr
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	toChrome.Close()
	fromChrome.Close()
	done := make(chan struct{})
	go b.readLoop(chromeOut, done)
	t.Cleanup(func() {
		_, _ = b.call("", "Browser.close", nil)
		chromeIn.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = b.cmd.Process.Kill() // by its PID: the browser this test started
		}
		_ = b.cmd.Wait()
		chromeOut.Close()
	})

	var target struct {
		TargetID string `json:"targetId"`
	}
	b.mustCall("", "Target.createTarget", map[string]any{"url": "about:blank"}, &target)
	var att struct {
		SessionID string `json:"sessionId"`
	}
	b.mustCall("", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &att)
	b.session = att.SessionID
	b.mustCall(b.session, "Page.enable", nil, nil)
	b.resize(width, height)
	return b
}

func (b *browser) readLoop(r io.Reader, done chan<- struct{}) {
	defer close(done)
	br := bufio.NewReader(r)
	for {
		msg, err := br.ReadBytes(0)
		if err != nil {
			b.mu.Lock()
			for id, ch := range b.pending {
				close(ch)
				delete(b.pending, id)
			}
			b.mu.Unlock()
			return
		}
		var m struct {
			ID int `json:"id"`
			cdpReply
		}
		if json.Unmarshal(msg[:len(msg)-1], &m) != nil || m.ID == 0 {
			continue // an event
		}
		b.mu.Lock()
		ch := b.pending[m.ID]
		delete(b.pending, m.ID)
		b.mu.Unlock()
		if ch != nil {
			ch <- m.cdpReply
		}
	}
}

// call sends one command (to the browser when session is "", else to the
// page) and waits for its answer.
func (b *browser) call(session, method string, params any) (json.RawMessage, error) {
	b.mu.Lock()
	b.next++
	id := b.next
	ch := make(chan cdpReply, 1)
	b.pending[id] = ch
	b.mu.Unlock()
	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if session != "" {
		msg["sessionId"] = session
	}
	raw, err := json.Marshal(msg)
	if err != nil {
		return nil, err
	}
	if _, err := b.w.Write(append(raw, 0)); err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	select {
	case rep, ok := <-ch:
		if !ok {
			return nil, fmt.Errorf("%s: the browser closed the pipe", method)
		}
		if rep.Error != nil {
			return nil, fmt.Errorf("%s: %s (%d)", method, rep.Error.Message, rep.Error.Code)
		}
		return rep.Result, nil
	case <-time.After(30 * time.Second):
		return nil, fmt.Errorf("%s: no answer in 30 s", method)
	}
}

func (b *browser) mustCall(session, method string, params, out any) {
	b.t.Helper()
	res, err := b.call(session, method, params)
	if err != nil {
		b.t.Fatalf("%v\nbrowser stderr: %s", err, tail(b.stderr.String(), 2000))
	}
	if out != nil {
		if err := json.Unmarshal(res, out); err != nil {
			b.t.Fatalf("%s: %v: %s", method, err, res)
		}
	}
}

func (b *browser) resize(width, height int) {
	b.mustCall(b.session, "Emulation.setDeviceMetricsOverride", map[string]any{
		"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}, nil)
}

// navigate opens url and waits until the document has loaded.
func (b *browser) navigate(url string) {
	b.t.Helper()
	var nav struct {
		ErrorText string `json:"errorText"`
	}
	b.mustCall(b.session, "Page.navigate", map[string]any{"url": url}, &nav)
	if nav.ErrorText != "" {
		b.t.Fatalf("navigate %s: %s", url, nav.ErrorText)
	}
	b.waitFor(`document.readyState === "complete" && location.href === `+jsString(url), 20*time.Second)
}

// eval evaluates a JavaScript expression in the page (awaiting a promise)
// and decodes its JSON value into out.
func (b *browser) eval(expr string, out any) {
	b.t.Helper()
	var res struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	b.mustCall(b.session, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true,
		"awaitPromise": true}, &res)
	if e := res.ExceptionDetails; e != nil {
		b.t.Fatalf("evaluating %s: %s %s", expr, e.Text, e.Exception.Description)
	}
	if out != nil {
		if err := json.Unmarshal(res.Result.Value, out); err != nil {
			b.t.Fatalf("evaluating %s: %v: %s", expr, err, res.Result.Value)
		}
	}
}

// waitFor polls a JavaScript condition until it is true.
func (b *browser) waitFor(cond string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var ok bool
		b.eval("Boolean("+cond+")", &ok)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			var html string
			b.eval("document.documentElement ? document.documentElement.outerHTML : ''", &html)
			b.t.Fatalf("waiting for %s: timed out; the page:\n%s", cond, tail(html, 2000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// setFile picks a file in the file input matching selector, as a person
// choosing it in the dialog would.
func (b *browser) setFile(selector, path string) {
	b.t.Helper()
	var doc struct {
		Root struct {
			NodeID int `json:"nodeId"`
		} `json:"root"`
	}
	b.mustCall(b.session, "DOM.getDocument", map[string]any{"depth": 0}, &doc)
	var q struct {
		NodeID int `json:"nodeId"`
	}
	b.mustCall(b.session, "DOM.querySelector", map[string]any{"nodeId": doc.Root.NodeID, "selector": selector}, &q)
	if q.NodeID == 0 {
		b.t.Fatalf("no element %s", selector)
	}
	b.mustCall(b.session, "DOM.setFileInputFiles", map[string]any{"files": []string{path}, "nodeId": q.NodeID}, nil)
}

// click presses and releases the mouse on the middle of the element
// matching selector.
func (b *browser) click(selector string) {
	b.t.Helper()
	var pt struct{ X, Y float64 }
	b.eval(`(() => { const e = document.querySelector(`+jsString(selector)+`); e.scrollIntoView({block: "center"});
		const r = e.getBoundingClientRect(); return {X: r.x + r.width / 2, Y: r.y + r.height / 2}; })()`, &pt)
	for _, typ := range []string{"mousePressed", "mouseReleased"} {
		b.mustCall(b.session, "Input.dispatchMouseEvent", map[string]any{"type": typ, "x": pt.X, "y": pt.Y,
			"button": "left", "clickCount": 1}, nil)
	}
}

// screenshot captures the viewport as a PNG.
func (b *browser) screenshot() ([]byte, image.Image) {
	b.t.Helper()
	var shot struct {
		Data string `json:"data"`
	}
	b.mustCall(b.session, "Page.captureScreenshot", map[string]any{"format": "png"}, &shot)
	raw, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil {
		b.t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	return raw, img
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
