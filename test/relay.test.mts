import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { Collector } from '../harness/collector.mts';
import { differences } from '../harness/ingest-compare.mts';
import { decodeJsonLine, type ReceivedLog, type ReceivedSpan } from '../harness/otlp.mts';
import { keyValues, logsRequest, nanos, postOtlpJson, tracesRequest } from '../harness/otlp-json.mts';
import { FAST_EXPORT } from '../harness/pipeline.mts';
import { metaRemarks } from '../harness/relay-items.mts';
import { RelayIngest, relayMissing } from '../harness/relay.mts';
import { describeNeeding } from '../harness/requirements.mts';
import { SentryIngest } from '../harness/sentry-ingest.mts';
import { Service } from '../harness/service.mts';
import { exportTraceOf16MiB, newTraceparent } from '../harness/traces.mts';
import { waitFor } from '../harness/wait.mts';

/*
 * Sentry's own ingest service, Relay 26.9.0 built from source
 * (scripts/relay.sh), behind the real collector and two instances of the
 * service, as in production. Everything here is proved by what Relay
 * forwards upstream and the outcomes it reports, not by its HTTP answers: it
 * answers 200 before it processes anything.
 */

describeNeeding(relayMissing(), "service → real collector → Sentry's real Relay", () => {
  let relay: RelayIngest;
  let collector: Collector;
  let users: Service;
  let gateway: Service;
  let folder: string;
  let sentFile: string;

  // The seed's requests, each in a trace of its own.
  const requests = {
    user: { path: '/users/123', ...newTraceparent() },
    work: { path: '/work?ms=5', ...newTraceparent() },
    error: { path: '/error', ...newTraceparent() },
    chain: { path: '/chain/123', ...newTraceparent() },
  };
  const traceIds = new Set(Object.values(requests).map((request) => request.traceId));
  const ours = <T extends { traceId: string }>(items: T[]) => items.filter((item) => traceIds.has(item.traceId));

  /* What the collector sent to Relay: its file exporter writes each batch that its otlp_http/sentry exporter sends. */
  const sent = (): { spans: ReceivedSpan[]; logs: ReceivedLog[]; lines: string[] } => {
    const lines = (existsSync(sentFile) ? readFileSync(sentFile, 'utf8').split('\n') : []).filter(isWholeLine);
    const decoded = lines.map(decodeJsonLine);
    return { spans: ours(decoded.flatMap((d) => d.spans)), logs: ours(decoded.flatMap((d) => d.logs)), lines };
  };
  // A log record has no id: its trace, span and body stand for it (Relay's times are rounded: relay-items.mts).
  const logKey = (log: { traceId: string; spanId: string; body: unknown }) => `log ${log.traceId} ${log.spanId} ${String(log.body)}`;
  const spanKey = (span: { spanId: string }) => `span ${span.spanId}`;
  /* What the collector sent that Relay has not forwarded (yet), counting repeats. */
  const unforwarded = (): string[] => {
    const { spans, logs } = sent();
    const forwarded = [...ours(relay.spans).map(spanKey), ...ours(relay.logs).map(logKey)];
    const left = [...spans.map(spanKey), ...logs.map(logKey)];
    for (const key of forwarded) {
      const index = left.indexOf(key);
      if (index !== -1) left.splice(index, 1);
    }
    return left;
  };

  before(async () => {
    relay = await RelayIngest.start();
    folder = mkdtempSync(join(tmpdir(), 'relay-test-'));
    sentFile = join(folder, 'sent.jsonl');
    collector = await Collector.start({ ...relay.collectorEnv(), COLLECTOR_EXPORTERS: '[debug, otlp_http/sentry, file]', COLLECTOR_FILE_PATH: sentFile });
    const common = { OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint, SENTRY_DSN: relay.dsn, ...FAST_EXPORT };
    users = await Service.start({ ...common, OTEL_SERVICE_NAME: 'users' });
    gateway = await Service.start({ ...common, OTEL_SERVICE_NAME: 'gateway', DOWNSTREAM_URL: users.url });

    for (const [name, request] of Object.entries(requests)) {
      const service = name === 'chain' ? gateway : users;
      const response = await service.get(request.path, { traceparent: request.traceparent });
      assert.equal(response.status, name === 'error' ? 500 : 200, request.path);
    }
    // The collector has sent a trace once its root (the span the request's traceparent is parent of) is out.
    await waitFor(() => {
      const { spans } = sent();
      return Object.values(requests).every((r) => spans.some((s) => s.parentSpanId === r.parentId)) || undefined;
    }, 'the collector to send the root span of every request', 20_000);
    await relay.waitFor(() => (unforwarded().length === 0 ? true : undefined), 'every span and log record the collector sent').catch((error: Error) => {
      throw new Error(`${error.message}; not forwarded:\n${unforwarded().join('\n')}\nRelay said:\n${relay.output.slice(-3000)}`);
    });
    await relay.settle();
  });
  after(async () => {
    await gateway?.stop();
    await users?.stop();
    await collector?.stop();
    await relay?.close();
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  it('forwards every span and log record the collector sent for /users/123, /work, /error and /chain/123, and discards nothing', () => {
    const { spans, logs } = sent();
    for (const request of Object.values(requests)) assert.ok(spans.some((span) => span.traceId === request.traceId), `spans of ${request.path} were sent`);
    assert.ok(new Set(spans.map((span) => span.resource['service.name'])).size === 2, 'from both services');
    assert.ok(logs.length > 0, 'log records were sent');

    assert.deepEqual(ours(relay.spans).map((span) => span.spanId).sort(), spans.map((span) => span.spanId).sort());
    assert.deepEqual(ours(relay.logs).map(logKey).sort(), logs.map(logKey).sort());
    assert.deepEqual(relay.discards, [], 'no outcome other than accepted');
    assert.deepEqual(relay.upstream.unexpected, [], 'Relay asked its upstream nothing it does not serve');
    const complaints = relay.output.split('\n').filter((line) => / (ERROR|WARN) /.test(line));
    assert.deepEqual(complaints, [], 'Relay logged no warning or error');
  });

  it('converts them as the stand-in does: the same fields and attributes', async () => {
    const standIn = await SentryIngest.start();
    try {
      for (const line of sent().lines) {
        const signal = line.startsWith('{"resourceSpans"') ? 'traces' : 'logs';
        assert.equal((await postOtlpJson(standIn, signal, JSON.parse(line) as object)).status, 200);
      }
      assert.deepEqual(standIn.discarded, []);
      const found = differences({ spans: ours(standIn.spans), logs: ours(standIn.logs) }, { spans: ours(relay.spans), logs: ours(relay.logs) }, traceIds);
      assert.deepEqual(found, [], `the stand-in and Relay disagree:\n${found.join('\n')}`);
    } finally {
      await standIn.close();
    }
  });

  it("keeps somework's events and exceptions, log records of their span: three events on every middleWork, an exception on every errorWork", () => {
    const spans = ours(relay.spans);
    const middles = spans.filter((span) => span.name === 'middleWork');
    const failed = spans.filter((span) => span.name === 'errorWork');
    assert.equal(middles.length, 3, '/users/123, /work and the users service behind /chain/123');
    assert.equal(failed.length, 3);
    const eventsOn = (spanId: string) => ours(relay.logs).filter((log) => log.spanId === spanId && log.attributes['event.name'] !== undefined);
    for (const span of middles) {
      assert.deepEqual(eventsOn(span.spanId).map((log) => log.attributes['event.name']), ['started sleep', 'completed sleep', 'recovered from error'], `the events of middleWork ${span.spanId}`);
    }
    for (const span of failed) {
      const [exception, ...more] = eventsOn(span.spanId);
      assert.deepEqual(more, []);
      assert.equal(exception?.attributes['event.name'], 'exception');
      assert.equal(exception.body, 'SomeworkError: errorWork failed on purpose');
      assert.equal(exception.level, 'warn');
      assert.match(String(exception.attributes['exception.stacktrace']), /at errorWork/);
    }
    assert.deepEqual(sent().spans.filter((span) => span.events.length > 0), [], 'no span events: nothing for Relay to drop');
  });

  it('drops span events (as instrumentations still write them), and reports no outcome for them', async () => {
    const traceId = randomBytes(16).toString('hex');
    const now = nanos();
    const event = { timeUnixNano: now, name: 'exception', attributes: keyValues({ 'exception.type': 'Error', 'exception.message': 'recorded as a span event' }) };
    await postOtlpJson(relay, 'traces', tracesRequest([{ traceId, spanId: traceId.slice(0, 16), name: 'with an event', kind: 3, startTimeUnixNano: now, endTimeUnixNano: now, events: [event] }]));
    await relay.settle();
    const forwarded = relay.itemsOf('span').flatMap((item) => (item.payload as { items: Array<Record<string, unknown>> }).items);
    const kept = forwarded.find((raw) => raw.trace_id === traceId);
    assert.ok(kept, 'the span was forwarded');
    assert.equal(kept.events, undefined, 'without its event');
    assert.doesNotMatch(JSON.stringify(kept), /recorded as a span event/);
    assert.deepEqual(relay.discards, []);
  });

  const eventsOf = (traceId: string) => relay.itemsOf('event').filter((item) => (item.payload as ErrorEvent).contexts?.trace?.trace_id === traceId);

  it("forwards the service's error event of /error, in the trace of its spans, and none for the others", async (t) => {
    const [item] = await relay.waitFor(() => (eventsOf(requests.error.traceId).length > 0 ? eventsOf(requests.error.traceId) : undefined), 'the error event of /error');
    const event = item!.payload as ErrorEvent;
    assert.equal(event.exception?.values?.[0]?.type, 'Error');
    assert.equal(event.exception?.values?.[0]?.value, 'this endpoint fails on purpose');
    const server = relay.trace(requests.error.traceId).find((span) => span.kind === 'server');
    assert.equal(event.contexts?.trace?.span_id, server?.spanId, 'linked to the server span');
    for (const request of [requests.user, requests.work, requests.chain]) assert.deepEqual(eventsOf(request.traceId), [], `no event for ${request.path}`);
    t.diagnostic(`what Relay marked in the event (_meta): ${metaRemarks(event).join('; ') || 'nothing'}`);
  });

  it("the service's error events name their SDK and carry the trace header (dynamic sampling context)", async () => {
    const item = await relay.waitFor(() => eventsOf(requests.error.traceId)[0], 'the error event of /error');
    const event = item.payload as ErrorEvent;
    assert.ok(event.sdk?.name && event.sdk.version, `sdk.name and sdk.version, got ${JSON.stringify(event.sdk)}`);
    assert.deepEqual(metaRemarks(event).filter((line) => line.startsWith('sdk.')), []);
    assert.equal((item.envelopeHeaders.trace as { trace_id?: string } | undefined)?.trace_id, requests.error.traceId);
  });

  it("scrubs with a new project's data scrubbing: secret-like names and card numbers filtered, an e-mail address kept", async () => {
    const traceId = randomBytes(16).toString('hex');
    const attributes = keyValues({ password: 'hunter2', 'http.request.header.authorization': 'Bearer abc', card: '4111 1111 1111 1111', 'user.email': 'jane@example.com', 'user.id': '42' });
    const now = nanos();
    await postOtlpJson(relay, 'traces', tracesRequest([{ traceId, spanId: traceId.slice(0, 16), name: 'scrubbed', kind: 1, startTimeUnixNano: now, endTimeUnixNano: now, attributes }]));
    const [span] = await relay.waitFor(() => (relay.trace(traceId).length > 0 ? relay.trace(traceId) : undefined), 'the span to scrub');
    const kept = Object.fromEntries(['password', 'http.request.header.authorization', 'card', 'user.email', 'user.id'].map((key) => [key, span!.attributes[key]]));
    assert.deepEqual(kept, { password: '[Filtered]', 'http.request.header.authorization': '[Filtered]', card: '[Filtered]', 'user.email': 'jane@example.com', 'user.id': '42' });
  });

  it('control: a log record without a body, sent straight to Relay, comes out as an invalid outcome and is not forwarded', async () => {
    const traceId = randomBytes(16).toString('hex');
    const before = relay.discards.length;
    const response = await postOtlpJson(relay, 'logs', logsRequest([{ timeUnixNano: nanos(), traceId, severityNumber: 17 }]));
    assert.equal(response.status, 200, 'Relay accepts the request before it looks inside');
    await relay.settle();
    assert.deepEqual(
      relay.discards.slice(before).filter((outcome) => outcome.category === 'log_item'),
      [{ outcome: 'invalid', reason: 'no_data', category: 'log_item', quantity: 1 }],
    );
    assert.deepEqual(relay.logs.filter((log) => log.traceId === traceId), []);
  });

  it('takes a batch of 1,024 spans of 16 KB (16 MiB, past its 12 MiB) from the collector, in pieces: every span forwarded', async () => {
    // collector/config.yaml splits each request to Sentry to at most 8 MiB (test/collector.test.mts: the stand-in).
    const discardsBefore = relay.discards.length;
    const traceId = await exportTraceOf16MiB(collector.endpoint);
    await relay.waitFor(() => (relay.trace(traceId).length === 1024 ? true : undefined), 'the 1,024 spans, forwarded', 60_000).catch((error: Error) => {
      const refused = collector.output.split('\n').filter((line) => /\b413\b/.test(line));
      throw new Error(`${error.message}: ${relay.trace(traceId).length} forwarded; the collector's 413s:\n${refused.join('\n')}`);
    });
    await relay.settle();
    assert.deepEqual(relay.discards.slice(discardsBefore), [], 'nothing discarded');
  });
});

/* The file exporter may be writing the last line as it is read. */
function isWholeLine(line: string): boolean {
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
}

interface ErrorEvent {
  exception?: { values?: Array<{ type?: string; value?: string }> };
  contexts?: { trace?: { trace_id?: string; span_id?: string } };
  sdk?: { name?: string | null; version?: string | null };
  _meta?: object;
}

describeNeeding(relayMissing(), 'an organization without Sentry Logs (no organizations:ourlogs-ingestion)', () => {
  it('Relay refuses every logs request with 403 FeatureDisabled: the collector logs the permanent error, spans still arrive', async () => {
    const relay = await RelayIngest.start({ features: [] });
    const collector = await Collector.start(relay.collectorEnv());
    const service = await Service.start({ OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint, ...FAST_EXPORT });
    try {
      const { traceparent, traceId } = newTraceparent();
      assert.equal((await service.get('/users/123', { traceparent })).status, 200);
      await relay.waitFor(() => (relay.trace(traceId).length >= 4 ? true : undefined), 'the spans of /users/123', 30_000);
      // What the troubleshooting row in README.md tells a user to look for. Relay knows the
      // project's features once it has its config: the first logs may be taken, and
      // dropped later; from then on every logs request is refused at once.
      const refusal = await waitFor(
        async () => {
          await service.get('/users/123'); // it writes log records
          return collector.output.split('\n').find((line) => /\b403\b/.test(line));
        },
        'the collector to log a 403 on logs',
        30_000,
      ).catch((error: Error) => assert.fail(`${error.message}\n${collector.output.slice(-2000)}\n--- relay\n${relay.output.slice(-2000)}`));
      assert.match(refusal, /"otelcol\.signal": "logs"/, 'on the logs signal');
      assert.match(refusal, /[Pp]ermanent/, `dropped, not retried: ${refusal}`);
      assert.match(refusal, /FeatureDisabled\(OurLogsIngestion\)/, "Relay's reason, as the collector logs it");
      assert.deepEqual(relay.logs.filter((log) => log.traceId === traceId), []);
      await relay.settle(undefined, ['traces']); // its outcomes, reported a second or more later
      // Those Relay took before it knew the project's features, it dropped as invalid: feature_disabled.
      assert.ok(relay.discards.every((outcome) => outcome.reason === 'feature_disabled' && outcome.category.startsWith('log')), JSON.stringify(relay.discards));
    } finally {
      await service.stop();
      await collector.stop();
      await relay.close();
    }
  });
});
