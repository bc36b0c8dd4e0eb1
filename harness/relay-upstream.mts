import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { gunzipSync, zstdDecompressSync } from 'node:zlib';
import { parseEnvelope, payloadOf, type RawEnvelopeItem } from './envelope.mts';
import { closeHttpServer, listenOnLoopback } from './loopback.mts';

/*
 * The Sentry that a managed Relay talks to, reduced to what Relay asks of it,
 * after Relay's own test fixture (tests/integration/fixtures/mini_sentry.py in
 * the Relay source): it registers the Relay, serves one project's config (and
 * the global config, without which Relay buffers forever), and records every
 * envelope Relay forwards and every outcome Relay reports.
 */

/** One item Relay forwarded, with the headers of its envelope. */
export interface ForwardedItem {
  envelopeHeaders: Record<string, unknown>;
  headers: RawEnvelopeItem['headers'];
  payload: unknown;
}

/** What Relay reports about items it did not forward as they came (relay-server/src/services/outcome/). */
export interface Outcome {
  outcome: OutcomeName;
  reason: string | undefined;
  category: string;
  quantity: number;
}

/* relay-server/src/services/outcome/mod.rs, OutcomeId. */
const OUTCOME_IDS = ['accepted', 'filtered', 'rate_limited', 'invalid', 'abuse', 'client_discard', 'cardinality_limited'] as const;
type OutcomeName = (typeof OUTCOME_IDS)[number];

/* relay-base-schema/src/data_category.rs: the numbers Relay writes in an outcome's `category`. */
const CATEGORIES: Record<number, string> = {
  0: 'default', 1: 'error', 2: 'transaction', 3: 'security', 4: 'attachment', 5: 'session', 9: 'transaction_indexed',
  12: 'span', 15: 'metric_bucket', 16: 'span_indexed', 22: 'attachment_item', 23: 'log_item', 24: 'log_byte',
  33: 'trace_metric', 37: 'trace_metric_byte',
};

export interface UpstreamProject {
  projectId: number;
  publicKey: string;
  /** The project's `config` (features, data scrubbing, ...). */
  config: Record<string, unknown>;
}

export class RelayUpstream {
  readonly items: ForwardedItem[] = [];
  readonly outcomes: Outcome[] = [];
  /** Requests this stand-in did not expect (a path it does not serve, a payload it cannot read). */
  readonly unexpected: string[] = [];
  /** When Relay last forwarded an envelope or reported outcomes (performance.now()). */
  lastDeliveryAt = 0;
  /** The Relay allowed to register: its id and public key (from `relay credentials generate`). */
  relay: { id: string; publicKey: string } | undefined;
  private readonly project: UpstreamProject;
  private readonly server: Server;
  private port = 0;

  private constructor(project: UpstreamProject) {
    this.project = project;
    this.server = createServer((request, response) => void this.handle(request, response));
  }

  static async start(project: UpstreamProject): Promise<RelayUpstream> {
    const upstream = new RelayUpstream(project);
    upstream.port = await listenOnLoopback(upstream.server);
    return upstream;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/`;
  }

  close(): Promise<void> {
    return closeHttpServer(this.server);
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const path = (request.url ?? '').split('?')[0]!;
    const reply = (status: number, body: unknown): void => void response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    try {
      const body = decompress(Buffer.concat(chunks), String(request.headers['content-encoding'] ?? ''));
      const relayId = request.headers['x-sentry-relay-id'];
      if (path === '/api/0/relays/register/challenge/' || path === '/api/0/relays/register/response/') {
        const { relay_id: id } = JSON.parse(body.toString('utf8')) as { relay_id: string };
        if (id !== this.relay?.id || relayId !== id) return reply(403, { detail: 'unknown relay' });
        return reply(200, path.endsWith('challenge/') ? { relay_id: id, token: 'a-token' } : { relay_id: id });
      }
      if (relayId !== this.relay?.id) return reply(403, { detail: 'relay not registered' });
      if (path === '/api/0/relays/projectconfigs/') return reply(200, this.projectConfigs(JSON.parse(body.toString('utf8'))));
      if (path === `/api/${this.project.projectId}/envelope/`) {
        this.record(parseEnvelope(body));
        return reply(200, {});
      }
      if (path === '/api/0/relays/live/') return reply(200, { is_healthy: true });
      this.unexpected.push(`${request.method} ${request.url}`);
      return reply(404, { detail: 'not found' });
    } catch (error) {
      this.unexpected.push(`${request.method} ${request.url}: ${String(error)}`);
      return reply(400, { detail: String(error) });
    }
  }

  /** Answers `projectconfigs/?version=3`: the project's config for its key, and the global config when asked. */
  private projectConfigs(query: { publicKeys?: string[]; global?: boolean }): Record<string, unknown> {
    const { projectId, publicKey, config } = this.project;
    const configs: Record<string, unknown> = {};
    for (const key of query.publicKeys ?? []) {
      if (key !== publicKey) continue;
      configs[key] = {
        projectId,
        slug: 'users-api',
        organizationId: 1,
        publicKeys: [{ publicKey, numericId: 1, isEnabled: true }],
        rev: 'rev-1',
        disabled: false,
        lastFetch: new Date().toISOString(),
        lastChange: new Date().toISOString(),
        config,
      };
    }
    // A key missing from `configs` (and not `pending`) is a project Relay treats as unknown: 403.
    return { configs, pending: [], unchanged: [], ...(query.global ? { global: GLOBAL_CONFIG } : {}) };
  }

  /**
   * Keeps the items of a forwarded envelope; outcomes come as `c:outcomes/*`
   * counters in `metric_buckets` items (relay-server/src/services/outcome/metric.rs, to_metric),
   * which are taken out into `outcomes`, as mini_sentry.py does.
   */
  private record(envelope: ReturnType<typeof parseEnvelope>): void {
    for (const item of envelope.items) {
      const payload = payloadOf(item);
      if (item.headers.type === 'metric_buckets' && Array.isArray(payload)) {
        const others = payload.filter((bucket: MetricBucket) => {
          const id = OUTCOME_IDS.findIndex((name) => bucket.name === `c:outcomes/${name}@none`);
          if (id === -1) return true;
          this.outcomes.push(toOutcome(id, bucket.tags.reason, Number(bucket.tags.category), bucket.value));
          return false;
        });
        if (others.length === 0) continue;
        this.items.push({ envelopeHeaders: envelope.headers, headers: item.headers, payload: others });
      } else {
        this.items.push({ envelopeHeaders: envelope.headers, headers: item.headers, payload });
      }
    }
    this.lastDeliveryAt = performance.now();
  }
}

interface MetricBucket {
  name: string;
  value: number;
  tags: Record<string, string>;
}

function toOutcome(id: number, reason: string | undefined, category: number, quantity: number): Outcome {
  return { outcome: OUTCOME_IDS[id] ?? (`outcome ${id}` as OutcomeName), reason, category: CATEGORIES[category] ?? `category ${category}`, quantity };
}

/* Relay compresses what it sends upstream with `http.encoding` (relay-config/src/config.rs, HttpEncoding). */
function decompress(body: Buffer, encoding: string): Buffer {
  if (encoding === '' || encoding === 'identity') return body;
  if (encoding === 'gzip') return gunzipSync(body);
  if (encoding === 'zstd') return zstdDecompressSync(body);
  throw new Error(`content-encoding ${encoding} not handled`);
}

/*
 * The global config (relay-dynamic-config/src/global.rs): every field has a
 * default, but Relay holds all envelopes until it has received one.
 */
const GLOBAL_CONFIG = { measurements: { builtinMeasurements: [], maxCustomMeasurements: 10 }, filters: { version: 1, filters: [] }, options: {} };
