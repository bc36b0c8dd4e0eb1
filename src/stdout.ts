import SonicBoom from 'sonic-boom';

/*
 * Where the log lines go: stdout, written asynchronously by sonic-boom, as
 * pino does by default, with one difference that decides whether the process
 * can stop. Pino's default destination flushes synchronously when the process
 * exits, and sonic-boom's synchronous flush retries a failed write every
 * 100 ms, forever. When the reader of stdout has gone (`| head`, a parent that
 * exited) and the service had written nothing since, the shutdown's last
 * lines are still queued behind a write whose EPIPE has not come back yet:
 * process.exit never returns, and SIGTERM is ignored until SIGKILL (a reader
 * that is there but never reads does the same, with EAGAIN).
 * Here nothing writes at exit: the shutdown waits, within a bound, for the
 * queued lines (closeStdout), then exits whatever stdout does.
 */
// Through process.stdout.fd, as pino does: creating process.stdout puts a pipe in
// non-blocking mode, so a reader that stops reading makes writes wait (EAGAIN,
// retried), rather than block a thread that process.exit would wait for.
const stream = new SonicBoom({ fd: process.stdout.fd });
let open = true;

// EPIPE: nobody reads stdout any more. Drop the lines from now on, never the service.
stream.on('error', () => {
  open = false;
});

/** The destination the loggers write to. */
export const stdout = {
  write(line: string): void {
    if (open) stream.write(line);
  },
};

/**
 * Writes out what is queued, waiting at most `timeoutMs`; later lines are
 * dropped. Called last, just before the process exits.
 */
export function closeStdout(timeoutMs: number): Promise<void> {
  if (!open) return Promise.resolve();
  open = false;
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    stream.once('close', done);
    stream.once('error', done);
    stream.end();
  });
}
