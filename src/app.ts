import { trace } from '@opentelemetry/api';
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response } from 'express';
import { getJson } from './downstream';
import { reportError } from './error-reporting';
import { HttpError } from './http-errors';
import { logger } from './logger';
import { middleWork } from './somework';
import { recordError } from './telemetry';
import { USER_ID_PATTERN, getUser } from './users';

export interface AppOptions {
  /** Base URL of the service that /chain/:id calls. */
  downstreamUrl: string;
  /** False once shutdown has begun: /readyz then answers 503. */
  isReady: () => boolean;
  /** The SERVER span of each request (the kit's traceRequests). */
  traceRequests?: RequestHandler;
}

const MAX_WORK_MS = 5_000;

export function createApp({ downstreamUrl, isReady, traceRequests }: AppOptions): express.Express {
  const app = express();
  if (traceRequests) app.use(traceRequests);
  app.disable('x-powered-by');
  app.set('query parser', 'simple');

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/readyz', (_req, res) => {
    if (isReady()) res.json({ status: 'ready' });
    else res.status(503).json({ status: 'shutting down' });
  });

  app.get('/users/:id', async (req, res) => {
    res.json(await getUser(userId(req), cancelledWhenClientLeaves(res)));
  });

  app.get('/work', async (req, res) => {
    res.json(await middleWork(workDelay(req.query.ms), cancelledWhenClientLeaves(res)));
  });

  app.get('/error', () => {
    throw new Error('this endpoint fails on purpose');
  });

  app.get('/chain/:id', async (req, res) => {
    // Relative to the base, so a DOWNSTREAM_URL with a path prefix keeps it.
    const url = new URL(`users/${encodeURIComponent(userId(req))}`, `${downstreamUrl}/`);
    try {
      res.json(await getJson(url, cancelledWhenClientLeaves(res)));
    } catch (error) {
      if ((error as Error).name === 'AbortError' && res.destroyed) throw error; // our client left first
      // The cause, with the downstream's address, stays in the error's log line (pino writes
      // the cause) and on the client span: none of it goes to the client.
      throw new HttpError(502, 'downstream call failed', { cause: error });
    }
  });

  app.use(notFound);
  app.use(handleError);
  return app;
}

function userId(req: Request): string {
  const id = req.params.id as string;
  if (!USER_ID_PATTERN.test(id)) throw new HttpError(400, 'id must be 1 to 64 letters, digits, "_" or "-"');
  return id;
}

function workDelay(raw: unknown): number {
  // Absent means no sleep; `?ms=5&ms=6` (an array) is as wrong as `?ms=lots`.
  const text = raw === undefined ? '0' : raw;
  const ms = typeof text === 'string' && /^\d{1,4}$/.test(text) ? Number(text) : NaN;
  if (!(ms <= MAX_WORK_MS)) throw new HttpError(400, `ms must be a whole number from 0 to ${MAX_WORK_MS}`);
  return ms;
}

/** Stops the work (and its sleep) when the client goes away before the answer. */
function cancelledWhenClientLeaves(res: Response): AbortSignal {
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  return controller.signal;
}

const notFound: RequestHandler = (req) => {
  throw new HttpError(404, `no route for ${req.method} ${req.path}`);
};

const handleError: ErrorRequestHandler = (error, req, res, next) => {
  // The client went away and its work was cancelled: nothing failed here.
  if (res.destroyed && (error as Error).name === 'AbortError') return;
  const status = statusOf(error);
  if (status >= 500) {
    // Ours, and nobody handled it: keep it on the server span (unless the
    // client's leaving ended it already: the log line below is then the
    // trace's record of it), make it a Sentry issue, answer without details.
    const span = trace.getActiveSpan();
    if (span?.isRecording()) recordError(span, error);
    reportError(error instanceof Error ? error : new Error(String(error)), { request: { method: req.method, url: `${req.protocol}://${req.host}${req.path}` } });
    logger.error({ err: error }, 'request failed');
  }
  // Nobody to answer.
  if (res.destroyed) return;
  // Too late to answer: Express's own handler closes the connection.
  if (res.headersSent) return next(error);
  // A 4xx says what was wrong; a 5xx only what an HttpError chose to say.
  res.status(status).json({ error: status < 500 || error instanceof HttpError ? (error as Error).message : 'internal error' });
};

/**
 * The answer's status: a 4xx the error carries (ours, and Express's own such as
 * a malformed URL) is the client's doing; else an HttpError's own, else 500.
 */
function statusOf(error: unknown): number {
  const status = (error as { status?: unknown }).status;
  if (typeof status === 'number' && status >= 400 && status < 500) return status;
  return error instanceof HttpError ? error.status : 500;
}
