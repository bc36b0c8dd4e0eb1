package exceptionsconnector

import (
	"context"
	"testing"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

func TestExceptionEventBecomesLogRecord(t *testing.T) {
	var got []plog.Logs
	sink, _ := consumer.NewLogs(func(_ context.Context, ld plog.Logs) error {
		got = append(got, ld)
		return nil
	})
	f := NewFactory()
	c, err := f.CreateTracesToLogs(context.Background(), connector.Settings{ID: component.NewID(f.Type())}, f.CreateDefaultConfig(), sink)
	if err != nil {
		t.Fatal(err)
	}

	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "users-api")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	span := spans.AppendEmpty()
	traceID := pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	spanID := pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, 8}
	span.SetTraceID(traceID)
	span.SetSpanID(spanID)
	span.SetName("GET /users/:id")
	span.SetKind(ptrace.SpanKindServer)
	span.Status().SetCode(ptrace.StatusCodeError)
	span.Attributes().PutStr("http.route", "/users/:id")
	span.Events().AppendEmpty().SetName("not-an-exception")
	ev := span.Events().AppendEmpty()
	ev.SetName("exception")
	ev.Attributes().PutStr("exception.type", "TypeError")
	ev.Attributes().PutStr("exception.message", "boom")
	ev.Attributes().PutStr("exception.stacktrace", "TypeError: boom\n    at x (a.js:1:1)")
	spans.AppendEmpty().SetName("no events") // must not produce anything

	if err := c.ConsumeTraces(context.Background(), td); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].LogRecordCount() != 1 {
		t.Fatalf("want 1 log record, got %d batches", len(got))
	}
	rl := got[0].ResourceLogs().At(0)
	if v, _ := rl.Resource().Attributes().Get("service.name"); v.Str() != "users-api" {
		t.Errorf("resource service.name = %q", v.Str())
	}
	lr := rl.ScopeLogs().At(0).LogRecords().At(0)
	if lr.TraceID() != traceID || lr.SpanID() != spanID {
		t.Errorf("ids = %s/%s", lr.TraceID(), lr.SpanID())
	}
	if lr.SeverityNumber() != plog.SeverityNumberError || lr.Body().Str() != "TypeError: boom" {
		t.Errorf("severity %v body %q", lr.SeverityNumber(), lr.Body().Str())
	}
	want := map[string]string{
		"exception.type": "TypeError", "exception.message": "boom",
		"exception.stacktrace": "TypeError: boom\n    at x (a.js:1:1)",
		"span.name":            "GET /users/:id", "span.kind": "SPAN_KIND_SERVER",
		"status.code": "STATUS_CODE_ERROR", "service.name": "users-api", "http.route": "/users/:id",
	}
	for k, w := range want {
		if v, ok := lr.Attributes().Get(k); !ok || v.Str() != w {
			t.Errorf("attribute %s = %q, want %q", k, v.Str(), w)
		}
	}

	// Traces without exception events produce no logs call at all.
	got = nil
	empty := ptrace.NewTraces()
	empty.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	if err := c.ConsumeTraces(context.Background(), empty); err != nil || len(got) != 0 {
		t.Errorf("err=%v batches=%d", err, len(got))
	}
}
