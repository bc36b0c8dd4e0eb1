/*
 * The service always stops when asked, within a deadline the pod allows, and
 * says why when it stops on its own: SIGTERM with nobody reading stdout, SIGTERM
 * to `npm start`, a collector that never answers, an exception nobody caught.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { freePort } from '../harness/loopback.mts';
import { OtlpReceiver } from '../harness/otlp-receiver.mts';
import { FAST_EXPORT } from '../harness/pipeline.mts';
import { stopProcess } from '../harness/process.mts';
import { SentryEnvelopes } from '../harness/sentry-envelopes.mts';
import { ROOT, SERVICE_NODE_ARGS, Service, runProgram, type LogLine } from '../harness/service.mts';
import { rssMiB } from '../harness/stats.mts';
import { newTraceparent } from '../harness/traces.mts';
import { waitFor } from '../harness/wait.mts';

const MISBEHAVE = join(ROOT, 'harness/misbehave.cjs');

/** Resolves with the exit code, or with 'hung' (after a SIGKILL) if the process has not exited within `timeoutMs`. */
async function exitWithin(child: ChildProcess, timeoutMs: number): Promise<number | null | 'hung'> {
  const { code, killed } = await stopProcess(child, null, timeoutMs);
  return killed ? 'hung' : code;
}

async function answers(port: number): Promise<boolean> {
  return (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.ok ?? false;
}

/**
 * The built service with its stdout on a socket pair (what a parent process
 * that spawns it with a pipe gives it) or on a real pipe (`| head`), whose
 * reader the test closes.
 */
async function startWithStdout(kind: 'socket pair' | 'pipe', env: Record<string, string>) {
  const port = await freePort();
  let fifoDir: string | undefined;
  let readEnd: number | undefined;
  let stdout: 'pipe' | number = 'pipe';
  if (kind === 'pipe') {
    fifoDir = mkdtempSync(join(tmpdir(), 'stdout-'));
    const fifo = join(fifoDir, 'stdout');
    execFileSync('mkfifo', [fifo]);
    readEnd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK); // a reader first, so opening the write end does not block
    stdout = openSync(fifo, constants.O_WRONLY);
  }
  const child = spawn(process.execPath, SERVICE_NODE_ARGS, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', PORT: String(port), ...env },
    stdio: ['ignore', stdout, 'pipe'],
  });
  if (typeof stdout === 'number') closeSync(stdout);
  let read = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (read += chunk));
  const readFifo = () => {
    const buffer = Buffer.alloc(65_536);
    try {
      for (let n; (n = readSync(readEnd!, buffer)) > 0; ) read += buffer.toString('utf8', 0, n);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
    }
  };
  await waitFor(async () => (await answers(port)) || undefined, 'the service to answer /healthz', 15_000);
  // Its start-up lines written and read: from here on the service writes nothing until the test makes it.
  await waitFor(() => {
    if (readEnd !== undefined) readFifo();
    return read.includes('"msg":"listening"') || undefined;
  }, 'the reader to get the "listening" line');
  return {
    child,
    port,
    /** The reader goes away, as when the demo's parent exits or `head` has read enough. */
    async closeReader() {
      if (readEnd !== undefined) return closeSync(readEnd);
      child.stdout!.destroy();
      await once(child.stdout!, 'close');
    },
    cleanUp() {
      if (child.exitCode === null) child.kill('SIGKILL');
      if (fifoDir) rmSync(fifoDir, { recursive: true, force: true });
    },
  };
}

describe('SIGTERM when stdout is broken', { timeout: 120_000 }, () => {
  // The condition that made SIGTERM ignored forever: the reader has gone, nothing was
  // written since (so no write has failed yet), and the shutdown is quick, so its last
  // lines are still queued behind a write whose EPIPE has not come back when it exits.
  for (const kind of ['socket pair', 'pipe'] as const) {
    it(`exits 0 at once, on a ${kind}, with nothing to flush`, async () => {
      const service = await startWithStdout(kind, { OTEL_TRACES_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none' });
      try {
        await service.closeReader();
        service.child.kill('SIGTERM');
        assert.equal(await exitWithin(service.child, 5_000), 0, 'exits 0 within 5 s (it used to hang until SIGKILL)');
      } finally {
        service.cleanUp();
      }
    });

    it(`exits 0, on a ${kind}, and still delivers the spans of the last request`, async () => {
      const receiver = await OtlpReceiver.start();
      const service = await startWithStdout(kind, { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint });
      try {
        await service.closeReader();
        // A request that writes no line: the spans are queued (default delay), the broken stdout not yet seen.
        const { traceparent, traceId } = newTraceparent();
        assert.equal((await fetch(`http://127.0.0.1:${service.port}/users/42`, { headers: { traceparent } })).status, 200);
        service.child.kill('SIGTERM');
        assert.equal(await exitWithin(service.child, 10_000), 0);
        assert.deepEqual(receiver.trace(traceId).map((span) => span.name).sort(), ['GET /users/:id', 'getUser'], 'the spans were flushed before exit');
      } finally {
        service.cleanUp();
        await receiver.close();
      }
    });
  }

  it('keeps serving, with bounded memory, and exits 0 on SIGTERM, when the reader of stdout is there but never reads', async () => {
    const service = await startWithStdout('pipe', { OTEL_TRACES_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none', NODE_OPTIONS: `--require ${MISBEHAVE}`, MISBEHAVE: 'log-flood' });
    try {
      const before = rssMiB(service.child.pid!);
      // 50 MB of lines into a pipe that holds 64 KiB: what cannot be written waits, up to a bound, then is dropped.
      service.child.kill('SIGUSR2');
      for (let i = 0; i < 50; i += 1) assert.equal((await fetch(`http://127.0.0.1:${service.port}/users/${i}`)).status, 200);
      const grown = rssMiB(service.child.pid!) - before;
      // Measured: +35 MiB with the bound (garbage from formatting the lines), +172 MiB without.
      assert.ok(grown < 60, `resident memory grew by ${grown.toFixed(1)} MiB for 50 MB of lines nobody reads`);
      service.child.kill('SIGTERM');
      assert.equal(await exitWithin(service.child, 5_000), 0, 'exits 0 within 5 s, the lines nobody reads left behind');
    } finally {
      service.cleanUp();
    }
  });
});

describe('npm start', { timeout: 60_000 }, () => {
  interface NpmStart {
    npm: ChildProcess;
    port: number;
    receiver: OtlpReceiver;
    /** Everything npm and the service wrote so far. */
    output(): string;
  }

  /** `npm start` in its own process group, as a terminal runs it, exporting to a receiver; `use` runs once it serves. */
  async function withNpmStart(use: (started: NpmStart) => Promise<void>): Promise<void> {
    const port = await freePort();
    const receiver = await OtlpReceiver.start();
    // Under `npm test`, npm_execpath is the npm that runs the tests; otherwise npm from PATH.
    const [command, prefix] = process.env.npm_execpath?.endsWith('.js') ? [process.execPath, [process.env.npm_execpath]] : ['npm', []];
    const npm = spawn(command, [...prefix, 'start'], {
      cwd: ROOT,
      // Batches that would wait a minute: only the shutdown's flush can deliver them.
      env: { PATH: process.env.PATH ?? '', PORT: String(port), OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY: '60000', OTEL_BLRP_SCHEDULE_DELAY: '60000' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    npm.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    npm.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    try {
      await waitFor(async () => (await answers(port)) || undefined, 'npm start to serve', 20_000);
      await use({ npm, port, receiver, output: () => output });
    } finally {
      try {
        process.kill(-npm.pid!, 'SIGKILL');
      } catch {
        // the group is gone: nothing was left behind
      }
      await receiver.close();
    }
  }

  it('hands SIGTERM to the service: it stops, flushes and leaves nothing listening', () =>
    withNpmStart(async ({ npm, port, receiver, output }) => {
      const { traceparent, traceId } = newTraceparent();
      assert.equal((await fetch(`http://127.0.0.1:${port}/users/123`, { headers: { traceparent } })).status, 200);
      npm.kill('SIGTERM'); // to npm only, as a process manager or `kill <npm pid>` does
      assert.notEqual(await exitWithin(npm, 10_000), 'hung', 'npm exits');
      await waitFor(async () => ((await answers(port)) ? undefined : true), 'nothing to answer on the port any more', 5_000);
      assert.match(output(), /"msg":"stopped"/, `the service itself shut down gracefully: ${output()}`);
      await receiver.waitForSpans(() => receiver.trace(traceId).length >= 4, 'the request\'s spans, flushed at the shutdown', 5_000);
      assert.deepEqual(receiver.trace(traceId).map((span) => span.name).sort(), ['GET /users/:id', 'errorWork', 'getUser', 'middleWork']);
      assert.ok(receiver.logs.some((log) => log.traceId === traceId), 'its log records, flushed too');
    }));

  // The terminal sends SIGINT to npm and the service alike, and npm passes it on: the
  // service gets it twice, milliseconds apart, which must not read as "exit now".
  it('Ctrl-C (SIGINT to its process group): the request in flight is answered, then a graceful stop', () =>
    withNpmStart(async ({ npm, port, output }) => {
      const slow = fetch(`http://127.0.0.1:${port}/work?ms=1500`).then((response) => response.status, () => 'cut');
      await waitFor(() => output().includes('"msg":"middle work started"') || undefined, 'the slow request to be in flight');
      process.kill(-npm.pid!, 'SIGINT');
      assert.equal(await slow, 200, 'the request in flight was answered');
      assert.notEqual(await exitWithin(npm, 10_000), 'hung', 'npm exits');
      assert.match(output(), /"msg":"stopped"/, output());
      assert.doesNotMatch(output(), /second signal/);
    }));
});

describe("the kit's shutdown, called twice (a crash while shutting down)", () => {
  it('flushes once, and says nothing of a second shutdown', () => {
    const program = `
      const { shutdownTelemetry } = require('./dist/instrumentation.js');
      Promise.all([shutdownTelemetry(5000), shutdownTelemetry(5000)]).then(() => console.log(JSON.stringify({ msg: 'both done' })));`;
    const run = runProgram(program, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(run.lines.map((line) => line.msg), ['both done'], run.stdout + run.stderr);
  });
});

describe('the shutdown deadline', { timeout: 60_000 }, () => {
  it('exits on its own within the pod grace period, even when the collector never answers', async () => {
    // A collector that accepts connections and never says a word.
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port: collectorPort } = silent.address() as { port: number };
    const manifest = readFileSync(join(ROOT, 'k8s/base/app/users.yaml'), 'utf8');
    const graceSeconds = Number(/terminationGracePeriodSeconds: (\d+)/.exec(manifest)![1]);
    const preStopSeconds = Number(/preStop:\s*\n\s*sleep: \{ seconds: (\d+) \}/.exec(manifest)![1]);
    const shutdownGraceMs = /name: SHUTDOWN_GRACE_MS\s*\n\s*value: "(\d+)"/.exec(manifest)![1]!;
    const service = await Service.start({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collectorPort}`, SHUTDOWN_GRACE_MS: shutdownGraceMs, ...FAST_EXPORT });
    try {
      for (let i = 0; i < 5; i += 1) assert.equal((await service.get('/users/123')).status, 200);
      // Killed (code null) if it outlives what the kubelet gives it after preStop.
      const code = await service.stop('SIGTERM', (graceSeconds - preStopSeconds) * 1000);
      const announced = service.logs.find((line) => line.msg === 'shutting down')!;
      const deadlineMs = Number(announced.deadline_ms);
      assert.ok(preStopSeconds * 1000 + deadlineMs < graceSeconds * 1000, `preStop ${preStopSeconds} s + deadline ${deadlineMs} ms < terminationGracePeriodSeconds ${graceSeconds} s`);
      assert.equal(code, 0, 'exited 0 before the grace period ended: a telemetry flush that cannot finish is not a failure of the service');
      const undelivered = service.logs.filter((line) => /^spans dropped since the last report/.test(line.msg));
      assert.ok(
        undelivered.reduce((sum, line) => sum + Number(line.lost), 0) >= 5 * 4,
        `the spans that could not leave are reported: ${JSON.stringify(undelivered)}`,
      );
    } finally {
      await service.stop('SIGKILL');
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });
});

describe('an error nobody handled', { timeout: 90_000 }, () => {
  for (const [mode, origin] of [
    ['throw', 'uncaughtException'],
    ['reject', 'unhandledRejection'],
  ] as const) {
    it(`${origin}: one fatal line with the stack and trace ids, the error in Sentry, telemetry flushed, exit 1`, async () => {
      const envelopes = await SentryEnvelopes.start();
      const receiver = await OtlpReceiver.start();
      const service = await Service.start({
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        SENTRY_DSN: envelopes.dsn,
        NODE_OPTIONS: `--require ${MISBEHAVE}`,
        MISBEHAVE: mode,
      });
      try {
        // A request still running when the process crashes: its span must be sent, not lost uncounted.
        const inFlight = service.get('/work?ms=3000').catch(() => undefined);
        await waitFor(() => service.logs.find((line) => line.msg === 'middle work started'), 'the slow request to start');
        service.process.kill('SIGUSR2');
        // Within the crash flush bound (5 s), the cut connections' (1 s) and stdout's (1 s).
        assert.equal(await exitWithin(service.process, 8_000), 1, 'exit 1');
        await inFlight;

        const fatal = service.logs.filter((line: LogLine) => line.level === 'fatal');
        assert.equal(fatal.length, 1, `one fatal line: ${JSON.stringify(service.logs)}`);
        const [line] = fatal as [LogLine];
        assert.equal(line.origin, origin);
        const err = line.err as { message: string; stack: string };
        assert.match(err.stack, /on purpose/);
        assert.match(err.stack, /misbehave\.cjs/);
        const span = receiver.spans.find((s) => s.name === 'misbehaving');
        assert.ok(span, 'the span the error happened in was flushed');
        assert.equal(line.trace_id, span.traceId);
        assert.equal(line.span_id, span.spanId);
        const record = receiver.logs.find((log) => log.severityNumber === 21); // FATAL
        assert.ok(record, 'the fatal line was flushed as an OTLP log record');
        assert.equal(record.traceId, span.traceId);
        assert.match(String(record.attributes['exception.stacktrace']), /on purpose/);
        const cut = receiver.spans.find((s) => s.name === 'GET /work');
        assert.ok(cut, `the server span of the request in flight was sent: ${receiver.spans.map((s) => s.name)}; ${service.logs.map((l) => l.msg).join(' | ')}`);
        assert.equal(cut.attributes['error.type'], 'aborted');

        const events = envelopes.ofType('event').filter((item) => /on purpose/.test(item.payload.exception?.values?.[0]?.value ?? ''));
        assert.equal(events.length, 1, 'one Sentry event');
        assert.equal(events[0]!.payload.exception.values[0].mechanism.handled, false, 'marked unhandled');
        assert.equal(events[0]!.payload.contexts.trace.trace_id, span.traceId, 'in the trace of the span');
      } finally {
        await service.stop('SIGKILL');
        await receiver.close();
        await envelopes.close();
      }
    });
  }
});
