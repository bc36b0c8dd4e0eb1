import type { IncomingMessage, ServerResponse } from 'node:http';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, isSpanContextValid, propagation, trace, type Context, type Link, type Span } from '@opentelemetry/api';
import { ATTR_ERROR_TYPE, ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_HTTP_ROUTE } from '@opentelemetry/semantic-conventions';
import { normalizeMethod, requestAttributes, requestTarget } from './http-attributes';
import { hasRecordedError } from './spans';

const tracer = trace.getTracer('telemetry-kit');

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
    // The conventions name a span whose method they do not know (`_OTHER`) `HTTP`.
    const verb = method === '_OTHER' ? 'HTTP' : method;
    const span = tracer.startSpan(
      verb,
      {
        kind: SpanKind.SERVER,
        attributes: requestAttributes(request, method, path, query, trustCaller),
        links: trustCaller ? [] : callerLink(incoming),
      },
      parent,
    );
    // 'close' comes once the response is done, or once the connection is gone.
    response.once('close', () => endServerSpan(span, request, response, verb));
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

function callerLink(incoming: Context): Link[] {
  const caller = trace.getSpanContext(incoming);
  return caller && isSpanContextValid(caller) ? [{ context: caller }] : [];
}

/**
 * Route, name and status once the response is done or the connection has
 * gone. A 5xx is an error of the server span; so is a connection that closed
 * before the whole answer was sent (error.type `aborted`: the client left, or
 * the server cut it when its shutdown's grace ran out), with the status code
 * when it had been sent. An error the app recorded on this span (recordError)
 * keeps its description. `verb` begins the span's name.
 */
function endServerSpan(span: Span, request: Request, response: ServerResponse, verb: string): void {
  // Noted with this route, unless a sub-app without the accessor set it (then its own property hides it).
  const noted = (request as RouteKeeping)[ROUTE] === request.route ? (request as RouteKeeping)[ROUTE_BASE] : undefined;
  // The mount as requested, not its template: mount routers at literal paths (README).
  const base = noted ?? request.baseUrl ?? '';
  const route = typeof request.route?.path === 'string' ? `${base}${request.route.path}` : undefined;
  if (route !== undefined) {
    span.setAttribute(ATTR_HTTP_ROUTE, route);
    span.updateName(`${verb} ${route}`);
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


