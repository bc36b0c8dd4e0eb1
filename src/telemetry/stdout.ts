import SonicBoom from 'sonic-boom';

/*
 * Where log lines go: stdout, written asynchronously by sonic-boom, as pino
 * does by default, with two differences that decide whether the process stays
 * up and can stop:
 * - Pino's default destination flushes synchronously when the process exits,
 *   and sonic-boom's synchronous flush retries a failed write every 100 ms,
 *   forever. When the reader of stdout has gone (`| head`, a parent that
 *   exited), process.exit never returns, and SIGTERM is ignored until SIGKILL
 *   (a reader that is there but never reads does the same, with EAGAIN).
 *   Here nothing writes at exit: the shutdown waits, within a bound, for the
 *   queued lines (closeStdout), then exits whatever stdout does.
 * - A reader that stops reading would make the queue grow without bound:
 *   past MAX_QUEUED_BYTES, lines are dropped (test/shutdown.test.mts, "the
 *   reader of stdout is there but never reads").
 * The service's log lines and the kit's own reports share it.
 */
const MAX_QUEUED_BYTES = 4 * 1024 * 1024;

let stream: SonicBoom | undefined;
let open = true;

// Opened on first use: importing this module opens nothing.
function opened(): SonicBoom {
  if (stream) return stream;
  // Through process.stdout.fd, as pino does: creating process.stdout puts a pipe in
  // non-blocking mode, so a reader that stops reading makes writes wait (EAGAIN,
  // retried), rather than block a thread that process.exit would wait for.
  stream = new SonicBoom({ fd: process.stdout.fd, maxLength: MAX_QUEUED_BYTES });
  // EPIPE: nobody reads stdout any more. Drop the lines from now on, never the service.
  stream.on('error', () => {
    open = false;
  });
  return stream;
}

/** The destination the service's logger and the kit's reports write to. */
export const stdout = {
  write(line: string): void {
    if (open) opened().write(line);
  },
};

/**
 * Writes out what is queued, waiting at most `timeoutMs`; later lines are
 * dropped. Called last, just before the process exits.
 */
export function closeStdout(timeoutMs: number): Promise<void> {
  if (!open || !stream) {
    open = false;
    return Promise.resolve();
  }
  open = false;
  const closing = stream;
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    closing.once('close', done);
    closing.once('error', done);
    closing.end();
  });
}
