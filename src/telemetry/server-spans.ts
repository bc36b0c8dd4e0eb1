import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, isSpanContextValid, propagation, trace, type Attributes, type Context, type Link, type Span } from '@opentelemetry/api';
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_METHOD_ORIGINAL,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_NETWORK_PEER_ADDRESS,
  ATTR_NETWORK_PEER_PORT,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_PATH,
  ATTR_URL_QUERY,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
} from '@opentelemetry/semantic-conventions';
import { parse as parseForwarded } from 'forwarded-parse';
import { hasRecordedError } from './spans';

const tracer = trace.getTracer('telemetry-kit');

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'QUERY']);
/** Query keys that carry credentials in signed URLs: their values never reach a span (the HTTP instrumentation's list). */
const REDACTED_QUERY_KEYS = ['sig', 'Signature', 'AWSAccessKeyId', 'X-Goog-Signature', 'X-Amz-Signature', 'X-Amz-Credential', 'X-Amz-Security-Token'];
const DEFAULT_PORTS: Record<string, number> = { http: 80, https: 443 };
/** A Host header (or Forwarded host): a name or IPv4 address, or an IPv6 address in brackets, then an optional port. */
const HOST = /^(?:\[(?<ipv6>[^\]]+)\]|(?<name>[^:[\]]+))(?::(?<port>[^:]*))?$/;
/** error.type of a request whose connection closed before the whole answer was sent (the client left, or the shutdown cut it). */
const CLIENT_LEFT = 'aborted';

type Request = IncomingMessage & { route?: { path?: unknown }; baseUrl?: string };

export interface TraceRequestsOptions {
  /** Paths answered without a span: the health and readiness probes. */
  untracedPaths: string[];
  /**
   * Whether the callers are our own (behind our own proxies): then their
   * traceparent and baggage continue our trace, and `Forwarded` /
   * `X-Forwarded-*` say who the client was. False where the service faces the
   * internet: each request starts a new trace that our sampler decides and
   * that links to the caller's span (an outside traceparent would choose our
   * trace id and, with `-00`, switch tracing off), the caller's baggage is
   * dropped, and client and server are read from the connection itself.
   */
  trustCaller: boolean;
}

/**
 * The SERVER span of each request, as the first Express middleware, on the
 * API only. It makes the span active for everything the request runs and
 * ends it when the response is done, named after the route that answered
 * ("GET /users/:id"), with the stable HTTP server conventions.
 *
 * It replaces @opentelemetry/instrumentation-http's incoming side, whose
 * wrapper around every server `emit` and listener costs more than the span
 * itself (docs/performance.md, "Server spans: the middleware and the official
 * instrumentation"). test/server-spans.test.mts sends the same requests to both
 * and compares the spans; its DIFFERENCES list where they differ and why.
 */
export function traceRequests({ untracedPaths, trustCaller }: TraceRequestsOptions) {
  return function traceRequest(request: Request, response: ServerResponse, next: () => void): void {
    const { path, query } = requestTarget(request.url ?? '/');
    if (path !== undefined && untracedPaths.includes(path)) return next();
    keepRouteBase(request);
    const incoming = propagation.extract(ROOT_CONTEXT, request.headers);
    const parent = trustCaller ? incoming : ROOT_CONTEXT;
    const method = normalizeMethod(request.method);
    const span = tracer.startSpan(
      method === '_OTHER' ? 'HTTP' : method,
      {
        kind: SpanKind.SERVER,
        attributes: requestAttributes(request, method, path, query, trustCaller),
        links: trustCaller ? [] : callerLink(incoming),
      },
      parent,
    );
    // 'close' comes once the response is done, or once the connection is gone.
    response.once('close', () => endServerSpan(span, request, response, method));
    // Unlike the official instrumentation, the request and response are not bound to
    // the span's context (context.bind): at 1,000 requests/s that cost 30–75 µs of
    // CPU a request (docs/performance.md, "Listeners on the request and response").
    // So a listener added with request.on('data') runs outside it; a handler that
    // reads its body that way binds the request itself, and express.json() and
    // `for await` keep the context as they are (test/server-spans-routes.test.mts).
    context.with(trace.setSpan(parent, span), next);
  };
}

const ROUTE = Symbol('route');
const ROUTE_BASE = Symbol('where the route is mounted');
type RouteKeeping = Request & { [ROUTE]?: unknown; [ROUTE_BASE]?: string };
const keepingRouteBase = new WeakSet<object>();

/**
 * Keeps where the route that answered is mounted, as Express sets the route.
 * When an error leaves a Router mounted at /users, Express puts
 * `req.baseUrl` back to the app's while `req.route` stays the router's, and
 * the span would read "GET /:id" (test/server-spans-routes.test.mts). So an
 * accessor on the app's request prototype (the object Express makes per app,
 * with its own `app`), installed once, notes `baseUrl` with each route.
 */
function keepRouteBase(request: Request): void {
  const prototype = Object.getPrototypeOf(request) as object;
  if (keepingRouteBase.has(prototype) || !Object.hasOwn(prototype, 'app')) return;
  keepingRouteBase.add(prototype);
  Object.defineProperty(prototype, 'route', {
    configurable: true,
    get(this: RouteKeeping) {
      return this[ROUTE];
    },
    set(this: RouteKeeping, route: unknown) {
      this[ROUTE] = route;
      this[ROUTE_BASE] = this.baseUrl;
    },
  });
}

/** A request target in absolute form (RFC 9112 §3.2.2), `http://user:pass@host`, then the path and query. */
const ABSOLUTE_FORM = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*(.*)$/s;

/**
 * The path and query of the request target, as Express routes them: no
 * fragment, and no dot segments resolved. A target in absolute form
 * (`GET http://user:pass@host/users/1`) gives its path alone, never its user
 * info; any other form but a path (`*`) gives neither.
 */
function requestTarget(target: string): { path?: string; query?: string } {
  const relative = target.startsWith('/') ? target : ABSOLUTE_FORM.exec(target)?.[1];
  if (relative === undefined) return {};
  const fragmentAt = relative.indexOf('#');
  const pathAndQuery = fragmentAt === -1 ? relative : relative.slice(0, fragmentAt);
  const queryAt = pathAndQuery.indexOf('?');
  const path = (queryAt === -1 ? pathAndQuery : pathAndQuery.slice(0, queryAt)) || '/';
  return queryAt === -1 ? { path } : { path, query: pathAndQuery.slice(queryAt + 1) };
}

function callerLink(incoming: Context): Link[] {
  const caller = trace.getSpanContext(incoming);
  return caller && isSpanContextValid(caller) ? [{ context: caller }] : [];
}

function requestAttributes(request: Request, method: string, path: string | undefined, query: string | undefined, trustCaller: boolean): Attributes {
  const { socket, headers } = request;
  const forwarded = trustCaller ? forwardedBy(request) : {};
  const scheme = forwarded.proto ?? ((socket as TLSSocket).encrypted ? 'https' : 'http');
  const attributes: Attributes = {
    [ATTR_HTTP_REQUEST_METHOD]: method,
    [ATTR_URL_SCHEME]: scheme,
    [ATTR_NETWORK_PEER_ADDRESS]: socket.remoteAddress,
    [ATTR_NETWORK_PEER_PORT]: socket.remotePort,
    [ATTR_NETWORK_PROTOCOL_VERSION]: request.httpVersion,
    [ATTR_CLIENT_ADDRESS]: forwarded.for ?? socket.remoteAddress,
  };
  const server = serverAddress(forwarded.host ?? headers.host, scheme);
  if (server.address !== undefined) attributes[ATTR_SERVER_ADDRESS] = server.address;
  if (server.port !== undefined) attributes[ATTR_SERVER_PORT] = server.port;
  if (path !== undefined) attributes[ATTR_URL_PATH] = path;
  if (query !== undefined) attributes[ATTR_URL_QUERY] = redact(query);
  if (headers['user-agent'] !== undefined) attributes[ATTR_USER_AGENT_ORIGINAL] = headers['user-agent'];
  if (method !== request.method) attributes[ATTR_HTTP_REQUEST_METHOD_ORIGINAL] = request.method;
  return attributes;
}

/**
 * What the caller's proxies say about the original request (semantic
 * conventions, HTTP server spans): RFC 7239 `Forwarded` first, then
 * `X-Forwarded-For`, `X-Forwarded-Host` and `X-Forwarded-Proto`, in the
 * HTTP instrumentation's order. Only read from trusted callers.
 */
function forwardedBy({ headers }: Request): { for?: string; host?: string; proto?: string } {
  const entries = headers.forwarded ? forwardedEntries(headers.forwarded) : [];
  const xFor = firstValue(headers['x-forwarded-for']);
  const xProto = firstValue(headers['x-forwarded-proto'])?.toLowerCase();
  const entryFor = entries.find((entry) => entry.for)?.for ?? xFor;
  const proto = entries.find((entry) => entry.proto)?.proto?.toLowerCase() ?? xProto;
  return {
    for: entryFor ? withoutPort(entryFor) : undefined,
    host: entries.find((entry) => entry.host)?.host ?? firstValue(headers['x-forwarded-host']),
    proto: proto === 'http' || proto === 'https' ? proto : undefined,
  };
}

function forwardedEntries(header: string): Array<{ for?: string; host?: string; proto?: string }> {
  try {
    return parseForwarded(header);
  } catch {
    return []; // not RFC 7239: ignored, as the HTTP instrumentation does
  }
}

function firstValue(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  return value?.split(',')[0]!.trim() || undefined;
}

/** `1.2.3.4:5678` → `1.2.3.4`, `[::1]:80` → `::1` (the HTTP instrumentation's removePortFromAddress). */
function withoutPort(address: string): string {
  try {
    const { hostname } = new URL(`http://${address}`);
    return hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  } catch {
    return address;
  }
}

/** server.address without the brackets of an IPv6 address; server.port only when it is a real port (else left out). */
function serverAddress(value: string | undefined, scheme: string): { address?: string; port?: number } {
  const match = value ? HOST.exec(value) : null;
  if (!match) return {};
  const { ipv6, name, port } = match.groups!;
  if (port === undefined) return { address: ipv6 ?? name, port: DEFAULT_PORTS[scheme] };
  const number = /^\d{1,5}$/.test(port) ? Number(port) : 0;
  return { address: ipv6 ?? name, port: number >= 1 && number <= 65535 ? number : undefined };
}

/**
 * Route, name and status once the response is done or the connection has
 * gone. A 5xx is an error of the server span; so is a connection that closed
 * before the whole answer was sent (error.type `aborted`: the client left, or
 * the server cut it when its shutdown's grace ran out), with the status code
 * when it had been sent. An error the app recorded on this span (recordError) keeps
 * its description.
 */
function endServerSpan(span: Span, request: Request, response: ServerResponse, method: string): void {
  // Noted with this route, unless a sub-app without the accessor set it (then its own property hides it).
  const noted = (request as RouteKeeping)[ROUTE] === request.route ? (request as RouteKeeping)[ROUTE_BASE] : undefined;
  // The mount as requested, not its template: mount routers at literal paths (README).
  const base = noted ?? request.baseUrl ?? '';
  const route = typeof request.route?.path === 'string' ? `${base}${request.route.path}` : undefined;
  if (route !== undefined) {
    span.setAttribute(ATTR_HTTP_ROUTE, route);
    span.updateName(`${method === '_OTHER' ? 'HTTP' : method} ${route}`);
  }
  if (response.headersSent) span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, response.statusCode);
  const serverError = response.headersSent && response.statusCode >= 500;
  if (serverError) span.setAttribute(ATTR_ERROR_TYPE, String(response.statusCode));
  // A handler that fails after its headers went out closes the connection too: that
  // is not the client leaving, and the error the app recorded keeps its description.
  const described = hasRecordedError(span);
  if (!described && !response.writableFinished) {
    if (!serverError) span.setAttribute(ATTR_ERROR_TYPE, CLIENT_LEFT);
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'the connection closed before the whole response was sent' });
  } else if (!described && serverError) {
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
  span.end();
}

function normalizeMethod(method: string | undefined): string {
  const upper = (method ?? 'GET').toUpperCase();
  return KNOWN_METHODS.has(upper) ? upper : '_OTHER';
}

/** Decoded before it is checked (`%73ig` is `sig`), and written back as the HTTP instrumentation writes it. */
function redact(query: string): string {
  const params = new URLSearchParams(query);
  for (const key of REDACTED_QUERY_KEYS) if (params.has(key)) params.set(key, 'REDACTED');
  return params.toString();
}
