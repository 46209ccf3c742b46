package host

import (
	"context"
	"log/slog"
	"os"

	"github.com/libp2p/go-libp2p/gologshim"
)

// go-libp2p's own loggers (gologshim) print to stderr at the levels of
// GOLOG_LOG_LEVEL (error by default). floe keeps that, but drops the
// records of go-libp2p's fx lifecycle (logger p2p-config, system fx): when
// a host fails to start (a listen port in use) they print the error that
// New returns three more times, as multi-line noise before the one line a
// command reports.
func init() { gologshim.SetDefaultHandler(libp2pHandler{}) }

// libp2pHandler is the handler gologshim derives every go-libp2p logger
// from, with WithAttrs(logger=<system>, labels...).
type libp2pHandler struct {
	h      slog.Handler // nil until the system is known
	system string
	fx     bool
}

func (l libp2pHandler) Enabled(ctx context.Context, lvl slog.Level) bool {
	return !l.fx && l.handler().Enabled(ctx, lvl)
}

func (l libp2pHandler) Handle(ctx context.Context, r slog.Record) error {
	if l.fx {
		return nil
	}
	return l.handler().Handle(ctx, r)
}

func (l libp2pHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	for _, a := range attrs {
		switch {
		case a.Key == "logger" && l.h == nil:
			l.system = a.Value.String()
		case a.Key == "system" && a.Value.String() == "fx" && l.system == "p2p-config":
			l.fx = true
		}
	}
	l.h = l.handler().WithAttrs(attrs)
	return l
}

func (l libp2pHandler) WithGroup(name string) slog.Handler {
	l.h = l.handler().WithGroup(name)
	return l
}

var levelNames = map[slog.Level]string{
	slog.LevelDebug: "debug", slog.LevelInfo: "info", slog.LevelWarn: "warn", slog.LevelError: "error",
}

// handler is what gologshim itself would use for the system: text (or
// JSON with GOLOG_LOG_FORMAT=json) on stderr, go-log's key names.
func (l libp2pHandler) handler() slog.Handler {
	if l.h != nil {
		return l.h
	}
	opts := &slog.HandlerOptions{
		Level:     gologshim.ConfigFromEnv().LevelForSystem(l.system),
		AddSource: os.Getenv("GOLOG_LOG_ADD_SOURCE") != "0" && os.Getenv("GOLOG_LOG_ADD_SOURCE") != "false",
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			switch a.Key {
			case slog.TimeKey:
				a.Key = "ts"
			case slog.LevelKey:
				if lvl, ok := a.Value.Any().(slog.Level); ok {
					if s, ok := levelNames[lvl]; ok {
						a.Value = slog.StringValue(s)
					}
				}
			}
			return a
		},
	}
	if f := os.Getenv("GOLOG_LOG_FORMAT"); f == "json" || (f == "" && os.Getenv("GOLOG_LOG_FMT") == "json") {
		return slog.NewJSONHandler(os.Stderr, opts)
	}
	return slog.NewTextHandler(os.Stderr, opts)
}
