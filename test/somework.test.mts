import assert from 'node:assert/strict';
import { after, beforeEach, describe, it } from 'node:test';
import { SeverityNumber, SpanStatusCode, context, logs, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor, type ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { useServiceDefaultsInThisProcess } from '../harness/service.mts';
import { named } from '../harness/traces.mts';

const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
const logExporter = new InMemoryLogRecordExporter();
const loggerProvider = new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter: logExporter })] });
const contextManager = new AsyncLocalStorageContextManager();

useServiceDefaultsInThisProcess();
// The modules under test take their tracer and logger when loaded, so register the providers first.
trace.setGlobalTracerProvider(provider);
logs.setGlobalLoggerProvider(loggerProvider);
context.setGlobalContextManager(contextManager.enable());
const { errorWork, middleWork } = await import('../dist/somework.js');
const { getUser } = await import('../dist/users.js');

after(async () => {
  await provider.shutdown();
  await loggerProvider.shutdown();
  contextManager.disable();
});
beforeEach(() => {
  exporter.reset();
  logExporter.reset();
});

/** The log-based events (log records with an event name) written on `span`. */
const eventsOf = (span: ReadableSpan): ReadableLogRecord[] =>
  logExporter.getFinishedLogRecords().filter((record) => record.eventName && record.spanContext?.spanId === span.spanContext().spanId);
const nanos = ([seconds, ns]: [number, number]) => seconds * 1e9 + ns;

const byName = (name: string): ReadableSpan => named(exporter.getFinishedSpans(), name);
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

describe('somework', () => {
  it('nests errorWork under middleWork, after the sleep, in one trace', async () => {
    const result = await middleWork(20);
    assert.deepEqual(result, { sleptMs: 20, recovered: 'errorWork failed on purpose' });

    const middle = byName('middleWork');
    const error = byName('errorWork');
    assert.equal(parentOf(error), middle.spanContext().spanId);
    assert.equal(error.spanContext().traceId, middle.spanContext().traceId);
    assert.equal(parentOf(middle), undefined, 'outside a request middleWork starts its own root trace');
  });

  it('marks the sleep with log-based events of its span, in order, with attributes, and no span events', async () => {
    await middleWork(15);
    const middle = byName('middleWork');
    const events = eventsOf(middle);
    assert.deepEqual(events.map((event) => event.eventName), ['started sleep', 'completed sleep', 'recovered from error']);
    assert.deepEqual(events.map((event) => event.body), ['started sleep', 'completed sleep', 'recovered from error'], 'a body, as Sentry requires');
    assert.ok(events.every((event) => event.spanContext?.traceId === middle.spanContext().traceId));
    assert.ok(events.every((event) => event.severityNumber === SeverityNumber.INFO));
    assert.equal(events[0]!.attributes['work.delay_ms'], 15);
    assert.deepEqual(events[2]!.attributes, { 'error.type': 'SomeworkError' }, 'the message is on the exception record, not repeated');
    const sleptNs = nanos(events[1]!.hrTime) - nanos(events[0]!.hrTime);
    assert.ok(sleptNs >= 14e6, `the events should be at least 15 ms apart, were ${sleptNs / 1e6} ms`);
    assert.equal(middle.attributes['work.delay_ms'], 15);
    assert.deepEqual(middle.events, [], 'no span events: Sentry would drop them');
    assert.equal(middle.status.code, SpanStatusCode.UNSET, 'the caller recovered, so middleWork itself did not fail');
  });

  it('records the exception on errorWork: a WARN exception event of its span (type, message, stack), status ERROR, error.type', async () => {
    const returned = await errorWork();
    const span = byName('errorWork');
    assert.equal(span.status.code, SpanStatusCode.ERROR);
    assert.equal(span.status.message, 'errorWork failed on purpose');
    assert.equal(span.attributes['error.type'], 'SomeworkError');
    assert.deepEqual(span.events, []);
    const [exception, ...more] = eventsOf(span);
    assert.deepEqual(more, [], 'one exception event');
    assert.equal(exception?.eventName, 'exception');
    assert.equal(exception.severityNumber, SeverityNumber.WARN, 'its caller recovers from it (OTEP 4333: WARN at most)');
    assert.equal(exception.body, 'SomeworkError: errorWork failed on purpose');
    assert.equal(exception.attributes['exception.type'], 'SomeworkError');
    assert.equal(exception.attributes['exception.message'], 'errorWork failed on purpose');
    assert.match(String(exception.attributes['exception.stacktrace']), /SomeworkError: errorWork failed on purpose\n\s+at /);
    assert.equal(returned.message, 'errorWork failed on purpose');
  });

  it('stays in the caller\'s trace across timers and promises', async () => {
    await trace.getTracer('test').startActiveSpan('caller', async (caller) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      await Promise.all([middleWork(5), middleWork(10)]);
      caller.end();
    });
    const caller = byName('caller');
    const middles = exporter.getFinishedSpans().filter((s) => s.name === 'middleWork');
    const errors = exporter.getFinishedSpans().filter((s) => s.name === 'errorWork');
    assert.equal(middles.length, 2);
    for (const middle of middles) assert.equal(parentOf(middle), caller.spanContext().spanId);
    const middleIds = new Set(middles.map((s) => s.spanContext().spanId));
    assert.deepEqual(new Set(errors.map(parentOf)), middleIds, 'each errorWork has its own middleWork as parent');
    assert.equal(errors.length, 2);
    for (const span of exporter.getFinishedSpans()) assert.equal(span.spanContext().traceId, caller.spanContext().traceId);
  });

  it('records a cancelled sleep as an error on middleWork and ends the span', async () => {
    const controller = new AbortController();
    const work = middleWork(5_000, controller.signal);
    setTimeout(() => controller.abort(), 10);
    await assert.rejects(work, { name: 'AbortError' });
    const middle = byName('middleWork');
    assert.equal(middle.status.code, SpanStatusCode.ERROR);
    assert.equal(middle.attributes['error.type'], 'AbortError');
    assert.equal(exporter.getFinishedSpans().some((s) => s.name === 'errorWork'), false);
    assert.deepEqual(eventsOf(middle).map((event) => event.eventName), ['started sleep'], 'an error that propagates is recorded where it is handled, not on the way');
  });
});

describe('getUser', () => {
  it('makes a getUser span with the id; for 123 it runs somework beneath it', async () => {
    assert.deepEqual(await getUser('42'), { id: '42', name: 'User 42' });
    assert.equal(byName('getUser').attributes['user.id'], '42');
    assert.equal(exporter.getFinishedSpans().length, 1);

    exporter.reset();
    await getUser('123');
    assert.equal(parentOf(byName('middleWork')), byName('getUser').spanContext().spanId);
    assert.equal(parentOf(byName('errorWork')), byName('middleWork').spanContext().spanId);
  });
});
