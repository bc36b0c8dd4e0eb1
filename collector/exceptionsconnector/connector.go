// Package exceptionsconnector is a small stand-in for the contrib
// `exceptions` connector (connector/exceptionsconnector), whose v0.161.0
// module the Go module proxy used for this project does not serve.
//
// It is a traces -> logs connector: every span event named "exception"
// becomes one log record that carries
//   - the trace id and span id of the span that recorded it,
//   - the span's resource (so service.name stays a resource attribute) and scope,
//   - severity ERROR, the event's time, body "<exception.type>: <exception.message>",
//   - the span's attributes, then span.name, span.kind, status.code,
//     service.name (the same names the contrib connector uses), then every
//     attribute of the event (exception.type, exception.message,
//     exception.stacktrace, ...).
//
// Swap it for the contrib module (same component type, "exceptions") once a
// release of it resolves: only collector/builder-config.yaml changes.
package exceptionsconnector // import "users-demo.local/collector/exceptionsconnector"

import (
	"context"
	"strings"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

const (
	typeStr           = "exceptions"
	exceptionEvent    = "exception"
	attrExcType       = "exception.type"
	attrExcMessage    = "exception.message"
	attrServiceName   = "service.name"
	attrSpanName      = "span.name"
	attrSpanKind      = "span.kind"
	attrStatusCode    = "status.code"
	severityTextError = "ERROR"
)

// Config accepts the contrib connector's `dimensions` (span or event
// attributes copied onto each record), so one config.yaml suits both; this
// stand-in copies every span and event attribute anyway.
type Config struct {
	Dimensions []Dimension `mapstructure:"dimensions"`
}

// Dimension names an attribute to copy, with an optional default value.
type Dimension struct {
	Name    string  `mapstructure:"name"`
	Default *string `mapstructure:"default"`
}

// NewFactory returns the factory of the `exceptions` connector.
func NewFactory() connector.Factory {
	return connector.NewFactory(
		component.MustNewType(typeStr),
		func() component.Config { return &Config{} },
		connector.WithTracesToLogs(createTracesToLogs, component.StabilityLevelAlpha),
	)
}

func createTracesToLogs(_ context.Context, _ connector.Settings, _ component.Config, next consumer.Logs) (connector.Traces, error) {
	return &tracesToLogs{next: next}, nil
}

type tracesToLogs struct {
	component.StartFunc
	component.ShutdownFunc
	next consumer.Logs
}

func (*tracesToLogs) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

func (c *tracesToLogs) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	logs := plog.NewLogs()
	for i := 0; i < td.ResourceSpans().Len(); i++ {
		rs := td.ResourceSpans().At(i)
		var rl plog.ResourceLogs
		haveResource := false
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			ss := rs.ScopeSpans().At(j)
			var sl plog.ScopeLogs
			haveScope := false
			for k := 0; k < ss.Spans().Len(); k++ {
				span := ss.Spans().At(k)
				for e := 0; e < span.Events().Len(); e++ {
					event := span.Events().At(e)
					if event.Name() != exceptionEvent {
						continue
					}
					if !haveResource {
						rl = logs.ResourceLogs().AppendEmpty()
						rs.Resource().CopyTo(rl.Resource())
						rl.SetSchemaUrl(rs.SchemaUrl())
						haveResource = true
					}
					if !haveScope {
						sl = rl.ScopeLogs().AppendEmpty()
						ss.Scope().CopyTo(sl.Scope())
						sl.SetSchemaUrl(ss.SchemaUrl())
						haveScope = true
					}
					serviceName := ""
					if v, ok := rs.Resource().Attributes().Get(attrServiceName); ok {
						serviceName = v.AsString()
					}
					toLogRecord(sl.LogRecords().AppendEmpty(), span, event, serviceName)
				}
			}
		}
	}
	if logs.LogRecordCount() == 0 {
		return nil
	}
	return c.next.ConsumeLogs(ctx, logs)
}

func toLogRecord(lr plog.LogRecord, span ptrace.Span, event ptrace.SpanEvent, serviceName string) {
	lr.SetTimestamp(event.Timestamp())
	lr.SetObservedTimestamp(event.Timestamp())
	lr.SetSeverityNumber(plog.SeverityNumberError)
	lr.SetSeverityText(severityTextError)
	lr.SetTraceID(span.TraceID())
	lr.SetSpanID(span.SpanID())
	lr.SetFlags(plog.LogRecordFlags(span.Flags() & 0xff))

	attrs := lr.Attributes()
	span.Attributes().CopyTo(attrs)
	attrs.PutStr(attrSpanName, span.Name())
	attrs.PutStr(attrSpanKind, "SPAN_KIND_"+strings.ToUpper(span.Kind().String()))
	attrs.PutStr(attrStatusCode, "STATUS_CODE_"+strings.ToUpper(span.Status().Code().String()))
	if serviceName != "" {
		attrs.PutStr(attrServiceName, serviceName)
	}
	for k, v := range event.Attributes().All() {
		v.CopyTo(attrs.PutEmpty(k))
	}

	excType, message := "", ""
	if v, ok := event.Attributes().Get(attrExcType); ok {
		excType = v.AsString()
	}
	if v, ok := event.Attributes().Get(attrExcMessage); ok {
		message = v.AsString()
	}
	switch {
	case excType != "" && message != "":
		lr.Body().SetStr(excType + ": " + message)
	case excType != "":
		lr.Body().SetStr(excType)
	default:
		lr.Body().SetStr(message)
	}
}
