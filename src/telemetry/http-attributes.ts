import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Attributes } from '@opentelemetry/api';
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_METHOD_ORIGINAL,
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

/*
 * What a SERVER span says about its request, read from the request alone
 * (server-spans.ts adds the route and the answer): the stable HTTP server
 * conventions, as @opentelemetry/instrumentation-http writes them, except
 * where test/server-spans.test.mts lists a difference.
 */

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'QUERY']);
/** Query keys that carry credentials in signed URLs: their values never reach a span (the HTTP instrumentation's list). */
const REDACTED_QUERY_KEYS = ['sig', 'Signature', 'AWSAccessKeyId', 'X-Goog-Signature', 'X-Amz-Signature', 'X-Amz-Credential', 'X-Amz-Security-Token'];
const DEFAULT_PORTS: Record<string, number> = { http: 80, https: 443 };
/** A Host header (or Forwarded host): a name or IPv4 address, or an IPv6 address in brackets, then an optional port. */
const HOST = /^(?:\[(?<ipv6>[^\]]+)\]|(?<name>[^:[\]]+))(?::(?<port>[^:]*))?$/;
/** A request target in absolute form (RFC 9112 §3.2.2), `http://user:pass@host`, then the path and query. */
const ABSOLUTE_FORM = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*(.*)$/s;

/**
 * The path and query of the request target, as Express routes them: no
 * fragment, and no dot segments resolved. A target in absolute form
 * (`GET http://user:pass@host/users/1`) gives its path alone, never its user
 * info; any other form but a path (`*`) gives neither.
 */
export function requestTarget(target: string): { path?: string; query?: string } {
  const relative = target.startsWith('/') ? target : ABSOLUTE_FORM.exec(target)?.[1];
  if (relative === undefined) return {};
  const fragmentAt = relative.indexOf('#');
  const pathAndQuery = fragmentAt === -1 ? relative : relative.slice(0, fragmentAt);
  const queryAt = pathAndQuery.indexOf('?');
  const path = (queryAt === -1 ? pathAndQuery : pathAndQuery.slice(0, queryAt)) || '/';
  return queryAt === -1 ? { path } : { path, query: pathAndQuery.slice(queryAt + 1) };
}

/** The attributes a SERVER span starts with; the caller's proxies' headers are believed only from a trusted caller. */
export function requestAttributes(request: IncomingMessage, method: string, path: string | undefined, query: string | undefined, trustCaller: boolean): Attributes {
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
function forwardedBy({ headers }: IncomingMessage): { for?: string; host?: string; proto?: string } {
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

/** http.request.method: a method the conventions know, else `_OTHER` (the original goes in http.request.method_original). */
export function normalizeMethod(method: string | undefined): string {
  const upper = (method ?? 'GET').toUpperCase();
  return KNOWN_METHODS.has(upper) ? upper : '_OTHER';
}

/** Decoded before it is checked (`%73ig` is `sig`), and written back as the HTTP instrumentation writes it. */
function redact(query: string): string {
  const params = new URLSearchParams(query);
  for (const key of REDACTED_QUERY_KEYS) if (params.has(key)) params.set(key, 'REDACTED');
  return params.toString();
}
