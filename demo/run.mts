/*
 * npm run demo: the whole data path on one machine, no cluster, no Sentry
 * account needed. Builds the collector if missing, starts it with
 * collector/config.yaml, starts `gateway` and `users` (as in Kubernetes),
 * sends the seed's requests, and draws each trace as the collector received
 * it. Then keeps running for your own curls until Ctrl-C
 * (`npm run demo -- --once` exits after the first round).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readSync, closeSync, writeFileSync, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { COLLECTOR_BINARY } from '../test/support/collector.mts';
import { startDemoCollector } from './collector-source.mts';
import { ROOT, Service, freePort } from '../test/support/service.mts';
import { parseLine, type LogRecord, type Span } from './otlp-json.mts';
import { drawTrace } from './waterfall.mts';

const once = process.argv.includes('--once');
const color = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
const style = { color, barWidth: Math.max(20, Math.min(50, (process.stdout.columns ?? 100) - 70)) };
const bold = (text: string) => (color ? `\x1b[1m${text}\x1b[0m` : text);
const dim = (text: string) => (color ? `\x1b[2m${text}\x1b[0m` : text);

const DEMO_DIR = join(ROOT, '.cache/demo');
const RECEIVED = join(DEMO_DIR, 'received.jsonl');
const SETTLE_MS = 1_500; // a trace is drawn once no span of it has arrived for this long
const REQUESTS = ['/users/42', '/users/123', '/chain/123', '/error', '/users/not%20valid!'];

/** Follows the file exporter's output: spans and logs grouped by trace as they arrive. */
class ReceivedTraces {
  private offset = 0;
  private partial = '';
  private readonly spans = new Map<string, Span[]>();
  private readonly logs = new Map<string, LogRecord[]>();
  private readonly lastArrival = new Map<string, number>();
  private readonly drawn = new Set<string>();

  poll(): void {
    if (!existsSync(RECEIVED)) return;
    const fd = openSync(RECEIVED, 'r');
    const buffer = Buffer.alloc(1 << 20);
    let read: number;
    while ((read = readSync(fd, buffer, 0, buffer.length, this.offset)) > 0) {
      this.offset += read;
      this.partial += buffer.subarray(0, read).toString('utf8');
    }
    closeSync(fd);
    const lines = this.partial.split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines.filter(Boolean)) {
      const { spans, logs } = parseLine(line);
      for (const span of spans) {
        this.spans.set(span.traceId, [...(this.spans.get(span.traceId) ?? []), span]);
        this.lastArrival.set(span.traceId, Date.now());
      }
      for (const log of logs) this.logs.set(log.traceId, [...(this.logs.get(log.traceId) ?? []), log]);
    }
  }

  settled(traceId: string): boolean {
    const last = this.lastArrival.get(traceId);
    return last !== undefined && Date.now() - last >= SETTLE_MS;
  }

  draw(traceId: string, title?: string): string {
    this.drawn.add(traceId);
    return drawTrace(this.spans.get(traceId)!, this.logs.get(traceId) ?? [], style, title);
  }

  /** Traces (from your own curls) that have settled and were not drawn yet. */
  newlySettled(): string[] {
    return [...this.lastArrival.keys()].filter((id) => !this.drawn.has(id) && this.settled(id));
  }
}

async function buildCollectorWithProgress(): Promise<void> {
  if (existsSync(COLLECTOR_BINARY)) return;
  console.log(bold('Building the OpenTelemetry Collector (first run only: about 2 minutes) …'));
  const build = spawn('bash', [join(ROOT, 'collector/build.sh')], { stdio: ['ignore', 'ignore', 'pipe'] });
  const log = createWriteStream(join(DEMO_DIR, 'collector-build.log'));
  build.stderr.pipe(log);
  const started = Date.now();
  const ticker = setInterval(() => {
    const seconds = Math.round((Date.now() - started) / 1000);
    if (process.stdout.isTTY) process.stdout.write(`\r  building … ${seconds} s`);
    else if (seconds % 15 === 0) console.log(`  building … ${seconds} s`);
  }, 1000);
  const code = await new Promise<number | null>((resolve) => build.on('exit', resolve));
  clearInterval(ticker);
  if (process.stdout.isTTY) process.stdout.write('\n');
  if (code !== 0) throw new Error(`the collector build failed: see ${join(DEMO_DIR, 'collector-build.log')}`);
}

function sentryEnv(): Record<string, string> {
  const { SENTRY_OTLP_TRACES_URL, SENTRY_OTLP_LOGS_URL, SENTRY_PUBLIC_KEY } = process.env;
  if (!SENTRY_OTLP_TRACES_URL || !SENTRY_OTLP_LOGS_URL || !SENTRY_PUBLIC_KEY) return { COLLECTOR_EXPORTERS: '[debug, file]' };
  return { COLLECTOR_EXPORTERS: '[debug, file, otlp_http/sentry]', SENTRY_OTLP_TRACES_URL, SENTRY_OTLP_LOGS_URL, SENTRY_PUBLIC_KEY };
}

async function main(): Promise<void> {
  mkdirSync(DEMO_DIR, { recursive: true });
  writeFileSync(RECEIVED, '');
  const sentry = sentryEnv();
  // The built binary, or (no Go) the collector image with Docker or Podman: demo/collector-source.mts.
  const collector = await startDemoCollector(
    { ...sentry, COLLECTOR_FILE_PATH: RECEIVED, DEBUG_VERBOSITY: 'basic' },
    { grpc: once ? await freePort() : 4317, detached: true, log: join(DEMO_DIR, 'collector-build.log') },
    buildCollectorWithProgress,
  );
  const exporting = { OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint, OTEL_BSP_SCHEDULE_DELAY: '200' };
  // Own process groups: Ctrl-C reaches only the demo, which stops the services first so their last spans reach the collector.
  const users = await Service.start({ ...exporting, OTEL_SERVICE_NAME: 'users', PORT: String(once ? await freePort() : 8081) }, { detached: true });
  const gateway = await Service.start({
    ...exporting,
    OTEL_SERVICE_NAME: 'gateway',
    DOWNSTREAM_URL: users.url,
    PORT: String(once ? await freePort() : 8080),
  }, { detached: true });
  const stopAll = async () => {
    await Promise.all([gateway.stop(), users.stop()]);
    await collector.stop();
    writeFileSync(join(DEMO_DIR, 'collector.log'), collector.output);
  };

  console.log(`${bold('Running:')} collector ${collector.endpoint} → ${sentry.COLLECTOR_EXPORTERS}`);
  console.log(`         gateway ${gateway.url}  →  users ${users.url}`);
  if (!sentry.SENTRY_OTLP_TRACES_URL) console.log(dim('         (Sentry is off: set SENTRY_OTLP_TRACES_URL, SENTRY_OTLP_LOGS_URL and SENTRY_PUBLIC_KEY to send there too)'));

  const traces = new ReceivedTraces();
  const sent = new Map<string, string>();
  console.log(`\n${bold('Requests')} (each sent with a fresh W3C traceparent, as a traced client would):`);
  for (const path of REQUESTS) {
    const traceId = crypto.randomUUID().replaceAll('-', '');
    const response = await fetch(`${gateway.url}${path}`, { headers: { traceparent: `00-${traceId}-${traceId.slice(0, 16)}-01` } });
    console.log(`  GET ${path.padEnd(22)} → ${response.status} ${dim((await response.text()).slice(0, 70))}`);
    sent.set(traceId, `GET ${path} → ${response.status}`);
  }

  console.log(`\n${bold('Traces, as the collector received them')} ${dim('(the demo keeps every trace and decides after 1 s; the cluster keeps errors, slow traces and 10% of the rest)')}`);
  const deadline = Date.now() + 30_000;
  while ([...sent.keys()].some((id) => !traces.settled(id)) && Date.now() < deadline) {
    await sleep(250);
    traces.poll();
  }
  const missing = [...sent.keys()].filter((id) => !traces.settled(id));
  if (missing.length > 0) {
    await stopAll();
    throw new Error(`no spans arrived for trace(s) ${missing.join(', ')} within 30 s; the collector said:\n${collector.output}`);
  }
  for (const [traceId, title] of sent) console.log(`\n${traces.draw(traceId, title)}`);
  console.log(`\n${dim('Look a trace up in Sentry by its id (Explore › Traces). The collector log: .cache/demo/collector.log')}`);

  if (once) {
    await stopAll();
    return;
  }

  console.log(`\n${bold('Try it yourself')} (new traces are drawn here as they arrive; Ctrl-C stops everything):`);
  for (const path of ['/users/42', '/users/123', '/chain/123', '/work?ms=250', '/error']) console.log(`  curl -s ${gateway.url}${path}`);
  let stopping = false;
  process.on('SIGINT', () => {
    if (stopping) process.exit(1);
    stopping = true;
    console.log('\nStopping (the services flush their spans) …');
    void stopAll().then(() => process.exit(0));
  });
  for (;;) {
    await sleep(500);
    traces.poll();
    for (const traceId of traces.newlySettled()) console.log(`\n${traces.draw(traceId)}`);
  }
}

main().catch((error: unknown) => {
  console.error(`demo failed: ${(error as Error).message}`);
  process.exit(1);
});
