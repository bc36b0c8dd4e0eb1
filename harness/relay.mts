import { randomBytes } from 'node:crypto';
import { logsRequest, nanos, postOtlpJson, tracesRequest } from './otlp-json.mts';
import { entriesOf, toSentryLog, toSentrySpan } from './relay-items.mts';
import { RelayProcess } from './relay-process.mts';
import { RelayUpstream, type ForwardedItem, type Outcome } from './relay-upstream.mts';
import type { SentryLog, SentrySpan } from './sentry-conversion.mts';
import { sentryCollectorEnv, type Signal } from './sentry-ingest.mts';
import { waitFor } from './wait.mts';

export { relayMissing } from './relay-process.mts';

/*
 * Sentry's own ingest service, Relay, built from source (relay-process.mts):
 * `mode: managed` against an upstream of ours (relay-upstream.mts), processing
 * off, so it converts, normalizes, scrubs and filters what it receives, then
 * forwards what it keeps as envelopes, and reports what it drops as outcomes.
 *
 * It has the public surface of the stand-in SentryIngest (sentry-ingest.mts),
 * so a test can run against either, plus what only the real Relay shows: the
 * raw forwarded items, the outcomes, and `settle()`.
 */

/* After the last delivery, how long nothing more may arrive before `settle()` calls Relay idle: outcomes
   reach the upstream through the metrics aggregator, flushed after `bucket_interval` (1 s: relay-process.mts). */
const QUIET_MS = 1_500;

/* The stand-in's project and key (sentry-ingest.mts), so a test runs against either unchanged. */
const PROJECT_ID = '4508000000000001';
const PUBLIC_KEY = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';

export class RelayIngest {
  readonly projectId = PROJECT_ID;
  readonly publicKey = PUBLIC_KEY;
  readonly upstream: RelayUpstream;
  readonly process: RelayProcess;
  /** Trace ids of the probes `settle()` sends; they are left out of everything this class shows. */
  private readonly probes = new Set<string>();

  private constructor(upstream: RelayUpstream, process: RelayProcess) {
    this.upstream = upstream;
    this.process = process;
  }

  /** Starts Relay on a free loopback port, with an upstream of ours serving one project. */
  static async start(options: { features?: string[] } = {}): Promise<RelayIngest> {
    const upstream = await RelayUpstream.start({ projectId: Number(PROJECT_ID), publicKey: PUBLIC_KEY, config: projectConfig(options.features) });
    try {
      return new RelayIngest(upstream, await RelayProcess.start(upstream.url, (credentials) => (upstream.relay = credentials)));
    } catch (error) {
      await upstream.close();
      throw error;
    }
  }

  get url(): string {
    return this.process.url;
  }

  /** The project's OTLP endpoint of one signal, as Sentry shows it. */
  endpoint(signal: Signal): string {
    return `${this.url}/api/${this.projectId}/integration/otlp/v1/${signal}`;
  }

  /** The collector environment that points its otlp_http/sentry exporter at this Relay. */
  collectorEnv(key = this.publicKey): Record<string, string> {
    return sentryCollectorEnv(this, key);
  }

  /** The project's DSN, for the service's Sentry SDK (SENTRY_DSN). */
  get dsn(): string {
    return `http://${this.publicKey}@127.0.0.1:${this.process.port}/${this.projectId}`;
  }

  /** Every item Relay forwarded (settle()'s probes left out), with its envelope's headers. */
  get forwarded(): ForwardedItem[] {
    return this.upstream.items.filter((item) => !this.isProbe(item));
  }

  /** The forwarded items of one type: `span`, `log`, `event`, ... */
  itemsOf(type: string): ForwardedItem[] {
    return this.forwarded.filter((item) => item.headers.type === type);
  }

  get spans(): SentrySpan[] {
    return this.itemsOf('span').flatMap((item) => entriesOf<Parameters<typeof toSentrySpan>[0]>(item).map(toSentrySpan));
  }

  get logs(): SentryLog[] {
    return this.itemsOf('log').flatMap((item) => entriesOf<Parameters<typeof toSentryLog>[0]>(item).map(toSentryLog));
  }

  /** The error events Relay forwarded, as JSON (with `_meta` where Relay changed or found something missing). */
  get events(): Array<Record<string, unknown>> {
    return this.itemsOf('event').map((item) => item.payload as Record<string, unknown>);
  }

  /** Everything Relay reported as outcomes. */
  get outcomes(): Outcome[] {
    return this.upstream.outcomes;
  }

  /** The outcomes that mean something was dropped (all but `accepted`). */
  get discards(): Outcome[] {
    return this.upstream.outcomes.filter((outcome) => outcome.outcome !== 'accepted');
  }

  trace(traceId: string): SentrySpan[] {
    return this.spans.filter((span) => span.traceId === traceId);
  }

  waitFor<T>(check: () => T | undefined, what: string, timeoutMs = 15_000): Promise<T> {
    return waitFor(check, `Relay: ${what}`, timeoutMs);
  }

  /**
   * Waits until Relay has processed what it was sent so far. Relay answers
   * 200 before it processes anything, so this waits on the upstream: it sends a
   * probe span and a probe log record through the OTLP endpoints, waits until
   * Relay has forwarded both, then until nothing more (an outcome, a metric)
   * has arrived for QUIET_MS. Relay's buffer pops the newest envelope first
   * (relay-server/src/services/buffer/envelope_stack), so the probes alone
   * would not do: the quiet time lets what was queued behind them come through.
   * `signals`: where the probes go; a project that refuses logs takes a span only.
   */
  async settle(timeoutMs = 20_000, signals: Signal[] = ['traces', 'logs']): Promise<void> {
    const probe = randomBytes(16).toString('hex');
    this.probes.add(probe);
    const now = nanos();
    const bodies: Record<Signal, object> = {
      traces: tracesRequest([{ traceId: probe, spanId: probe.slice(0, 16), name: 'settle', kind: 1, startTimeUnixNano: now, endTimeUnixNano: now }]),
      logs: logsRequest([{ timeUnixNano: now, traceId: probe, severityNumber: 9, body: { stringValue: 'settle' } }]),
    };
    for (const signal of signals) {
      const response = await postOtlpJson(this, signal, bodies[signal]);
      if (response.status !== 200) throw new Error(`Relay refused the settle probe on ${signal}: ${response.status} ${await response.text()}`);
    }
    const deadline = Date.now() + timeoutMs;
    const probesIn = () => this.upstream.items.filter((item) => this.isProbe(item) && JSON.stringify(item.payload).includes(probe)).length;
    await waitFor(() => (probesIn() >= signals.length ? true : undefined), `Relay to forward the settle probes (${signals.join(', ')})`, timeoutMs);
    await waitFor(() => (performance.now() - this.upstream.lastDeliveryAt >= QUIET_MS ? true : undefined), `${QUIET_MS} ms with nothing more from Relay`, Math.max(deadline - Date.now(), QUIET_MS * 2));
  }

  /** What Relay wrote to stdout and stderr. */
  get output(): string {
    return this.process.output;
  }

  async close(): Promise<void> {
    await this.process.close();
    await this.upstream.close();
  }

  private isProbe(item: ForwardedItem): boolean {
    if (this.probes.size === 0) return false;
    const text = JSON.stringify(item.payload);
    return [...this.probes].some((probe) => text.includes(probe));
  }
}

/*
 * The project's config as Sentry serves it (relay-dynamic-config/src/project.rs, ProjectConfig).
 * Logs need the organization feature `organizations:ourlogs-ingestion`; without it every
 * log request is refused (otlp.rs: with_required_feature). Data scrubbing as a new
 * project has it in Sentry (Settings > Security & Privacy): the data scrubber and its
 * default patterns on, IP addresses kept.
 */
function projectConfig(features = ['organizations:ourlogs-ingestion']): Record<string, unknown> {
  return {
    allowedDomains: ['*'],
    features,
    datascrubbingSettings: { scrubData: true, scrubDefaults: true, scrubIpAddresses: false, sensitiveFields: [], excludeFields: [] },
  };
}
