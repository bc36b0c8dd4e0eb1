import type { IncomingMessage, ServerResponse } from 'node:http';
import { SpanKind, SpanStatusCode, context, propagation, trace, type Attributes, type Span } from '@opentelemetry/api';
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
import { outsideCallerLinks } from './untrusted-context';

const tracer = trace.getTracer('users-api-http');

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'QUERY']);
/** Query keys that carry credentials in signed URLs: their values never reach a span (the HTTP instrumentation's list). */
const REDACTED_QUERY_KEYS = ['sig', 'Signature', 'AWSAccessKeyId', 'X-Goog-Signature', 'X-Amz-Signature', 'X-Amz-Credential', 'X-Amz-Security-Token'];

type Request = IncomingMessage & { route?: { path?: unknown }; baseUrl?: string };

/**
 * The SERVER span of each request, as an Express middleware that uses the
 * API only: it continues the caller's trace (or, with
 * TRUST_INCOMING_TRACE_CONTEXT=false, links to it), makes the span active for
 * everything the request runs, and ends it when the response is done, named
 * after the route that answered ("GET /users/:id"). The attributes are the
 * stable HTTP server conventions, as @opentelemetry/instrumentation-http sets
 * them. It replaces that instrumentation's incoming side, whose wrapper
 * around every server `emit` and listener costs more than the span itself
 * (bench/, README "What tracing costs"); outgoing calls keep its CLIENT spans.
 */
export function traceRequests(untracedPaths: string[]) {
  return function traceRequest(request: Request, response: ServerResponse, next: () => void): void {
    const url = request.url ?? '/';
    const queryAt = url.indexOf('?');
    const path = queryAt === -1 ? url : url.slice(0, queryAt);
    const query = queryAt === -1 ? undefined : url.slice(queryAt + 1);
    if (untracedPaths.includes(path)) return next();
    const incoming = propagation.extract(context.active(), request.headers);
    const span = tracer.startSpan(
      request.method ?? 'GET',
      { kind: SpanKind.SERVER, attributes: requestAttributes(request, path, query), links: outsideCallerLinks(incoming) },
      incoming,
    );
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      endServerSpan(span, request, response);
    };
    response.once('finish', end);
    response.once('close', end);
    context.with(trace.setSpan(incoming, span), next);
  };
}

function requestAttributes(request: Request, path: string, query: string | undefined): Attributes {
  const method = normalizeMethod(request.method);
  const [host, port] = (request.headers.host ?? '').split(':');
  const forwardedFor = request.headers['x-forwarded-for'];
  const attributes: Attributes = {
    [ATTR_HTTP_REQUEST_METHOD]: method,
    [ATTR_URL_SCHEME]: 'http',
    [ATTR_URL_PATH]: path,
    [ATTR_NETWORK_PEER_ADDRESS]: request.socket.remoteAddress,
    [ATTR_NETWORK_PEER_PORT]: request.socket.remotePort,
    [ATTR_NETWORK_PROTOCOL_VERSION]: request.httpVersion,
    [ATTR_CLIENT_ADDRESS]: (typeof forwardedFor === 'string' ? forwardedFor.split(',')[0]!.trim() : undefined) || request.socket.remoteAddress,
  };
  if (host) {
    attributes[ATTR_SERVER_ADDRESS] = host;
    attributes[ATTR_SERVER_PORT] = Number(port ?? 80);
  }
  if (query) attributes[ATTR_URL_QUERY] = redact(query);
  if (request.headers['user-agent'] !== undefined) attributes[ATTR_USER_AGENT_ORIGINAL] = request.headers['user-agent'];
  if (method !== request.method) attributes[ATTR_HTTP_REQUEST_METHOD_ORIGINAL] = request.method;
  return attributes;
}

/**
 * Route, name and status code once the response is done; a 5xx is an error on
 * a server span. A request whose client left before any answer has no status code.
 */
function endServerSpan(span: Span, request: Request, response: ServerResponse): void {
  const { route, baseUrl = '' } = request;
  if (typeof route?.path === 'string') {
    span.setAttribute(ATTR_HTTP_ROUTE, baseUrl + route.path);
    span.updateName(`${request.method} ${baseUrl}${route.path}`);
  }
  if (response.headersSent) {
    span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, response.statusCode);
    if (response.statusCode >= 500) {
      span.setAttribute(ATTR_ERROR_TYPE, String(response.statusCode));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
  }
  span.end();
}

function normalizeMethod(method: string | undefined): string {
  const upper = (method ?? 'GET').toUpperCase();
  return KNOWN_METHODS.has(upper) ? upper : '_OTHER';
}

function redact(query: string): string {
  if (!REDACTED_QUERY_KEYS.some((key) => query.includes(key))) return query;
  const params = new URLSearchParams(query);
  for (const key of REDACTED_QUERY_KEYS) if (params.has(key)) params.set(key, 'REDACTED');
  return params.toString();
}
