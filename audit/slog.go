package audit

import (
	"context"
	"log/slog"
)

// Slog is a [Hook] that writes each event as one structured log record.
// Allowed, bypassed and unchecked (off mode) decisions are logged at
// Level, every other outcome, an unknown one included, at Level+4 (Info
// and Warn by default). The zero value logs to slog.Default at Info.
//
// fgac's own errors carry no secrets, but an error outcome's "error"
// attribute is the error's text, and an error that comes from the
// service's own code (a resolver's store query, Rows, a custom engine)
// says whatever that code put in it: keep credentials out of such errors,
// or log with a ReplaceAttr that drops "error".
type Slog struct {
	// Logger receives the records; nil means slog.Default().
	Logger *slog.Logger
	// Level is the level of allowed, bypassed and unchecked decisions.
	Level slog.Level
}

// Observe implements [Hook].
func (s Slog) Observe(ctx context.Context, e Event) {
	l := s.Logger
	if l == nil {
		l = slog.Default()
	}
	level := s.Level
	if e.Outcome != Allowed && e.Outcome != Bypassed && e.Outcome != Unchecked {
		level += 4
	}
	if !l.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 12)
	attrs = append(attrs,
		slog.String("outcome", e.Outcome.String()),
		slog.String("mode", e.Mode),
		slog.String("subject", e.Subject.String()),
		slog.String("resource", e.Requested.String()),
		slog.String("operation", string(e.Operation)),
		slog.Duration("latency", e.Latency),
		slog.String("consistency", e.Consistency.String()),
	)
	if e.Checked != (e.Requested) && e.Checked.Type != "" {
		attrs = append(attrs, slog.String("checked", e.Checked.String()))
	}
	if e.Route != "" {
		attrs = append(attrs, slog.String("route", e.Route))
	}
	if len(e.Missing) > 0 {
		attrs = append(attrs, slog.Any("missing", e.Missing))
	}
	if e.Outcome == Bypassed {
		attrs = append(attrs, slog.String("bypass", e.Bypass.String()))
	}
	if e.Err != nil {
		attrs = append(attrs, slog.String("error", e.Err.Error()))
	}
	l.LogAttrs(ctx, level, "fgac decision", attrs...)
}
