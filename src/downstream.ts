import http from 'node:http';
import https from 'node:https';

class DownstreamError extends Error {
  override name = 'DownstreamError';
}

const TIMEOUT_MS = 5_000;
const MAX_BODY_BYTES = 1_000_000;

/**
 * GETs JSON from another service with node:http, which the HTTP
 * instrumentation traces: the call becomes a CLIENT span and carries the
 * trace context in its `traceparent` header. (Node's global fetch is not
 * covered by that instrumentation.)
 */
export function getJson(url: URL, signal?: AbortSignal): Promise<unknown> {
  const client = url.protocol === 'https:' ? https : http;
  const timeout = AbortSignal.timeout(TIMEOUT_MS);
  const options = { signal: signal ? AbortSignal.any([signal, timeout]) : timeout };
  return new Promise((resolve, reject) => {
    const request = client.get(url, options, (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) request.destroy(new DownstreamError(`${where(url)} answered with more than ${MAX_BODY_BYTES} bytes`));
        else chunks.push(chunk);
      });
      response.on('error', reject);
      response.on('end', () => {
        if (response.statusCode !== 200) {
          reject(new DownstreamError(`${where(url)} answered ${response.statusCode}`));
          return;
        }
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch {
          reject(new DownstreamError(`${where(url)} answered with a body that is not JSON`));
        }
      });
    });
    request.on('error', (error) =>
      reject(timeout.aborted ? new DownstreamError(`${where(url)} did not answer within ${TIMEOUT_MS} ms`) : error),
    );
  });
}

/** The address called, without its query: a DOWNSTREAM_URL with a wrong path prefix shows in the message. */
function where(url: URL): string {
  return `${url.origin}${url.pathname}`;
}
