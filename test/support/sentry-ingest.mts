import { createServer, type IncomingMessage, type Server } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { closeHttpServer, listenOnLoopback } from './loopback.mts';
import { decodeLogs, decodeSpans, type ReceivedLog, type ReceivedSpan } from './otlp-proto.mts';
import { waitFor } from './wait.mts';

const ROUTE = /^\/api\/(\d+)\/integration\/otlp\/v1\/(traces|logs)$/;

/**
 * A stand-in for Sentry's OTLP ingestion: it accepts only
 * POST /api/<project_id>/integration/otlp/v1/{traces,logs} with the right
 * `x-sentry-auth: sentry sentry_key=<key>` (401 otherwise), inflates gzip,
 * decodes the protobuf and keeps what arrived.
 */
export class SentryIngest {
  readonly spans: ReceivedSpan[] = [];
  readonly logs: ReceivedLog[] = [];
  readonly rejected: Array<{ path: string; status: number }> = [];
  readonly projectId = '4508000000000001';
  readonly publicKey = 'e2etestpublickey0000000000000001';
  private readonly server: Server;
  private port = 0;

  private constructor() {
    this.server = createServer((request, response) => {
      this.handle(request)
        .then((status) => response.writeHead(status, { 'content-type': 'application/x-protobuf' }).end())
        .catch(() => response.writeHead(400).end());
    });
  }

  static async start(): Promise<SentryIngest> {
    const ingest = new SentryIngest();
    ingest.port = await listenOnLoopback(ingest.server);
    return ingest;
  }

  /** The collector environment that points its otlp_http/sentry exporter here. */
  collectorEnv(key = this.publicKey): Record<string, string> {
    const base = `http://127.0.0.1:${this.port}/api/${this.projectId}/integration/otlp`;
    return {
      COLLECTOR_EXPORTERS: '[debug, otlp_http/sentry]',
      SENTRY_OTLP_TRACES_URL: `${base}/v1/traces`,
      SENTRY_OTLP_LOGS_URL: `${base}/v1/logs`,
      SENTRY_PUBLIC_KEY: key,
    };
  }

  trace(traceId: string): ReceivedSpan[] {
    return this.spans.filter((span) => span.traceId === traceId);
  }

  waitFor<T>(check: () => T | undefined, what: string, timeoutMs = 15_000): Promise<T> {
    return waitFor(check, `Sentry stand-in: ${what}`, timeoutMs);
  }

  close(): Promise<void> {
    return closeHttpServer(this.server);
  }

  private async handle(request: IncomingMessage): Promise<number> {
    const route = ROUTE.exec(request.url ?? '');
    if (request.method !== 'POST' || !route || route[1] !== this.projectId) return this.reject(request, 404);
    if (request.headers['x-sentry-auth'] !== `sentry sentry_key=${this.publicKey}`) return this.reject(request, 401);
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    let body = Buffer.concat(chunks);
    if (request.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
    if (route[2] === 'traces') this.spans.push(...decodeSpans(body));
    else this.logs.push(...decodeLogs(body));
    return 200;
  }

  private reject(request: IncomingMessage, status: number): number {
    request.resume();
    this.rejected.push({ path: request.url ?? '', status });
    return status;
  }
}
