import { createServer, type Server } from 'node:http';
import { gunzipSync } from 'node:zlib';
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
        this.items.push(...parseEnvelope(body.toString('utf8')));
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

/** An envelope: a header line, then for each item a header line and a payload line. */
function parseEnvelope(text: string): EnvelopeItem[] {
  const lines = text.split('\n').filter(Boolean);
  const items: EnvelopeItem[] = [];
  for (let i = 1; i + 1 < lines.length; i += 2) {
    const header = JSON.parse(lines[i]!) as { type: string };
    let payload: unknown = lines[i + 1];
    try {
      payload = JSON.parse(lines[i + 1]!);
    } catch {
      // not JSON (an attachment): keep the text
    }
    items.push({ type: header.type, payload });
  }
  return items;
}
