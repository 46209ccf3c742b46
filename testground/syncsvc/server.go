package syncsvc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"nhooyr.io/websocket"
	"nhooyr.io/websocket/wsjson"
)

type publishRequest struct {
	Topic   string          `json:"topic"`
	Payload json.RawMessage `json:"payload"`
}

type topicRequest struct {
	Topic string `json:"topic"`
}

type barrierRequest struct {
	State  string `json:"state"`
	Target int    `json:"target"`
}

type stateRequest struct {
	State string `json:"state"`
}

type request struct {
	ID          string          `json:"id"`
	IsCancel    bool            `json:"is_cancel"`
	Publish     *publishRequest `json:"publish,omitempty"`
	Subscribe   *topicRequest   `json:"subscribe,omitempty"`
	Barrier     *barrierRequest `json:"barrier,omitempty"`
	SignalEntry *stateRequest   `json:"signal_entry,omitempty"`
}

type seqResponse struct {
	Seq int `json:"seq"`
}

type response struct {
	ID          string       `json:"id"`
	Error       string       `json:"error"`
	Publish     *seqResponse `json:"publish"`
	Subscribe   string       `json:"subscribe"`
	SignalEntry *seqResponse `json:"signal_entry"`
}

// Server is an in-memory sync service.
type Server struct {
	log *slog.Logger

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every change
	topics  map[string][]string
	states  map[string]int

	srv *http.Server
	ln  net.Listener
}

// New returns a server with no topics or states.
func New(log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	return &Server{log: log, changed: make(chan struct{}), topics: map[string][]string{}, states: map[string]int{}}
}

// Serve serves the protocol on ln until Close.
func (s *Server) Serve(ln net.Listener) error {
	s.ln = ln
	s.srv = &http.Server{Handler: http.HandlerFunc(s.handle), ReadHeaderTimeout: 10 * time.Second}
	err := s.srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Addr is the listener's address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops serving and ends every connection.
func (s *Server) Close() error {
	if s.srv == nil {
		return nil
	}
	return s.srv.Close()
}

// notify wakes every waiter; s.mu is held.
func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Signal increments state and returns its new count.
func (s *Server) Signal(state string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.states[state]++
	s.notify()
	return s.states[state]
}

// Count is state's count.
func (s *Server) Count(state string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.states[state]
}

// WaitState waits until state's count reaches target or ctx ends.
func (s *Server) WaitState(ctx context.Context, state string, target int) error {
	for {
		s.mu.Lock()
		n, ch := s.states[state], s.changed
		s.mu.Unlock()
		if n >= target {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// Publish appends payload (JSON) to topic and returns the topic's length.
func (s *Server) Publish(topic string, payload []byte) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.topics[topic] = append(s.topics[topic], string(payload))
	s.notify()
	return len(s.topics[topic])
}

// next returns message i of topic, waiting for it.
func (s *Server) next(ctx context.Context, topic string, i int) (string, error) {
	for {
		s.mu.Lock()
		msgs, ch := s.topics[topic], s.changed
		s.mu.Unlock()
		if i < len(msgs) {
			return msgs[i], nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-ch:
		}
	}
}

type conn struct {
	s    *Server
	ws   *websocket.Conn
	ctx  context.Context
	wmu  sync.Mutex
	cmu  sync.Mutex
	subs map[string]context.CancelFunc
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		s.log.Warn("sync: websocket upgrade failed", "err", err)
		return
	}
	ws.SetReadLimit(64 << 20)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	c := &conn{s: s, ws: ws, ctx: ctx, subs: map[string]context.CancelFunc{}}
	for {
		var req request
		if err := wsjson.Read(ctx, ws, &req); err != nil {
			st := websocket.CloseStatus(err)
			if st != websocket.StatusNormalClosure && st != websocket.StatusGoingAway && ctx.Err() == nil {
				s.log.Debug("sync: connection ended", "err", err)
			}
			_ = ws.Close(websocket.StatusNormalClosure, "")
			return
		}
		c.dispatch(req)
	}
}

func (c *conn) reply(r response) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	if err := wsjson.Write(ctx, c.ws, r); err != nil {
		c.s.log.Debug("sync: write failed", "err", err)
	}
}

func (c *conn) dispatch(req request) {
	if req.IsCancel {
		c.cmu.Lock()
		cancel := c.subs[req.ID]
		delete(c.subs, req.ID)
		c.cmu.Unlock()
		if cancel != nil {
			cancel()
		}
		return
	}
	switch {
	case req.Publish != nil:
		seq := c.s.Publish(req.Publish.Topic, req.Publish.Payload)
		go c.reply(response{ID: req.ID, Publish: &seqResponse{Seq: seq}})
	case req.SignalEntry != nil:
		seq := c.s.Signal(req.SignalEntry.State)
		go c.reply(response{ID: req.ID, SignalEntry: &seqResponse{Seq: seq}})
	case req.Barrier != nil:
		go func() {
			resp := response{ID: req.ID}
			if err := c.s.WaitState(c.ctx, req.Barrier.State, req.Barrier.Target); err != nil {
				resp.Error = err.Error()
			}
			c.reply(resp)
		}()
	case req.Subscribe != nil:
		ctx, cancel := context.WithCancel(c.ctx)
		c.cmu.Lock()
		c.subs[req.ID] = cancel
		c.cmu.Unlock()
		go func() {
			for i := 0; ; i++ {
				msg, err := c.s.next(ctx, req.Subscribe.Topic, i)
				if err != nil {
					return // cancelled, or the connection ended
				}
				c.reply(response{ID: req.ID, Subscribe: msg})
			}
		}()
	default:
		go c.reply(response{ID: req.ID, Error: fmt.Sprintf("sync: request %q names no operation", req.ID)})
	}
}
