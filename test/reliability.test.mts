/*
 * Reliability: what the service does when the collector is away, dies,
 * refuses, or when the service itself is stopped under load, and what it does
 * with hostile input. Every load here is a bounded loop (count and time) on
 * loopback. The collector is the real binary where its behaviour matters;
 * the OTLP stand-in (OtlpReceiver) where the test must know every span or
 * make the receiver refuse.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { describe, it } from 'node:test';
import { COLLECTOR_CONFIG, Collector } from '../harness/collector.mts';
import { LOG_RECORD_REPORTS, SPAN_REPORTS, lostIn } from '../harness/export-reports.mts';
import { closedLoop } from '../harness/load.mts';
import { freePort } from '../harness/loopback.mts';
import { rssMiB } from '../harness/stats.mts';
import { SPAN_KIND, type ReceivedSpan } from '../harness/otlp.mts';
import { OtlpReceiver } from '../harness/otlp-receiver.mts';
import { FAST_EXPORT, startPipeline } from '../harness/pipeline.mts';
import { SentryIngest } from '../harness/sentry-ingest.mts';
import { Service, type LogLine } from '../harness/service.mts';
import { newTraceparent } from '../harness/traces.mts';
import { waitFor } from '../harness/wait.mts';

const PATHS = ['/users/42', '/users/123'];
const SPANS_OF: Record<string, string[]> = {
  '/users/42': ['GET /users/:id', 'getUser'],
  '/users/123': ['GET /users/:id', 'getUser', 'middleWork', 'errorWork'],
};
/** OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT's default in src/config.ts. */
const ATTRIBUTE_LIMIT = 4096;
// What one /users/123 writes as log records (src/users.ts, src/somework.ts): 3 log lines, 3 events, 1 exception.
const LOG_RECORDS_OF_USERS_123 = 7;

// The lines src/export-monitor.ts writes; the counts on them add up to every span lost.
const { failing, loss: dropReport, recovered } = SPAN_REPORTS;

/** Every span and log record of these /users/123 traces is at the Sentry stand-in. */
const arrivedWhole = (sentry: SentryIngest, traces: string[]) =>
  traces.every((id) => sentry.trace(id).length === SPANS_OF['/users/123']!.length && sentry.logs.filter((log) => log.traceId === id).length === LOG_RECORDS_OF_USERS_123);

/** Each request carries its own traceparent, so its spans can be found. */
const traced = (_i: number) => {
  const { traceparent, traceId } = newTraceparent();
  return { headers: { traceparent }, traceId };
};

describe('the collector away, dying, refusing', { timeout: 120_000 }, () => {
  it('serves while the collector is absent, and delivers the spans of requests made after it starts on that port', async () => {
    const port = await freePort();
    const service = await Service.start({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, ...FAST_EXPORT });
    let sentry: SentryIngest | undefined;
    let collector: Collector | undefined;
    try {
      for (let i = 0; i < 20; i += 1) assert.equal((await service.get(`/users/${i}`)).status, 200);
      await waitFor(() => service.logs.find(failing), 'the export failure to be reported');

      sentry = await SentryIngest.start();
      collector = await Collector.start(sentry.collectorEnv(), { grpc: port });
      const ingest = sentry;
      // The exporter reconnects with backoff: keep sending (a bounded number of) traced requests until one arrives whole.
      const sent: string[] = [];
      await waitFor(
        async () => {
          sent.push(...(await service.getInNewTraces('/users/123', 1)));
          return sent.find((id) => ingest.trace(id).length >= 4);
        },
        'a trace sent after the collector started to arrive at the Sentry stand-in',
        30_000,
      );
      await waitFor(() => service.logs.find(recovered), 'the service to say export recovered');

      // From now on every request's spans arrive.
      const [after] = await service.getInNewTraces('/users/42', 1);
      await ingest.waitFor(() => (ingest.trace(after!).length === 2 ? true : undefined), 'the spans of a request made after recovery');
      assert.equal(service.logs.filter(failing).length, 1, 'the outage was reported once');
      assert.equal(service.process.exitCode, null);
      assert.equal(await service.stop(), 0);
    } finally {
      await service.stop();
      await collector?.stop();
      await sentry?.close();
    }
  });

  it('keeps answering every request, with bounded memory, when the collector is killed under load, and reports the drops', async () => {
    // startPipeline cleans up what it started if a part fails to start.
    const pipeline = await startPipeline();
    const { collector, service } = pipeline;
    const load = (durationMs: number) =>
      closedLoop({ baseUrl: service.url, pools: [{ paths: PATHS, connections: 16, requests: 40_000 }], durationMs, headers: traced });
    try {
      await load(1_000); // warm-up
      const before = await load(3_000);
      const rssBefore = rssMiB(service.process.pid!);

      collector.process.kill('SIGKILL');
      await once(collector.process, 'exit');
      const during = await load(4_000);
      const rssAfter = rssMiB(service.process.pid!);

      assert.equal(service.process.exitCode, null, 'the service is still running');
      for (const run of [before, during]) {
        assert.equal(run.failures, 0, `no request failed: ${run.failureMessages.join('; ')}`);
        assert.deepEqual([...new Set(run.answers.map((a) => a.status))], [200]);
      }
      // Its latency and throughput without the collector: the bench's `down` variant (docs/performance.md).
      assert.ok(rssAfter - rssBefore <= 50, `RSS grew by ${(rssAfter - rssBefore).toFixed(1)} MiB (at most 50)`);

      // Reported once (not once per failed batch), outside any request's trace; the batch is retried meanwhile.
      const lines = service.logs.filter(failing);
      assert.equal(lines.length, 1, `one "export is failing" line, got ${lines.length}`);
      assert.equal(lines[0]!.retrying, true, 'UNAVAILABLE is retried');
      assert.equal(lines[0]!.trace_id, undefined);

      // Every span ended after the kill is lost; by the end of the run the service must have said so.
      const spansAfterKill = during.answers.reduce((sum, a) => sum + SPANS_OF[a.path]!.length, 0);
      assert.equal(await service.stop(), 0);
      const reported = service.logs.filter((l) => failing(l) || dropReport(l)).reduce((sum, l) => sum + lostIn(l), 0);
      assert.ok(
        reported >= spansAfterKill,
        `the spans lost are reported, not dropped silently: ${spansAfterKill} spans ended after the collector died, ` +
          `the service reported ${reported} lost (${service.logs.filter(dropReport).length} "spans dropped" lines; the last report is due at shutdown)`,
      );
    } finally {
      await pipeline.stop();
    }
  });

  it("keeps serving while the real collector's memory_limiter refuses, retries, and delivers once it accepts again", async () => {
    // The shipped config, with memory_limiter's limit below what the collector itself uses (limit_mib
    // "takes precedence over the percentage"): it refuses everything, as it does when a pod nears its
    // memory limit. The receiver answers UNAVAILABLE ("data refused due to high memory usage"), a
    // retryable refusal (otlpreceiver/internal/errors, GetStatusFromError; the memory_limiter README:
    // "When receivers see this error they are expected to retry sending the same data").
    const refuseAll = 'yaml:processors::memory_limiter: {check_interval: 100ms, limit_mib: 2, spike_limit_mib: 1}';
    const sentry = await SentryIngest.start();
    const grpcPort = await freePort();
    let collector = await Collector.start(sentry.collectorEnv(), { grpc: grpcPort, configs: [COLLECTOR_CONFIG, refuseAll] });
    const service = await Service.start({ OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint, ...FAST_EXPORT });
    try {
      const traces = await service.getInNewTraces('/users/123', 10);
      const [line] = await waitFor(() => (service.logs.some(failing) ? service.logs.filter(failing) : undefined), 'the refusal to be reported');
      assert.match(String(line!.error), /UNAVAILABLE: data refused due to high memory usage/);
      assert.equal(line!.retrying, true, 'UNAVAILABLE is retried');

      const refusing = await closedLoop({ baseUrl: service.url, pools: [{ paths: PATHS, connections: 16, requests: 10_000 }], durationMs: 2_000 });
      assert.equal(refusing.failures, 0, refusing.failureMessages.join('; '));
      assert.deepEqual([...new Set(refusing.answers.map((a) => a.status))], [200]);
      assert.equal(service.process.exitCode, null);

      // Its memory back under the limit (here: the limit as shipped), on the same port.
      await collector.stop();
      collector = await Collector.start(sentry.collectorEnv(), { grpc: grpcPort });
      await sentry.waitFor(
        () => arrivedWhole(sentry, traces) || undefined,
        'every span and log record of the requests made before the load, retried until the collector accepted them',
        30_000,
      );
      await waitFor(() => service.logs.find(recovered), 'the recovery to be reported');
      assert.equal(service.logs.filter(failing).length, 1, 'the refusal was reported once');
      assert.equal(await service.stop(), 0);
    } finally {
      await service.stop();
      await collector.stop();
      await sentry.close();
    }
  });

  it('keeps answering every request, with bounded memory, when the collector refuses data without retry information (RESOURCE_EXHAUSTED)', async () => {
    // The stand-in answers as a gRPC server does to a message over its size limit (grpc-go:
    // "received message larger than max", RESOURCE_EXHAUSTED), which the OTLP specification
    // says not to retry unless the answer carries RetryInfo.
    const receiver = await OtlpReceiver.start();
    const service = await Service.start({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, ...FAST_EXPORT });
    const load = (durationMs: number) => closedLoop({ baseUrl: service.url, pools: [{ paths: PATHS, connections: 16, requests: 40_000 }], durationMs });
    try {
      await load(1_000);
      const accepting = await load(3_000);
      const rssBefore = rssMiB(service.process.pid!);
      receiver.failWith = grpc.status.RESOURCE_EXHAUSTED;
      const refusing = await load(3_000);
      const rssAfter = rssMiB(service.process.pid!);

      assert.ok(receiver.refused > 0, 'the receiver refused exports');
      assert.equal(service.process.exitCode, null);
      for (const run of [accepting, refusing]) {
        assert.equal(run.failures, 0, run.failureMessages.join('; '));
        assert.deepEqual([...new Set(run.answers.map((a) => a.status))], [200]);
      }
      assert.ok(rssAfter - rssBefore <= 50, `RSS grew by ${(rssAfter - rssBefore).toFixed(1)} MiB`);
      const lines = await waitFor(() => (service.logs.some(failing) ? service.logs.filter(failing) : undefined), 'the refusal to be reported');
      assert.equal(lines.length, 1);
      assert.match(String(lines[0]!.error), /RESOURCE_EXHAUSTED|^8 /);
      assert.equal(lines[0]!.retrying, false, 'a refusal without retry information is not retried (OTLP specification)');

      // Accepting again: export recovers and spans arrive.
      receiver.failWith = undefined;
      const [traceId] = await service.getInNewTraces('/users/42', 1);
      await receiver.waitForSpans(() => receiver.trace(traceId!).length === 2, 'spans after the receiver accepts again');
      await waitFor(() => service.logs.find(recovered), 'the recovery to be reported');
    } finally {
      await service.stop();
      await receiver.close();
    }
  });
});

describe('a collector that starts late', { timeout: 120_000 }, () => {
  it('loses nothing: every span and log record written before it started arrives once it does, 20 s later', async () => {
    const grpcPort = await freePort();
    const service = await Service.start({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${grpcPort}`, ...FAST_EXPORT });
    const sentry = await SentryIngest.start();
    let collector: Collector | undefined;
    try {
      const started = Date.now();
      const traces = await service.getInNewTraces('/users/123', 10);
      await waitFor(() => service.logs.find(failing), 'the failing export to be reported');
      // The scenario itself, not a guess at timing: the collector comes 20 s after the service.
      await sleep(20_000 - (Date.now() - started));
      collector = await Collector.start(sentry.collectorEnv(), { grpc: grpcPort });

      await sentry.waitFor(() => arrivedWhole(sentry, traces) || undefined, 'every span and log record of the 10 requests', 30_000);
      assert.ok(sentry.logs.some((log) => log.body === 'listening'), 'the first record of all, written at start');
      assert.deepEqual(service.logs.filter(dropReport).concat(service.logs.filter(LOG_RECORD_REPORTS.loss)), [], 'nothing dropped');
      for (const what of ['span', 'log record']) {
        const recovered = service.logs.find((line) => line.msg === `${what} export recovered`);
        assert.ok(recovered, `${what} export recovered`);
        assert.equal(recovered.lost, 0, `no ${what} lost`);
      }
      assert.equal(await service.stop(), 0);
    } finally {
      await service.stop();
      await collector?.stop();
      await sentry.close();
    }
  });
});

describe('an idle service with no collector', { timeout: 120_000 }, () => {
  it('reports the failing export once, and its reports never become losses of their own', async () => {
    // A collector that refuses every export and keeps what it refused. Retries end after 5 s,
    // so the one record the service wrote ("listening") is really lost, and reported. The
    // "export is failing" report is written at the first failed attempt, about 1 s in; were
    // it a log record, it would be in one of the refused exports long before the loss of
    // "listening" is reported, and reported lost in its turn.
    const receiver = await OtlpReceiver.start();
    receiver.failWith = grpc.status.UNAVAILABLE;
    const service = await Service.start({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_BLRP_EXPORT_TIMEOUT: '5000',
      OTEL_EXPORTER_OTLP_TIMEOUT: '1000', // attempts of up to 1 s: room for retries within the 5 s
      EXPORT_REPORT_INTERVAL_MS: '1000',
    });
    try {
      await waitFor(() => service.logs.find((line) => line.msg === 'log records dropped since the last report'), 'the loss of "listening" to be reported', 30_000);
      const reports = service.logs.filter((line) => line.level !== 'info' || /export/.test(line.msg));
      assert.deepEqual(
        reports.map((line) => [line.msg.split(';')[0], line.lost]),
        [
          ['log record export is failing', undefined],
          ['log records dropped since the last report', 1],
        ],
        'the failure, then the loss of "listening"',
      );
      assert.deepEqual(reports[1]!.by_reason, { 'export failed': 1 });
      assert.ok(receiver.refusedLogs.length > 1, 'the record was retried');
      assert.deepEqual([...new Set(receiver.refusedLogs.map((log) => log.body))], ['listening'], 'no report was ever exported');
      assert.equal(await service.stop(), 0);
    } finally {
      await service.stop();
      await receiver.close();
    }
  });
});

describe('log records dropped while the service runs', { timeout: 60_000 }, () => {
  it('are reported as they happen, even with OTEL_LOG_LEVEL=none, and every record is accounted for', async () => {
    const receiver = await OtlpReceiver.start();
    receiver.answerDelayMs = 500;
    const service = await Service.start({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_LOG_LEVEL: 'none',
      OTEL_BLRP_MAX_QUEUE_SIZE: '20',
      OTEL_BLRP_MAX_EXPORT_BATCH_SIZE: '10',
      OTEL_BLRP_SCHEDULE_DELAY: '10',
    });
    const logQueueFull = (line: LogLine) => /^log record queue full/.test(line.msg);
    try {
      const requests = 60;
      for (let i = 0; i < requests; i += 1) {
        assert.equal((await service.get('/users/123')).status, 200);
        await sleep(10);
      }
      await waitFor(() => service.logs.find(logQueueFull), 'the full log queue to be reported while the service runs');
      assert.equal(await service.stop(), 0);
      const lost = service.logs
        .filter((line) => logQueueFull(line) || /^log records dropped since the last report/.test(line.msg))
        .reduce((sum, line) => sum + lostIn(line), 0);
      assert.ok(lost > 0);
      // Each request's records, plus "listening" and "shutting down"; the reports themselves are never exported.
      assert.equal(receiver.logs.length + lost, requests * LOG_RECORDS_OF_USERS_123 + 2, `${receiver.logs.length} arrived, ${lost} reported lost`);
      assert.ok(receiver.logs.every((log) => !/dropped|queue full|export/.test(String(log.body))), 'no report was exported');
    } finally {
      await service.stop('SIGKILL');
      await receiver.close();
    }
  });
});

describe('a collector slower than the service', { timeout: 60_000 }, () => {
  it('drops what the queue cannot hold, says so once as it happens, and accounts for every span, with OTEL_LOG_LEVEL=none', async () => {
    const receiver = await OtlpReceiver.start();
    receiver.answerDelayMs = 500;
    const service = await Service.start({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_LOGS_EXPORTER: 'none',
      // The SDK says nothing at all: the drops are still counted, from the processor's own metrics.
      OTEL_LOG_LEVEL: 'none',
      OTEL_BSP_MAX_QUEUE_SIZE: '20',
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '10',
      OTEL_BSP_SCHEDULE_DELAY: '10',
    });
    try {
      const requests = 150;
      // Spread over about 2 s, so several slow exports complete while the queue keeps overflowing.
      for (let i = 0; i < requests; i += 1) {
        assert.equal((await service.get(`/users/u${i}`)).status, 200);
        await sleep(10);
      }
      await waitFor(() => service.logs.find((line) => /^span queue full/.test(line.msg)), 'the full queue to be reported while the service runs');
      assert.equal(await service.stop(), 0);

      const queueFull = service.logs.filter((line) => /^span queue full/.test(line.msg));
      assert.equal(queueFull.length, 1, 'said once, not once per burst');
      const reportedLost = service.logs.filter(dropReport).reduce((sum, line) => sum + lostIn(line), 0);
      assert.ok(reportedLost > 0, 'spans were lost, and said to be');
      const summary = service.logs.find((line) => /^spans dropped since the last report/.test(line.msg));
      assert.ok(summary, 'the shutdown summary');
      assert.ok(Number((summary.by_reason as Record<string, number>)['queue full']) > 0, 'with its reason');
      // Two spans per request: what arrived plus what was reported lost is everything.
      assert.equal(receiver.spans.length + reportedLost, requests * 2);
    } finally {
      await service.stop('SIGKILL');
      await receiver.close();
    }
  });
});

describe('SIGTERM under load', { timeout: 60_000 }, () => {
  it('delivers every span of every request that got an answer, and exits 0', async () => {
    const receiver = await OtlpReceiver.start();
    // The default schedule delay: spans still queued at SIGTERM must be flushed by the shutdown.
    const service = await Service.start({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint });
    try {
      const running = closedLoop({
        baseUrl: service.url,
        pools: [{ paths: PATHS, connections: 16, requests: 40_000 }],
        durationMs: 8_000,
        headers: traced,
        stop: () => service.process.exitCode !== null,
      });
      await sleep(1_500);
      const exited = service.stop('SIGTERM');
      const run = await running;
      assert.equal(await exited, 0, 'exit 0 within the grace period');

      const answered = run.answers.filter((a) => a.status === 200);
      assert.ok(answered.length > 100, `requests were answered under load (${answered.length})`);
      const byTrace = new Map<string, ReceivedSpan[]>();
      for (const span of receiver.spans) byTrace.set(span.traceId, [...(byTrace.get(span.traceId) ?? []), span]);
      const incomplete = answered.filter((a) => {
        const names = (byTrace.get(a.traceId!) ?? []).map((s) => s.name).sort();
        return names.join() !== [...SPANS_OF[a.path]!].sort().join();
      });
      assert.equal(
        incomplete.length,
        0,
        `${incomplete.length} of ${answered.length} answered requests lack spans, e.g. ${incomplete
          .slice(0, 3)
          .map((a) => `${a.path}: [${(byTrace.get(a.traceId!) ?? []).map((s) => s.name).join(', ')}]`)
          .join('; ')}`,
      );
      assert.ok(service.logs.some((l) => l.msg === 'stopped'));
    } finally {
      await service.stop('SIGKILL');
      await receiver.close();
    }
  });
});

/** One GET exactly as given (no URL normalisation, any header), on its own connection. */
function rawGet(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false, insecureHTTPParser: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path.slice(0, 60)} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

describe('hostile input', { timeout: 90_000 }, () => {
  it('answers each with a clear 4xx or ignores it as the specs say, never crashes, and keeps every attribute within the length limit', async () => {
    const receiver = await OtlpReceiver.start();
    // The limit the Deployments set (k8s/base/app); the specification's default is none.
    const service = await Service.start({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, ...FAST_EXPORT, OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '4096' });
    try {
      const valid = newTraceparent();
      const long = (n: number, c = 'a') => c.repeat(n);
      // [what, path, headers, expected status]
      const cases: Array<[string, string, Record<string, string>, number]> = [
        ['garbage traceparent', '/users/tp-garbage', { traceparent: 'not-a-traceparent' }, 200],
        ['non-hex trace id', '/users/tp-nonhex', { traceparent: `00-${long(32, 'z')}-${long(16, '1')}-01` }, 200],
        ['all-zero trace id', '/users/tp-zero', { traceparent: `00-${long(32, '0')}-${long(16, '1')}-01` }, 200],
        ['all-zero parent id', '/users/tp-zeroparent', { traceparent: `00-${long(32, 'a')}-${long(16, '0')}-01` }, 200],
        ['version ff', '/users/tp-ff', { traceparent: `ff-${long(32, 'a')}-${long(16, '1')}-01` }, 200],
        ['version 00 with extra fields', '/users/tp-extra', { traceparent: `00-${long(32, 'b')}-${long(16, '1')}-01-extra` }, 200],
        ['an 8 KB traceparent', '/users/tp-huge', { traceparent: long(8_000, 'f') }, 200],
        ['a 10 KB tracestate', '/users/ts-huge', { traceparent: valid.traceparent, tracestate: `k=${long(10_000, 'v')}` }, 200],
        ['a tracestate of 100 members', '/users/ts-many', { traceparent: valid.traceparent, tracestate: Array.from({ length: 100 }, (_, i) => `k${i}=v${i}`).join(',') }, 200],
        ['a malformed tracestate', '/users/ts-bad', { traceparent: valid.traceparent, tracestate: '===,,,;;; k=v=v, =x' }, 200],
        ['a 10 KB baggage', '/users/bg-huge', { baggage: `k=${long(10_000, 'v')}` }, 200],
        ['a baggage of 500 entries', '/users/bg-many', { baggage: Array.from({ length: 500 }, (_, i) => `k${i}=v${i}`).join(',') }, 200],
        ['a malformed baggage', '/users/bg-bad', { baggage: 'k==;;;=,%%%,=v' }, 200],
        ['an id of 65 characters', `/users/${long(65)}`, {}, 400],
        ['an id of 6,000 characters', `/users/${long(6_000)}`, {}, 400],
        ['an emoji id', '/users/%F0%9F%98%80', {}, 400],
        ['a right-to-left override in the id', '/users/ab%E2%80%AEcd', {}, 400],
        ['malformed percent-encoding', '/users/%E0%A4%A', {}, 400],
        ['encoded path traversal in the id', '/users/..%2F..%2Fetc%2Fpasswd', {}, 400],
        ['encoded dots as the id', '/users/%2e%2e', {}, 400],
        ['raw path traversal', '/users/../../etc/passwd', {}, 404],
        ['encoded traversal at the root', '/..%2F..%2Fetc%2Fpasswd', {}, 404],
        ['a 7 KB query string', `/users/42?q=${long(7_000, 'q')}`, {}, 200],
        ['a 7 KB user agent', '/users/ua-huge', { 'user-agent': long(7_000, 'u') }, 200],
        ['headers over 16 KB', '/users/42', { 'x-filler': long(20_000, 'x') }, 431],
        ['a request line over 16 KB', `/users/${long(20_000)}`, {}, 431],
      ];
      for (const [what, path, headers, expected] of cases) {
        const { status, body } = await rawGet(service.port, path, headers);
        assert.equal(status, expected, `${what}: answered ${status}, expected ${expected}`);
        assert.doesNotMatch(body, /root:|\/bin\/(ba)?sh/, `${what}: no file content in the answer`);
        if (expected !== 431) assert.doesNotThrow(() => JSON.parse(body), `${what}: a JSON answer, got ${body.slice(0, 100)}`);
      }
      assert.equal(service.process.exitCode, null, 'still running after every case');
      assert.equal((await service.get('/users/42')).status, 200);

      // The spans: each case that reached the app has a server span; invalid trace context starts a new trace.
      const spanOf = (path: string) => receiver.spans.find((s) => s.kind === SPAN_KIND.SERVER && s.attributes['url.path'] === path);
      await receiver.waitForSpans(() => ['/users/tp-garbage', '/users/ua-huge', '/users/bg-bad'].every((path) => spanOf(path)), 'the server spans of the cases');
      for (const path of ['/users/tp-garbage', '/users/tp-nonhex', '/users/tp-zero', '/users/tp-zeroparent', '/users/tp-ff', '/users/tp-extra', '/users/tp-huge']) {
        const span = spanOf(path);
        assert.ok(span, `a span for ${path}`);
        assert.equal(span.parentSpanId, '', `${path}: an invalid traceparent is ignored, the request starts its own trace`);
        assert.match(span.traceId, /^[0-9a-f]{32}$/);
        assert.notEqual(span.traceId, long(32, '0'));
      }
      for (const path of ['/users/ts-huge', '/users/ts-many', '/users/ts-bad']) {
        const span = spanOf(path);
        assert.ok(span, `a span for ${path}`);
        assert.equal(span.traceId, valid.traceId, `${path}: the valid traceparent is still honoured`);
        assert.ok(span.traceState.length <= 512, `${path}: tracestate within 512 characters, got ${span.traceState.length}`);
      }

      // No attacker-controlled string becomes an unbounded attribute.
      const { traceparent: probe, traceId: probeId } = newTraceparent();
      // Each value over the limit, the whole request under Node's 16 KB header limit.
      const answer = await rawGet(service.port, `/users/${long(4_200)}?q=${long(4_200, 'q')}`, {
        traceparent: probe,
        'user-agent': long(4_200, 'u'),
        'x-forwarded-for': long(1_000, '1'),
      });
      assert.equal(answer.status, 400);
      await receiver.waitForSpans(() => receiver.trace(probeId).length > 0, 'the span of the long request');
      // Stopping flushes every span, so the check below sees them all.
      assert.equal(await service.stop(), 0);
      const oversized = receiver.spans.flatMap((span) =>
        Object.entries(span.attributes)
          .filter(([, value]) => typeof value === 'string' && value.length > ATTRIBUTE_LIMIT)
          .map(([key, value]) => `${span.name} ${key}: ${(value as string).length} characters`),
      );
      assert.deepEqual(oversized, [], `attributes longer than ${ATTRIBUTE_LIMIT} characters`);
      const longOne = receiver.trace(probeId)[0]!;
      assert.equal((longOne.attributes['url.path'] as string).length, ATTRIBUTE_LIMIT, 'url.path is truncated to the limit');
      assert.ok(receiver.spans.every((s) => s.traceState.length <= 512), 'tracestate stays within the W3C 512-character limit');
      assert.equal(await service.stop(), 0);
    } finally {
      await service.stop();
      await receiver.close();
    }
  });

  it('survives a flood of 404s with bounded memory and span names that do not grow with the paths', async () => {
    const receiver = await OtlpReceiver.start();
    const service = await Service.start({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, ...FAST_EXPORT });
    try {
      await closedLoop({ baseUrl: service.url, pools: [{ paths: ['/nope/warm-up'], connections: 8, requests: 500 }], durationMs: 500 });
      const rssBefore = rssMiB(service.process.pid!);
      const paths = Array.from({ length: 3_000 }, (_, i) => `/nope/${i}/${Math.random().toString(36).slice(2)}`);
      const run = await closedLoop({ baseUrl: service.url, pools: [{ paths, connections: 32, requests: paths.length }], durationMs: 15_000 });
      assert.equal(run.failures, 0, run.failureMessages.join('; '));
      assert.equal(run.answers.length, paths.length);
      assert.deepEqual([...new Set(run.answers.map((a) => a.status))], [404]);
      assert.equal(service.process.exitCode, null);
      assert.ok(rssMiB(service.process.pid!) - rssBefore <= 50, 'RSS grew by at most 50 MiB');

      await receiver.waitForSpans((spans) => spans.filter((s) => String(s.attributes['url.path']).startsWith('/nope/')).length >= paths.length, 'the 404 spans', 20_000);
      const names = new Set(receiver.spans.filter((s) => String(s.attributes['url.path']).startsWith('/nope/')).map((s) => s.name));
      assert.ok(names.size <= 2 && [...names].every((name) => !name.includes('/nope/')), `span names: ${[...names].slice(0, 5).join(', ')}`);
      assert.equal(await service.stop(), 0);
    } finally {
      await service.stop();
      await receiver.close();
    }
  });
});
