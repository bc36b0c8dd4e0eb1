import { isUtf8 } from 'node:buffer';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { brotliDecompressSync, gunzipSync, inflateSync, zstdDecompressSync } from 'node:zlib';
import { closeHttpServer, listenOnLoopback } from './loopback.mts';
import { decodeLogs, decodeSpans, otlpJsonToProtobuf, type ReceivedLog, type ReceivedSpan } from './otlp.mts';
import { toSentryLog, toSentrySpans, type DropReason, type SentryLog, type SentrySpan } from './sentry-conversion.mts';
import { waitFor } from './wait.mts';

export type { SentryLog, SentrySpan } from './sentry-conversion.mts';

/*
 * A stand-in for Sentry's OTLP ingest, as strict as the real one: Relay
 * (github.com/getsentry/relay) 26.9.0. Every rule below names the Relay file
 * it mirrors, and test/relay-differential.test.mts checks them against that
 * Relay, built from source. It answers the way Relay answers, and it STORES
 * what Sentry keeps, in the shape a Sentry user then sees (sentry-conversion.mts):
 * span events gone, resource attributes as `resource.<key>`, maps as JSON
 * strings, and what Relay drops (a span without a valid id, a name or a sane
 * time, a log record without a body or past 2 MiB, an item older than the
 * retention, a request Relay took before it knew that its key is unknown or of
 * another project) discarded, counted in `discarded` with Relay's outcome reason.
 *
 * Not modelled: what sentry-conversion.mts lists (notModelled), and the
 * checks Relay makes later on (inbound filters, quotas other than the 429
 * asked for with `rateLimit`).
 */

export type Signal = 'traces' | 'logs';

export interface Discarded {
  signal: Signal;
  /** The reason of Relay's outcome (relay-server/src/services/outcome/mod.rs, DiscardReason). */
  reason: string;
  item?: ReceivedSpan | ReceivedLog;
}

/** One HTTP request and Relay's answer; `bytes` is the decompressed body (what the limit counts). */
export interface IngestRequest {
  path: string;
  status: number;
  bytes: number;
  items: number;
  /** A path under /api/ that is no route of Relay's: Relay forwards it to Sentry (see FORWARDED). */
  forwarded?: boolean;
}

/*
 * relay-config/src/config.rs, `Limits::default()`: max_container_size 12 MiB.
 * relay-server/src/endpoints/integrations/otlp.rs puts it on both routes as
 * axum's DefaultBodyLimit, applied to the body after the request decompression
 * layer (relay-server/src/middlewares/decompression.rs): the limit counts
 * uncompressed bytes. Beyond it: 413.
 */
export const RELAY_MAX_BODY_BYTES = 12 * 1024 * 1024;

/** relay-event-schema/src/protocol/constants.rs: PROTOCOL_VERSION; a newer `sentry_version` is refused. */
const PROTOCOL_VERSION = 7;
/** sentry-types src/protocol/mod.rs: LATEST, the version of an auth without `sentry_version`. */
const LATEST_VERSION = 7;

/*
 * relay-server/src/endpoints/integrations/otlp.rs: `/v1/traces` and `/v1/logs`,
 * each also with a trailing slash, under `/api/{project_id}/integration/otlp`;
 * POST only. relay-server/src/middlewares/normalize_path.rs folds repeated slashes first.
 */
const ROUTE = /^\/api\/([^/]+)\/integration\/otlp\/v1\/(traces|logs)\/?$/;

/*
 * relay-server/src/endpoints/mod.rs: every path that is no route of Relay's goes to the fallback,
 * relay-server/src/endpoints/forward.rs, which answers 404 with no body itself for `/api/` and
 * anything outside `/api/`, and forwards every other path to Sentry (the upstream), returning its
 * answer; `/api/relay/*` is Relay's own 404 (endpoints/statics.rs, not_found). Sentry has no API
 * under /api/<project>/integration/otlp but these routes: the stand-in answers those for it, 404
 * with no body (Sentry's own body is not modelled).
 */
const FORWARDED = (path: string) => path.startsWith('/api/') && path !== '/api/' && !path.startsWith('/api/relay/');

/*
 * How long Relay takes to look up a project key it has not seen. Until it knows the key's
 * project, it answers 200 without the project's checks (relay-server/src/services/projects/cache/project.rs,
 * check_envelope: ProjectState::Pending), queues the request, and drops it once the project turns
 * out unknown or another one (relay-server/src/services/buffer/mod.rs: ResolvedProject::Disabled,
 * outcome invalid `project_id`). The lookup is sent `cache.batch_interval` after the key is first
 * seen (relay-server/src/services/projects/source/upstream.rs, schedule_fetch; relay-config/src/config.rs:
 * 100 ms), the upstream's answer comes within a few more on loopback.
 */
export const RELAY_PROJECT_LOOKUP_MS = 100;

/* relay-server/src/endpoints/common.rs, the message of BadStoreRequest::RateLimited. */
const RATE_LIMITED =
  'Sentry dropped data due to a quota or internal rate limit being reached. This will not affect your application. See https://docs.sentry.io/product/accounts/quotas/ for more information.';

/* axum-core 0.5 (extract/rejection.rs, FailedToBufferBody), wrapped by relay-server/src/extractors/integration_builder.rs (IntegrationBuilderRejection::Body). */
const BODY_ERROR = 'unable to read body: Failed to buffer the request body';

/** Maps a response status to the gRPC code Relay puts in its error body (otlp.rs, GrpcStatusCode). */
const GRPC_CODE: Record<number, number> = { 400: 3, 401: 16, 403: 7, 404: 5, 413: 8, 415: 3, 429: 8 };

export class Rejection extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;
  /** False for an answer with no body (tower-http's 415). */
  readonly withBody: boolean;

  constructor(status: number, message: string, headers: Record<string, string> = {}, withBody = true) {
    super(message);
    this.status = status;
    this.headers = headers;
    this.withBody = withBody;
  }
}

/** The collector environment that points its otlp_http/sentry exporter at an ingest (the stand-in or Relay). */
export function sentryCollectorEnv(ingest: { endpoint(signal: Signal): string }, key: string): Record<string, string> {
  return {
    COLLECTOR_EXPORTERS: '[debug, otlp_http/sentry]',
    SENTRY_OTLP_TRACES_URL: ingest.endpoint('traces'),
    SENTRY_OTLP_LOGS_URL: ingest.endpoint('logs'),
    SENTRY_PUBLIC_KEY: key,
  };
}

export class SentryIngest {
  readonly spans: SentrySpan[] = [];
  readonly logs: SentryLog[] = [];
  /** What Relay accepted (200) and Sentry then dropped. */
  readonly discarded: Discarded[] = [];
  readonly requests: IngestRequest[] = [];
  readonly projectId = '4508000000000001';
  /** A DSN public key: 32 hexadecimal characters. */
  readonly publicKey = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
  private readonly server: Server;
  private port = 0;
  private readonly limits: Record<Signal, { remaining: number; retryAfterSeconds: number }> = {
    traces: { remaining: 0, retryAfterSeconds: 1 },
    logs: { remaining: 0, retryAfterSeconds: 1 },
  };
  /** When each project key was first seen (performance.now()): its lookup (RELAY_PROJECT_LOOKUP_MS). */
  private readonly keysSeen = new Map<string, number>();

  private constructor() {
    this.server = createServer((request, response) => void this.handle(request, response));
  }

  static async start(): Promise<SentryIngest> {
    const ingest = new SentryIngest();
    ingest.port = await listenOnLoopback(ingest.server);
    return ingest;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The project's OTLP endpoint of one signal, as Sentry shows it. */
  endpoint(signal: Signal): string {
    return `${this.url}/api/${this.projectId}/integration/otlp/v1/${signal}`;
  }

  /** The collector environment that points its otlp_http/sentry exporter here. */
  collectorEnv(key = this.publicKey): Record<string, string> {
    return sentryCollectorEnv(this, key);
  }

  /** The next `times` requests of that signal get 429 with `Retry-After: retryAfterSeconds`, as when a quota is hit. */
  rateLimit(signal: Signal, times: number, retryAfterSeconds = 1): void {
    this.limits[signal] = { remaining: times, retryAfterSeconds };
  }

  /** Requests answered with something other than 200. */
  get rejected(): IngestRequest[] {
    return this.requests.filter((r) => r.status !== 200);
  }

  trace(traceId: string): SentrySpan[] {
    return this.spans.filter((span) => span.traceId === traceId);
  }

  waitFor<T>(check: () => T | undefined, what: string, timeoutMs = 15_000): Promise<T> {
    return waitFor(check, `Sentry stand-in: ${what}`, timeoutMs);
  }

  close(): Promise<void> {
    return closeHttpServer(this.server);
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? '').split('?')[0]!.replace(/\/{2,}/g, '/');
    const route = ROUTE.exec(path);
    // Errors are written in the request's format, JSON unless it sent protobuf (otlp.rs, OtlpError).
    const json = formatOf(String(request.headers['content-type'] ?? '')) !== 'protobuf';
    const record: IngestRequest = { path: request.url ?? '', status: 200, bytes: 0, items: 0 };
    // axum 0.8 (routing/route.rs, set_allow_header): on a route, a method it has no handler for gets
    // `Allow` on whatever answers it, also the 415 of the decompression layer, which Relay runs after
    // the routing (relay-server/src/services/server/mod.rs, make_app).
    const allow: Record<string, string> = route && request.method !== 'POST' ? { allow: 'POST' } : {};
    try {
      const inflate = decoderOf(request.headers);
      if (!route) {
        if (FORWARDED(path)) record.forwarded = true;
        throw new Rejection(404, '', {}, false);
      }
      // relay-server/src/endpoints/mod.rs: the OTLP routes sit behind middlewares::cors(), tower-http's
      // CorsLayer, which answers every OPTIONS (a browser's preflight) itself: 200, no body, and
      // axum's Allow as on any method but POST.
      if (request.method === 'OPTIONS') {
        request.resume();
        response.writeHead(200, allow).end();
        return;
      }
      // axum 0.8 (routing/method_routing.rs): a route with no handler for the method answers 405, no body, Allow.
      if (request.method !== 'POST') throw new Rejection(405, '', {}, false);
      const signal = route[2] as Signal;
      const { body, dropped } = await this.accept(request, route[1]!, signal, inflate);
      record.bytes = body.length;
      if (dropped) this.discarded.push({ signal, reason: dropped });
      else record.items = this.store(signal, body, json);
      // otlp.rs, SuccessResponse: 200 with an empty Export*ServiceResponse (`{}` for JSON).
      response.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' }).end(json ? '{}' : '');
    } catch (error) {
      request.resume();
      const rejection = error instanceof Rejection ? error : new Rejection(400, String(error));
      record.status = rejection.status;
      if (!rejection.withBody) {
        response.writeHead(rejection.status, { ...allow, ...rejection.headers }).end();
        return;
      }
      // otlp.rs, OtlpError: a google.rpc.Status {code, message}, in the request's format.
      const status = { code: GRPC_CODE[rejection.status] ?? 2, message: rejection.message };
      response
        .writeHead(rejection.status, { 'content-type': json ? 'application/json' : 'application/x-protobuf', ...rejection.headers })
        .end(json ? JSON.stringify(status) : encodeStatus(status));
    } finally {
      this.requests.push(record);
    }
  }

  /**
   * Relay's checks, in the order a request meets them; resolves with the decompressed body, and
   * the reason it is dropped later when Relay took it before it knew the key's project.
   */
  private async accept(request: IncomingMessage, projectSegment: string, signal: Signal, inflate: (body: Buffer) => Buffer): Promise<{ body: Buffer; dropped?: string }> {
    // otlp.rs: the raw Content-Type (relay-server/src/extractors/content_type.rs), parsed by
    // relay-server/src/envelope/content_type.rs: anything but JSON or protobuf is 415.
    const contentType = String(request.headers['content-type'] ?? '');
    if (!formatOf(contentType)) throw new Rejection(415, `unsupported content type: ${contentType}`);

    // relay-server/src/extractors/request_meta.rs, StorePath: the project id must be a u64 (BadProject: 400).
    const projectId = projectIdOf(projectSegment);
    if (projectId === undefined) throw new Rejection(400, 'bad project path parameter');
    const key = publicKeyOf(request);

    // relay-server/src/extractors/integration_builder.rs reads the body after the auth, within the limit.
    const body = await readBody(request, inflate);

    // relay-server/src/endpoints/common.rs, BadStoreRequest::EventRejected: a key Sentry does not know,
    // or that belongs to another project, is refused with 403 (services/projects/project/info.rs,
    // check_envelope: DiscardReason::ProjectId), once Relay knows the key's project (RELAY_PROJECT_LOOKUP_MS).
    const now = performance.now();
    if (!this.keysSeen.has(key)) this.keysSeen.set(key, now);
    const known = now - this.keysSeen.get(key)! >= RELAY_PROJECT_LOOKUP_MS;
    const refused = key !== this.publicKey || projectId !== BigInt(this.projectId);
    if (known && refused) throw new Rejection(403, 'event submission rejected with_reason: ProjectId');

    // common.rs, BadStoreRequest::RateLimited: 429 with Retry-After (seconds) and X-Sentry-Rate-Limits.
    // otlp.rs checks rate limits on both routes (`check_rate_limits`), the cached ones of the key's own
    // project (services/projects/cache/project.rs): none for a key still being looked up. The
    // stand-in's own key has the limits a test sets (rateLimit) from its first request.
    const limit = this.limits[signal];
    if (!refused && limit.remaining > 0) {
      limit.remaining -= 1;
      const category = signal === 'traces' ? 'span' : 'log_item';
      throw new Rejection(429, RATE_LIMITED, {
        'retry-after': String(limit.retryAfterSeconds),
        'x-sentry-rate-limits': `${limit.retryAfterSeconds}:${category}:project`,
      });
    }
    return refused ? { body, dropped: 'project_id' } : { body };
  }

  /** Converts and keeps what Sentry keeps; returns the number of items in the request. */
  private store(signal: Signal, body: Buffer, json: boolean): number {
    let items: Array<ReceivedSpan | ReceivedLog>;
    try {
      const payload = json ? otlpJsonToProtobuf(signal, body.toString('utf8')) : body;
      items = signal === 'traces' ? decodeSpans(payload) : decodeLogs(payload);
    } catch {
      // Relay answers before it parses the payload: a broken one is dropped later
      // (relay-server/src/processing/{spans,logs}/integrations/otel.rs: invalid_json, invalid_proto).
      this.discarded.push({ signal, reason: json ? 'invalid_json' : 'invalid_proto' });
      return 0;
    }
    const converted: Array<{ item: ReceivedSpan | ReceivedLog; kept: SentrySpan | SentryLog | DropReason }> =
      signal === 'traces' ? toSentrySpans(items as ReceivedSpan[]) : (items as ReceivedLog[]).map((item) => ({ item, kept: toSentryLog(item) }));
    for (const { item, kept } of converted) {
      if (typeof kept === 'string') this.discarded.push({ signal, reason: kept, item });
      else if (signal === 'traces') this.spans.push(kept as SentrySpan);
      else this.logs.push(kept as SentryLog);
    }
    return items.length;
  }
}

/*
 * relay-server/src/extractors/request_meta.rs, StorePath: axum's Path (axum 0.8, extract/path)
 * percent-decodes the segment (not UTF-8: rejected), then serde reads ProjectId
 * (relay-base-schema/src/project.rs, a u64) with Rust's u64 parse: decimal digits, maybe after
 * one "+", leading zeros allowed, at most 2^64 - 1.
 */
function projectIdOf(segment: string): bigint | undefined {
  let text: string;
  try {
    text = decodeURIComponent(segment);
  } catch {
    return undefined; // not UTF-8, or a "%" that is no escape (left as is by axum, and no digit either)
  }
  if (!/^\+?\d+$/.test(text)) return undefined;
  const id = BigInt(text);
  return id < 2n ** 64n ? id : undefined;
}

/*
 * relay-server/src/envelope/content_type.rs, ContentType::from_str: application/x-protobuf
 * exactly (in any case); application/json with no parameter but `charset=utf-8`
 * (match_content_type_and_charset: spaces and tabs around the parts, the value maybe quoted).
 */
function formatOf(contentType: string): 'json' | 'protobuf' | undefined {
  if (contentType.toLowerCase() === 'application/x-protobuf') return 'protobuf';
  const [mediaType, ...parameters] = contentType.split(';');
  if (mediaType!.replace(/^[ \t]+|[ \t]+$/g, '').toLowerCase() !== 'application/json') return undefined;
  const charsetOnly = parameters.every((parameter) => {
    const trimmed = parameter.replace(/^[ \t]+|[ \t]+$/g, '');
    if (trimmed === '') return true;
    const [name, value] = trimmed.split(/=(.*)/s) as [string, string | undefined];
    return value !== undefined && name.toLowerCase() === 'charset' && value.replace(/^"(.*)"$/s, '$1').toLowerCase() === 'utf-8';
  });
  return charsetOnly ? 'json' : undefined;
}

/*
 * relay-server/src/extractors/request_meta.rs, auth_from_parts, in this order: `x-sentry-auth`, then
 * `Authorization` (each only when it starts with "sentry ", any case: get_auth_header), HTTP Basic
 * auth, a `sentry_key` query parameter (when the query holds "sentry_"). A header must be visible
 * ASCII (http's HeaderValue::to_str). A second of them: 401 (MultipleAuth), none: 401 (MissingAuth).
 * Each is read by sentry-types' `Auth` (auth.rs, from_str and from_pairs); an error in one is a 401
 * (BadAuth, whose message does not name the cause: request_meta.rs, BadEventMeta) at once.
 * Then (from_request_parts) relay-base-schema/src/project.rs,
 * ProjectKey::parse_with_flags: the key before any `.flags` must be 32 ASCII characters, else
 * 400 (BadPublicKey); and a version above PROTOCOL_VERSION is 400. Sentry's keys are 32
 * hexadecimal characters.
 */
export function publicKeyOf(request: IncomingMessage): string {
  let auth: Auth | undefined;
  const add = (found: Auth | undefined) => {
    if (!found) return;
    if (auth) throw new Rejection(401, 'multiple authorization payloads detected');
    auth = found;
  };
  for (const header of [request.headers['x-sentry-auth'], request.headers.authorization]) {
    if (isHeaderText(header) && header.length >= 7 && header.slice(0, 7).toLowerCase() === 'sentry ') add(authFromHeader(header));
  }
  add(basicAuth(request.headers.authorization));
  const url = request.url ?? '';
  const query = url.includes('?') ? url.slice(url.indexOf('?') + 1) : '';
  if (query.includes('sentry_')) add(authFromPairs(new URLSearchParams(query)));
  if (!auth) throw new Rejection(401, 'missing authorization information');

  const key = auth.key.split('.')[0]!;
  if (key.length !== 32 || !/^[\x00-\x7f]*$/.test(key)) throw new Rejection(400, 'bad sentry DSN public key');
  if (auth.version > PROTOCOL_VERSION) throw new Rejection(400, `unsupported protocol version (${auth.version})`);
  return key;
}

interface Auth {
  key: string;
  version: number;
}

/* http's HeaderValue::to_str: visible ASCII and tabs only. */
function isHeaderText(header: unknown): header is string {
  return typeof header === 'string' && /^[\t\x20-\x7e]*$/.test(header);
}

/* sentry-types auth.rs, Auth::from_str: after the first space, comma-separated `name=value` pairs, each trimmed; an item without "=" is skipped. */
function authFromHeader(header: string): Auth {
  const items = header.slice(header.indexOf(' ') + 1).split(',');
  return authFromPairs(items.flatMap((item): Array<[string, string]> => {
    const [name, value] = item.split('=');
    return value === undefined ? [] : [[name!.trim(), value.trim()]];
  }));
}

/*
 * sentry-types auth.rs, Auth::from_pairs: the part of sentry_version before any "." must be a u16
 * (Rust's str::parse: digits, maybe after a "+"), else 401 (InvalidVersion); sentry_key must not
 * be empty (MissingPublicKey).
 */
function authFromPairs(pairs: Iterable<[string, string]>): Auth {
  const auth = { key: '', version: LATEST_VERSION };
  for (const [name, value] of pairs) {
    if (name === 'sentry_key') auth.key = value;
    if (name !== 'sentry_version') continue;
    const major = value.split('.')[0]!;
    if (!/^\+?\d+$/.test(major) || Number(major) > 0xffff) throw new Rejection(401, 'bad x-sentry-auth header');
    auth.version = Number(major);
  }
  if (!auth.key) throw new Rejection(401, 'bad x-sentry-auth header');
  return auth;
}

/*
 * request_meta.rs, auth_from_parts: `Authorization: Basic <base64>` counts only when it decodes
 * (data_encoding's BASE64: padded, canonical) to UTF-8 holding a ":", the key before it not empty.
 */
function basicAuth(header: string | undefined): Auth | undefined {
  if (!isHeaderText(header) || header.slice(0, 6).toLowerCase() !== 'basic ') return undefined;
  const encoded = header.slice(6);
  const decoded = Buffer.from(encoded, 'base64');
  if (decoded.toString('base64') !== encoded || !isUtf8(decoded)) return undefined;
  const text = decoded.toString('utf8');
  const user = text.slice(0, text.indexOf(':'));
  return text.includes(':') && user ? { key: user, version: LATEST_VERSION } : undefined;
}

/*
 * relay-server/src/services/server/mod.rs puts every route behind remove_empty_encoding
 * (relay-server/src/middlewares/decompression.rs: a content-encoding "" or "utf-8", any case,
 * is ignored) and tower-http's RequestDecompressionLayer (0.6.11,
 * src/decompression/request/service.rs): exactly "gzip", "deflate", "br", "zstd" or "identity",
 * else 415 with no body (future.rs, unsupported_encoding), before the route's own checks.
 */
export function decoderOf(headers: IncomingHttpHeaders): (body: Buffer) => Buffer {
  const encoding = headers['content-encoding'];
  if (encoding === undefined || encoding === '' || encoding.toLowerCase() === 'utf-8') return (body) => body;
  const inflate = DECODERS.get(encoding);
  if (!inflate) throw new Rejection(415, '', { 'accept-encoding': 'zstd,gzip,deflate,br' }, false);
  return inflate;
}

const limit = { maxOutputLength: RELAY_MAX_BODY_BYTES + 1 };
const DECODERS = new Map<string, (body: Buffer) => Buffer>([
  ['identity', (body) => body],
  ['gzip', (body) => gunzipSync(body, limit)],
  ['deflate', (body) => inflateSync(body, limit)],
  ['br', (body) => brotliDecompressSync(body, limit)],
  ['zstd', (body) => zstdDecompressSync(body, limit)],
]);

/**
 * The decompressed body; 413 past Relay's limit, 400 when it does not decompress (decompression.rs),
 * with axum's messages (BODY_ERROR); the cause of a 400 is zlib's words here, not Rust's.
 */
async function readBody(request: IncomingMessage, inflate: (body: Buffer) => Buffer): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  // Read to the end (leaving the loop early would reset the connection before the 413 is sent).
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size <= RELAY_MAX_BODY_BYTES) chunks.push(chunk as Buffer);
  }
  if (size > RELAY_MAX_BODY_BYTES) throw new Rejection(413, `${BODY_ERROR}: length limit exceeded`);
  let body: Buffer;
  try {
    body = inflate(Buffer.concat(chunks));
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw new Rejection(413, `${BODY_ERROR}: length limit exceeded`);
    throw new Rejection(400, `${BODY_ERROR}: ${(error as Error).message}`);
  }
  if (body.length > RELAY_MAX_BODY_BYTES) throw new Rejection(413, `${BODY_ERROR}: length limit exceeded`);
  return body;
}

/** A google.rpc.Status as protobuf: code (field 1, varint), message (field 2, string). */
function encodeStatus({ code, message }: { code: number; message: string }): Buffer {
  const text = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from([0x08, code, 0x12]), varint(text.length), text]);
}

function varint(value: number): Buffer {
  const bytes: number[] = [];
  while (value > 0x7f) {
    bytes.push((value & 0x7f) | 0x80);
    value >>>= 7;
  }
  bytes.push(value);
  return Buffer.from(bytes);
}
