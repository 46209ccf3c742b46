package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"floe/node"
)

// progressBar draws one line on a terminal, redrawn in place: the phase,
// a bar, and for the phases that move bytes (encode, distribute, fetch,
// decode) the bytes done of the total, the throughput and the time left;
// the time spent in the phase throughout, so a long step shows it is
// alive. On anything but a terminal (a pipe, a file) it draws nothing.
type progressBar struct {
	w     io.Writer
	on    bool
	label string           // drawn before the phase (the file, when several are stored)
	now   func() time.Time // the clock (tests set it)

	mu         sync.Mutex
	cur        node.Progress
	phaseStart time.Time
	lastDraw   time.Time
	drawn      bool
	ticker     chan struct{} // closed by finish; nil until the ticker runs
	tickerDone chan struct{}
}

// progressRedraw is how often the bar is redrawn while nothing is
// reported (so the elapsed time moves), and at most how often updates
// redraw it.
const progressRedraw = 200 * time.Millisecond

func newProgressBar(w io.Writer) *progressBar {
	on := false
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 && os.Getenv("TERM") != "dumb" {
			on = true
		}
	}
	return &progressBar{w: w, on: on}
}

func (b *progressBar) clock() time.Time {
	if b.now != nil {
		return b.now()
	}
	return time.Now()
}

// byteProgress says whether a phase's Done and Total count bytes
// (node.Progress).
func byteProgress(phase string) bool {
	switch phase {
	case "encode", "distribute", "fetch", "decode":
		return true
	}
	return false
}

func (b *progressBar) update(p node.Progress) {
	if !b.on || p.Total <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock()
	changed := p.Phase != b.cur.Phase
	if changed {
		b.phaseStart = now
	}
	b.cur = p
	if changed || p.Done >= p.Total || now.Sub(b.lastDraw) >= progressRedraw {
		b.draw(now)
	}
	if b.ticker == nil && b.now == nil {
		b.ticker, b.tickerDone = make(chan struct{}), make(chan struct{})
		go b.tick(b.ticker, b.tickerDone)
	}
}

func (b *progressBar) tick(stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(progressRedraw)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			b.mu.Lock()
			if now := b.clock(); now.Sub(b.lastDraw) >= progressRedraw {
				b.draw(now)
			}
			b.mu.Unlock()
		}
	}
}

// draw writes the line for b.cur; b.mu is held.
func (b *progressBar) draw(now time.Time) {
	p := b.cur
	done := min(p.Done, p.Total)
	const width = 30
	fill := int(int64(width) * done / p.Total)
	elapsed := now.Sub(b.phaseStart)
	var line strings.Builder
	if b.label != "" {
		l := b.label
		if len(l) > 24 {
			l = "…" + l[len(l)-23:]
		}
		line.WriteString(l + " ")
	}
	if done == 0 && elapsed > 0 {
		// Nothing done yet (a step that reports only its end, like
		// encoding): a block moving to and fro says it is working.
		const block = 3
		pos := int(elapsed/(100*time.Millisecond)) % (2 * (width - block))
		if pos > width-block {
			pos = 2*(width-block) - pos
		}
		fmt.Fprintf(&line, "%-10s [%s<=>%s]     ", p.Phase, strings.Repeat(" ", pos), strings.Repeat(" ", width-block-pos))
	} else {
		fmt.Fprintf(&line, "%-10s [%s%s] %3d%%", p.Phase, strings.Repeat("=", fill), strings.Repeat(" ", width-fill), 100*done/p.Total)
	}
	if byteProgress(p.Phase) {
		fmt.Fprintf(&line, "  %s/%s", progressBytes(done), progressBytes(p.Total))
		if rate := float64(done) / elapsed.Seconds(); done > 0 && elapsed > 0 {
			fmt.Fprintf(&line, "  %s/s", progressBytes(int64(rate)))
			if done < p.Total {
				fmt.Fprintf(&line, "  ETA %s", roundDuration(time.Duration(float64(p.Total-done)/rate*float64(time.Second))))
			}
		}
	}
	fmt.Fprintf(&line, "  %s", roundDuration(elapsed))
	fmt.Fprintf(b.w, "\r%s\033[K", line.String())
	b.lastDraw, b.drawn = now, true
}

// finish stops the redraws and clears the line.
func (b *progressBar) finish() {
	if !b.on {
		return
	}
	b.mu.Lock()
	stop, done := b.ticker, b.tickerDone
	b.ticker = nil
	b.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.drawn {
		fmt.Fprint(b.w, "\r\033[K")
		b.drawn = false
	}
}

func progressBytes(n int64) string { return humanBytes(uint64(max(n, 0))) }

func roundDuration(d time.Duration) string {
	switch {
	case d < 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	}
	return d.Round(time.Minute).String()
}
