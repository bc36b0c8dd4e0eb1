import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FAST_EXPORT, startPipeline, type Pipeline } from './support/pipeline.mts';
import { SentryEnvelopes } from './support/sentry-envelopes.mts';
import type { SentryIngest } from './support/sentry-ingest.mts';
import { OtlpReceiver } from './support/otlp-receiver.mts';
import { ROOT, Service, freePort } from './support/service.mts';
import { waitFor } from './support/wait.mts';
import { newTraceparent } from './support/traces.mts';

const SEVERITY = { INFO: 9, WARN: 13 };

describe('logs next to traces: service → real collector → Sentry Logs stand-in', () => {
  let pipeline: Pipeline;
  let sentry: SentryIngest;
  let service: Service;

  before(async () => {
    pipeline = await startPipeline();
    ({ sentry, service } = pipeline);
  });
  after(() => pipeline?.stop());

  it('delivers the log records of /users/123 in its trace, with body, severity and attributes as written', async () => {
    const { traceparent: header, traceId } = newTraceparent();
    assert.equal((await service.get('/users/123', { traceparent: header })).status, 200);

    const records = await sentry.waitFor(() => {
      // The service's own records; the collector's exception logs (which carry span.name) are tested elsewhere.
      const found = sentry.logs.filter((log) => log.traceId === traceId && log.attributes['span.name'] === undefined);
      return found.length >= 3 ? found : undefined;
    }, 'the three log records of /users/123');
    const byBody = Object.fromEntries(records.map((record) => [String(record.body), record]));
    assert.deepEqual(Object.keys(byBody).sort(), ['middle work finished', 'middle work recovered from an error', 'middle work started']);

    const started = byBody['middle work started']!;
    assert.equal(started.severityNumber, SEVERITY.INFO);
    assert.equal(started.severityText, 'INFO');
    assert.equal(started.attributes.delay_ms, 50);
    assert.equal(started.resource['service.name'], 'users-api');

    const recovered = byBody['middle work recovered from an error']!;
    assert.equal(recovered.severityNumber, SEVERITY.WARN);
    assert.equal(recovered.attributes['error.type'], 'SomeworkError');
    assert.equal(recovered.attributes['error.message'], 'errorWork failed on purpose');

    // Each record sits on the span that was active when it was written: middleWork.
    const middleWork = await sentry.waitFor(() => sentry.trace(traceId).find((span) => span.name === 'middleWork'), 'the middleWork span');
    for (const record of records) assert.equal(record.spanId, middleWork.spanId);
    // The same lines on stdout, with the same ids.
    const stdout = service.logs.filter((line) => line.trace_id === traceId);
    assert.deepEqual(stdout.map((line) => line.msg).sort(), Object.keys(byBody).sort());
    assert.ok(stdout.every((line) => line.span_id === middleWork.spanId));
  });
});

describe('log export with the collector away', () => {
  it('keeps requests fast and memory bounded, drops with a count, and resumes when the collector is back', async () => {
    const grpcPort = await freePort();
    const service = await Service.start({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${grpcPort}`, ...FAST_EXPORT, OTEL_BLRP_MAX_QUEUE_SIZE: '512' });
    let receiver: OtlpReceiver | undefined;
    try {
      const slowest = { ms: 0 };
      for (let i = 0; i < 300; i += 1) {
        const started = performance.now();
        assert.equal((await service.get('/work?ms=0')).status, 200);
        slowest.ms = Math.max(slowest.ms, performance.now() - started);
      }
      assert.ok(slowest.ms < 1_000, `no request waited on the exporter (slowest ${slowest.ms.toFixed(0)} ms)`);
      await waitFor(() => service.logs.find((line) => /log record export is failing/.test(line.msg)), 'the log export failure');

      receiver = await OtlpReceiver.start(grpcPort);
      const { traceparent: header, traceId } = newTraceparent();
      await waitFor(
        async () => {
          await service.get('/users/123', { traceparent: header });
          return receiver!.logs.some((log) => log.traceId === traceId) || undefined;
        },
        'log records to arrive after the collector came back',
        20_000,
      );
      await waitFor(() => service.logs.find((line) => /log record export recovered/.test(line.msg)), 'the recovery to be reported');
      const recovered = service.logs.find((line) => /log record export recovered/.test(line.msg))!;
      assert.ok(Number(recovered.lost) > 0, 'the recovery line counts what was lost');
    } finally {
      assert.equal(await service.stop(), 0);
      await receiver?.close();
    }
  });
});

describe('the logger never throws', () => {
  it('exports circular objects, BigInts, Symbols, throwing getters and huge values as bounded records, each with a body', async () => {
    const receiver = await OtlpReceiver.start();
    const service = await Service.start({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      ...FAST_EXPORT,
      NODE_OPTIONS: `--require ${join(ROOT, 'test/support/misbehave.cjs')}`,
      MISBEHAVE: 'log-hostile',
    });
    try {
      service.process.kill('SIGUSR2');
      await waitFor(() => receiver.logs.find((log) => log.body === 'after the hostile calls'), 'the record written after the hostile calls');
      assert.equal(service.process.exitCode, null, 'still running');
      assert.equal((await service.get('/users/42')).status, 200);

      const span = await receiver.waitForSpans((spans) => spans.some((s) => s.name === 'misbehaving'), 'the span the calls were made in');
      const records = receiver.logs.filter((log) => log.traceId === span.find((s) => s.name === 'misbehaving')!.traceId);
      assert.equal(records.length, 12, `one record per call: ${records.map((r) => String(r.body).slice(0, 40)).join(' | ')}`);
      for (const record of records) assert.ok(typeof record.body === 'string' && record.body.length > 0, 'every record has a body');
      const attributesOf = (body: string) => records.find((record) => record.body === body)!.attributes;

      assert.equal(attributesOf('a circular object').circular, '{"name":"circular","self":"[Circular]"}');
      assert.equal(attributesOf('a BigInt').big, '12345678901234567890');
      assert.equal(attributesOf('a Symbol').symbol, 'Symbol(tag)');
      assert.deepEqual(JSON.parse(String(attributesOf('nested oddities').nested)), { big: '1', symbol: 'Symbol(deep)', fn: 'fn() {}' });
      assert.match(String(attributesOf('a throwing getter').throwing), /getter throws/);
      assert.ok(records.some((record) => record.body === 'user ada has 3 items ({"a":1})'), 'printf-style arguments are formatted into the body');

      // What one call can export is bounded.
      assert.equal(String(attributesOf('a 1 MB string').huge).length, 4096);
      assert.ok(Object.keys(attributesOf('ten thousand fields')).length <= 128, 'at most 128 attributes');
      const long = records.find((record) => String(record.body).startsWith('yyy'))!;
      assert.equal(String(long.body).length, 4096);
      // A call without a message still has a body.
      assert.ok(records.some((record) => record.body === '{"only":"fields"}'));
      const error = records.find((record) => record.body === 'an error as the only argument')!;
      assert.equal(error.attributes['exception.type'], 'Error');

      // stdout has every line, and the bridge never failed.
      assert.ok(service.logs.some((line) => line.msg === 'a circular object'));
      assert.ok(!service.logs.some((line) => /could not be turned into/.test(line.msg)));
    } finally {
      assert.equal(await service.stop(), 0);
      await receiver.close();
    }
  });
});

describe('OTEL_LOGS_EXPORTER=none', () => {
  it('turns log export off while stdout keeps every line', async () => {
    const receiver = await OtlpReceiver.start();
    const service = await Service.start({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_LOGS_EXPORTER: 'none', ...FAST_EXPORT });
    try {
      const { traceparent: header, traceId } = newTraceparent();
      assert.equal((await service.get('/users/123', { traceparent: header })).status, 200);
      await receiver.waitForSpans(() => receiver.trace(traceId).length >= 4, 'the spans, which still go out');
      assert.equal(service.logs.filter((line) => line.trace_id === traceId).length, 3);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.deepEqual(receiver.logs, []);
    } finally {
      await service.stop();
      await receiver.close();
    }
  });
});

describe('errors as Sentry issues with SENTRY_DSN (Sentry SDK, no Sentry tracing)', () => {
  let envelopes: SentryEnvelopes;
  let receiver: OtlpReceiver;
  let service: Service;

  before(async () => {
    envelopes = await SentryEnvelopes.start();
    receiver = await OtlpReceiver.start();
    service = await Service.start({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, SENTRY_DSN: envelopes.dsn, ...FAST_EXPORT });
  });
  after(async () => {
    await service?.stop();
    await receiver?.close();
    await envelopes?.close();
  });

  it('/error becomes exactly one error event, with its stack, in the trace of the OTLP spans', async () => {
    const { traceparent: header, traceId } = newTraceparent();
    assert.equal((await service.get('/error', { traceparent: header })).status, 500);
    const event = await waitFor(
      () => envelopes.ofType('event').find((item) => item.payload.contexts?.trace?.trace_id === traceId),
      'the error event of /error',
    );
    const server = await receiver.waitForSpans(() => receiver.trace(traceId).length >= 1, 'the OTLP span of /error');
    assert.equal(server.find((s) => s.traceId === traceId)!.name, 'GET /error');
    assert.equal(event.payload.contexts.trace.span_id, receiver.trace(traceId)[0]!.spanId, 'linked to the server span');

    const [exception] = event.payload.exception.values;
    assert.equal(exception.type, 'Error');
    assert.equal(exception.value, 'this endpoint fails on purpose');
    assert.ok(exception.stacktrace.frames.length > 2, 'with a stack trace');
    assert.ok(exception.stacktrace.frames.some((frame: { filename?: string }) => /dist\/app\.js$/.test(frame.filename ?? '')));

    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(envelopes.ofType('event').filter((item) => item.payload.contexts?.trace?.trace_id === traceId).length, 1, 'exactly one');
  });

  it('the recovered somework error becomes an event too, linked to the errorWork span', async () => {
    const { traceparent: header, traceId } = newTraceparent();
    assert.equal((await service.get('/users/123', { traceparent: header })).status, 200);
    const event = await waitFor(() => envelopes.ofType('event').find((item) => item.payload.contexts?.trace?.trace_id === traceId), 'the somework event');
    assert.equal(event.payload.exception.values[0].type, 'SomeworkError');
    const errorWork = await receiver.waitForSpans(() => receiver.trace(traceId).some((s) => s.name === 'errorWork'), 'errorWork');
    assert.equal(event.payload.contexts.trace.span_id, errorWork.find((s) => s.traceId === traceId && s.name === 'errorWork')!.spanId);
  });

  it('a client error (400, 404) makes no event, and the SDK sends no transaction or span', async () => {
    const { traceparent: header, traceId } = newTraceparent();
    assert.equal((await service.get('/users/bad%20id!', { traceparent: header })).status, 400);
    assert.equal((await service.get('/nowhere', { traceparent: header })).status, 404);
    await receiver.waitForSpans(() => receiver.trace(traceId).length >= 2, 'the spans of the two requests');
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.deepEqual(envelopes.ofType('event').filter((item) => item.payload.contexts?.trace?.trace_id === traceId), []);
    assert.deepEqual(envelopes.items.filter((item) => ['transaction', 'span'].includes(item.type)), []);
  });
});

describe('without SENTRY_DSN', () => {
  it('never loads the Sentry SDK', async () => {
    const modulesFile = join(tmpdir(), `loaded-modules-${process.pid}.json`);
    const probe = { NODE_OPTIONS: `--require ${join(ROOT, 'test/support/loaded-modules.cjs')}`, LOADED_MODULES_FILE: modulesFile };
    const envelopes = await SentryEnvelopes.start();
    for (const env of [{}, { SENTRY_DSN: envelopes.dsn }] as Array<Record<string, string>>) {
      const service = await Service.start({ OTEL_TRACES_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none', ...probe, ...env });
      assert.equal((await service.get('/error')).status, 500);
      assert.equal(await service.stop(), 0);
      const sentryModules = (JSON.parse(readFileSync(modulesFile, 'utf8')) as string[]).filter((path) => path.includes('/@sentry/'));
      if ('SENTRY_DSN' in env) assert.ok(sentryModules.length > 0, 'the probe sees the SDK when it is on');
      else assert.deepEqual(sentryModules, []);
    }
    await envelopes.close();
  });
});
