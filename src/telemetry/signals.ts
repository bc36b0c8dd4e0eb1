import { TraceFlags } from '@opentelemetry/api';
import { BatchLogRecordProcessor, ConsoleLogRecordExporter, SimpleLogRecordProcessor, type LogRecordProcessor, type ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace';
import type { SignalExport } from './export-pipeline';
import { otlpLogExporter, otlpSpanExporter } from './otlp-exporters';

/*
 * The two signals the kit exports, as export-pipeline.ts builds them. Each
 * counter stands in front of its batch processor and counts what that one
 * will take: a sampled span, any log record, until shutdown begins (then the
 * batch processor takes no more either).
 */

export const SPANS: SignalExport<ReadableSpan, SpanProcessor> = {
  what: 'span',
  otlpExporter: otlpSpanExporter,
  batchProcessor: (options) => new BatchSpanProcessor(options),
  counter(offered) {
    let open = true;
    return {
      onStart() {},
      onEnd(span) {
        if (open && span.spanContext().traceFlags & TraceFlags.SAMPLED) offered();
      },
      forceFlush: async () => {},
      shutdown: async () => void (open = false),
    };
  },
  console: () => new SimpleSpanProcessor({ exporter: new ConsoleSpanExporter() }),
};

export const LOG_RECORDS: SignalExport<ReadableLogRecord, LogRecordProcessor> = {
  what: 'log record',
  otlpExporter: otlpLogExporter,
  batchProcessor: (options) => new BatchLogRecordProcessor(options),
  counter(offered) {
    let open = true;
    return {
      onEmit() {
        if (open) offered();
      },
      forceFlush: async () => {},
      shutdown: async () => void (open = false),
    };
  },
  console: () => new SimpleLogRecordProcessor({ exporter: new ConsoleLogRecordExporter() }),
};
