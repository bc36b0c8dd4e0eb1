import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ROOT_CONTEXT, SeverityNumber, TraceFlags, context, logs, trace, type Context, type SpanContext } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor, createLoggerConfigurator } from '@opentelemetry/sdk-logs';
import { useServiceDefaultsInThisProcess } from '../harness/service.mts';

// Ours: the kit's events through a provider with the SDK's defaults, as NodeSDK builds it.
const ours = new InMemoryLogRecordExporter();
const oursProvider = new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter: ours })] });
// The standard part: the Logs SDK's own rule, `traceBased` in the logger's configuration.
const standard = new InMemoryLogRecordExporter();
const standardProvider = new LoggerProvider({
  processors: [new SimpleLogRecordProcessor({ exporter: standard })],
  loggerConfigurator: createLoggerConfigurator([{ pattern: '*', config: { traceBased: true } }]),
});
const standardLogger = standardProvider.getLogger('telemetry-kit');
const contextManager = new AsyncLocalStorageContextManager();

useServiceDefaultsInThisProcess();
logs.setGlobalLoggerProvider(oursProvider);
context.setGlobalContextManager(contextManager.enable());
const { emitEvent, emitException } = await import('../dist/telemetry/events.js');

after(async () => {
  await oursProvider.shutdown();
  await standardProvider.shutdown();
  contextManager.disable();
});

const spanContext = (traceFlags: number, traceId = '4bf92f3577b34da6a3ce929d0e0e4736'): SpanContext => ({ traceId, spanId: '00f067aa0ba902b7', traceFlags, isRemote: true });
/** Each case: the active context, and how many of the two records (the event, the exception) are kept. */
const CASES: Array<[string, Context, number]> = [
  ['no span', ROOT_CONTEXT, 2],
  ['a sampled span', trace.setSpanContext(ROOT_CONTEXT, spanContext(TraceFlags.SAMPLED)), 2],
  ['an unsampled span', trace.setSpanContext(ROOT_CONTEXT, spanContext(TraceFlags.NONE)), 0],
  ['an invalid span context, unsampled', trace.setSpanContext(ROOT_CONTEXT, spanContext(TraceFlags.NONE, '0'.repeat(32))), 2],
];

describe('events in a trace the sampler left out: the kit drops them as the Logs SDK\'s traceBased option does', () => {
  for (const [name, active, keptCount] of CASES) {
    it(`with ${name}`, () => {
      ours.reset();
      standard.reset();
      context.with(active, () => {
        emitEvent('started sleep', { 'work.delay_ms': 5 });
        standardLogger.emit({ eventName: 'started sleep', severityNumber: SeverityNumber.INFO, body: 'started sleep' });
        // An exception is written for a span given explicitly (recordError's); with no span active, a sampled one.
        const span = trace.wrapSpanContext(trace.getSpanContext(active) ?? spanContext(TraceFlags.SAMPLED));
        emitException(new Error('boom'), SeverityNumber.WARN, span);
        standardLogger.emit({ eventName: 'exception', severityNumber: SeverityNumber.WARN, body: 'Error: boom', context: trace.setSpan(active, span) });
      });
      const kept = (exporter: InMemoryLogRecordExporter) => exporter.getFinishedLogRecords().map((record) => record.eventName);
      assert.deepEqual(kept(ours), kept(standard));
      // And the rule is not vacuous: the sampled cases keep both, the unsampled one neither.
      assert.equal(kept(ours).length, keptCount);
    });
  }
});
