import { createServer, type Server } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { parseEnvelope, payloadOf } from './envelope.mts';
import { closeHttpServer, listenOnLoopback } from './loopback.mts';

export interface EnvelopeItem {
  type: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Sentry event payloads, read as JSON
  payload: any;
}

/**
 * A stand-in for Sentry's envelope endpoint (what the Sentry SDK sends to),
 * the way Sentry's own end-to-end tests do it: the SDK gets a DSN that points
 * here, and the test reads every item it sent.
 */
export class SentryEnvelopes {
  readonly items: EnvelopeItem[] = [];
  /** Each envelope as it arrived (decompressed), for a test to read with @sentry/core's own parser. */
  readonly raw: Buffer[] = [];
  readonly projectId = '42';
  private readonly server: Server;
  private port = 0;

  private constructor() {
    this.server = createServer(async (request, response) => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      if (request.method === 'POST' && request.url?.startsWith(`/api/${this.projectId}/envelope/`)) {
        let body = Buffer.concat(chunks);
        if (request.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
        this.raw.push(body);
        this.items.push(...parseEnvelope(body).items.map((item) => ({ type: item.headers.type, payload: payloadOf(item) })));
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } else {
        response.writeHead(404).end();
      }
    });
  }

  static async start(): Promise<SentryEnvelopes> {
    const stub = new SentryEnvelopes();
    stub.port = await listenOnLoopback(stub.server);
    return stub;
  }

  get dsn(): string {
    return `http://0123456789abcdef0123456789abcdef@127.0.0.1:${this.port}/${this.projectId}`;
  }

  ofType(type: string): EnvelopeItem[] {
    return this.items.filter((item) => item.type === type);
  }

  close(): Promise<void> {
    return closeHttpServer(this.server);
  }
}
