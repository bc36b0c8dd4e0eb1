import { createServer, type IncomingMessage, type Server } from 'node:http';
import { parseEnvelope, payloadOf, type Envelope } from './envelope.mts';
import { closeHttpServer, listenOnLoopback } from './loopback.mts';
import { decoderOf, publicKeyOf, Rejection } from './sentry-ingest.mts';

export interface EnvelopeItem {
  type: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Sentry event payloads, read as JSON
  payload: any;
}

/**
 * A stand-in for Sentry's envelope endpoint (what the Sentry SDK sends to),
 * the way Sentry's own end-to-end tests do it: the SDK gets a DSN that points
 * here, and the test reads every item it sent. It checks what Relay 26.9.0
 * checks before it answers (relay-server/src/endpoints/envelope.rs), with the
 * rules of the OTLP stand-in (sentry-ingest.mts); what Relay does with the
 * items afterwards is not modelled.
 */
export class SentryEnvelopes {
  readonly items: EnvelopeItem[] = [];
  /** Each envelope as it arrived (decompressed), for a test to read with @sentry/core's own parser. */
  readonly raw: Buffer[] = [];
  readonly projectId = '42';
  readonly publicKey = '0123456789abcdef0123456789abcdef';
  private readonly server: Server;
  private port = 0;

  private constructor() {
    this.server = createServer(async (request, response) => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      try {
        const inflate = decoderOf(request.headers);
        // relay-server/src/endpoints/mod.rs: POST /api/{project_id}/envelope/.
        if (request.method !== 'POST' || (request.url ?? '').split('?')[0] !== `/api/${this.projectId}/envelope/`) {
          response.writeHead(404).end();
          return;
        }
        const body = inflate(Buffer.concat(chunks));
        const envelope = this.accept(request, body);
        this.raw.push(body);
        this.items.push(...envelope.items.map((item) => ({ type: item.headers.type, payload: payloadOf(item) })));
        // envelope.rs, StoreResponse: the event id, when the envelope has one.
        const id = envelope.headers.event_id;
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(id ? { id } : {}));
      } catch (error) {
        const rejection = error instanceof Rejection ? error : new Rejection(400, String(error));
        // relay-server/src/utils/api.rs, ApiErrorResponse: {"detail": the error}.
        response.writeHead(rejection.status, rejection.withBody ? { 'content-type': 'application/json', ...rejection.headers } : rejection.headers).end(rejection.withBody ? JSON.stringify({ detail: rejection.message }) : undefined);
      }
    });
  }

  static async start(): Promise<SentryEnvelopes> {
    const stub = new SentryEnvelopes();
    stub.port = await listenOnLoopback(stub.server);
    return stub;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get dsn(): string {
    return `http://${this.publicKey}@127.0.0.1:${this.port}/${this.projectId}`;
  }

  ofType(type: string): EnvelopeItem[] {
    return this.items.filter((item) => item.type === type);
  }

  close(): Promise<void> {
    return closeHttpServer(this.server);
  }

  /*
   * envelope.rs, EnvelopeParams::from_request: the key as for OTLP (request_meta.rs), or, when the
   * request carries none, from the `dsn` of the envelope's header (else 401, BadEnvelopeAuth); then
   * extract_envelope: an empty body or one that does not parse is 400; common.rs: a key of another
   * project is 403, as in sentry-ingest.mts.
   */
  private accept(request: IncomingMessage, body: Buffer): Envelope {
    let key: string;
    try {
      key = publicKeyOf(request);
    } catch (error) {
      if (!(error instanceof Rejection && error.message === 'missing authorization information')) throw error;
      key = dsnKeyOf(body);
    }
    if (body.length === 0) throw new Rejection(400, 'empty request body');
    let envelope: Envelope;
    try {
      envelope = parseEnvelope(body);
    } catch (error) {
      throw new Rejection(400, `invalid event envelope: ${(error as Error).message}`);
    }
    if (key !== this.publicKey) throw new Rejection(403, 'event submission rejected with_reason: ProjectId');
    return envelope;
  }
}

/* request_meta.rs, RequestMeta read from the envelope header: its `dsn` must parse, with a well-formed key (ProjectKey::parse). */
function dsnKeyOf(body: Buffer): string {
  try {
    const header = JSON.parse(body.subarray(0, body.indexOf(0x0a) === -1 ? body.length : body.indexOf(0x0a)).toString('utf8')) as { dsn?: unknown };
    const key = new URL(String(header.dsn)).username;
    if (/^[\x00-\x7f]{32}$/.test(key)) return key;
  } catch {
    // the header is not JSON, or its dsn not a URL
  }
  throw new Rejection(401, 'bad envelope authentication header');
}
