// Package spanrec is a minimal recording OpenTelemetry TracerProvider for
// the library's own tests, which may not depend on the SDK: it keeps the
// name, parent, attributes and status of every ended span.
package spanrec

import (
	"context"
	"encoding/binary"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
	"go.opentelemetry.io/otel/trace/noop"
)

// Span is an ended span as recorded.
type Span struct {
	Name        string
	ID          trace.SpanID
	Parent      trace.SpanID
	TraceID     trace.TraceID
	Attrs       map[string]string
	Status      codes.Code
	Description string
}

// Provider is a recording trace.TracerProvider. It is safe for concurrent
// use.
type Provider struct {
	embedded.TracerProvider
	next atomic.Uint64

	mu    sync.Mutex // guards ended
	ended []Span
}

// Tracer returns a tracer that records into p.
func (p *Provider) Tracer(string, ...trace.TracerOption) trace.Tracer { return tracer{p: p} }

// Ended returns the spans ended so far, in the order they ended.
func (p *Provider) Ended() []Span {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Span(nil), p.ended...)
}

// Reset forgets the recorded spans.
func (p *Provider) Reset() {
	p.mu.Lock()
	p.ended = nil
	p.mu.Unlock()
}

type tracer struct {
	embedded.Tracer
	p *Provider
}

func (t tracer) Start(ctx context.Context, name string, _ ...trace.SpanStartOption) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx).SpanContext()
	var sid trace.SpanID
	binary.BigEndian.PutUint64(sid[:], t.p.next.Add(1))
	tid := parent.TraceID()
	if !tid.IsValid() {
		binary.BigEndian.PutUint64(tid[8:], t.p.next.Add(1))
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled})
	s := &span{p: t.p, sc: sc, rec: Span{Name: name, ID: sid, Parent: parent.SpanID(), TraceID: tid, Attrs: map[string]string{}}}
	return trace.ContextWithSpan(ctx, s), s
}

type span struct {
	noop.Span
	p  *Provider
	sc trace.SpanContext

	mu  sync.Mutex // guards rec
	rec Span
}

func (s *span) SpanContext() trace.SpanContext { return s.sc }
func (s *span) IsRecording() bool              { return true }

func (s *span) SetAttributes(kv ...attribute.KeyValue) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range kv {
		s.rec.Attrs[string(a.Key)] = a.Value.Emit()
	}
}

func (s *span) SetStatus(c codes.Code, d string) {
	s.mu.Lock()
	s.rec.Status, s.rec.Description = c, d
	s.mu.Unlock()
}

func (s *span) SetName(n string) {
	s.mu.Lock()
	s.rec.Name = n
	s.mu.Unlock()
}

func (s *span) End(...trace.SpanEndOption) {
	s.mu.Lock()
	rec := s.rec
	s.mu.Unlock()
	s.p.mu.Lock()
	s.p.ended = append(s.p.ended, rec)
	s.p.mu.Unlock()
}

var _ trace.TracerProvider = (*Provider)(nil)
