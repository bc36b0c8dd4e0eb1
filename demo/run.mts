/*
 * npm run demo: the whole data path on one machine, no cluster, no Sentry
 * account needed. Builds the collector if missing, starts it with
 * collector/config.yaml, starts `gateway` and `users` (as in Kubernetes),
 * sends the seed's requests, and draws each trace as the collector received
 * it. Then keeps running for your own curls until Ctrl-C
 * (`npm run demo -- --once` exits after the first round, on free ports).
 *
 * However it ends (Ctrl-C, SIGTERM, SIGHUP or a closed terminal, npm going
 * away, a child that crashes, an error), it stops everything it started: the
 * services first, so that their last spans reach the collector, then the
 * collector. The children run in process groups of their own, so a Ctrl-C at
 * the terminal reaches the demo only and this order holds.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { once as eventOnce } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { Collector, COLLECTOR_BINARY } from '../harness/collector.mts';
import { freePort } from '../harness/loopback.mts';
import { ROOT, Service } from '../harness/service.mts';
import { DEMO_PORTS as PORTS, describeBusyPort, whoListensOn } from './ports.mts';
import { ReceivedTraces } from './received-traces.mts';
import { ImageCollector, startDemoCollector } from './collector-source.mts';

const once = process.argv.includes('--once');
// `npm run demo --once` (no `--`) hands the flag to npm, which passes it on as npm_config_once.
if (!once && process.env.npm_config_once !== undefined) {
  console.error('npm took --once for itself: to run the demo once, `npm run demo -- --once`');
  process.exit(2);
}
const color = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
const style = { color, barWidth: Math.max(20, Math.min(50, (process.stdout.columns ?? 100) - 70)) };
const bold = (text: string) => (color ? `\x1b[1m${text}\x1b[0m` : text);
const dim = (text: string) => (color ? `\x1b[2m${text}\x1b[0m` : text);

const DEMO_DIR = join(ROOT, '.cache/demo');
const RECEIVED = join(DEMO_DIR, 'received.jsonl');
const REQUESTS = ['/users/42', '/users/123', '/chain/123', '/error', '/users/not%20valid!'];
const TRY_PATHS = ['/users/42', '/users/123', '/chain/123', '/work?ms=250', '/error'];
/** After the services stop: how long the collector's output must stay unchanged (tail sampling waits 1 s) before it stops. */
const QUIET_MS = 2_500;

/** Everything the demo started, so that every way of ending can stop it. */
const started: { build?: ChildProcess; collector?: Promise<Collector | ImageCollector | undefined>; services: Array<Promise<Service | undefined>> } = { services: [] };
let following: ReceivedTraces | undefined; // set once the demo draws your own requests
let ending: Promise<never> | undefined;
let hurry = false;

async function main(): Promise<void> {
  const ports = once ? { collector: await freePort(), gateway: await freePort(), users: await freePort() } : PORTS;
  if (!once) await checkPortsFree();
  mkdirSync(DEMO_DIR, { recursive: true });
  writeFileSync(RECEIVED, '');

  const sentry = sentryEnv();
  const collector = await startCollector(sentry, ports.collector);
  // Sentry files what the demo sends under the environment "local" (minikube: development, EKS: production).
  // With SENTRY_DSN, the services' Sentry SDK makes each error an Issue too, linked to its trace.
  const issues: Record<string, string> = process.env.SENTRY_DSN ? { SENTRY_DSN: process.env.SENTRY_DSN } : {};
  const exporting = { OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint, DEPLOYMENT_ENVIRONMENT: 'local', ...issues };
  const users = await startService('users', { ...exporting, PORT: String(ports.users) });
  const gateway = await startService('gateway', { ...exporting, DOWNSTREAM_URL: users.url, PORT: String(ports.gateway) });

  console.log(`${bold('Running:')} collector ${collector.endpoint} → ${sentry.COLLECTOR_EXPORTERS}`);
  console.log(`         gateway ${gateway.url}  →  users ${users.url}`);
  if (!sentry.SENTRY_OTLP_TRACES_URL) console.log(dim('         (Sentry is off: set SENTRY_OTLP_TRACES_URL, SENTRY_OTLP_LOGS_URL and SENTRY_PUBLIC_KEY to send there too)'));
  console.log(dim(`         (errors as Sentry Issues: ${process.env.SENTRY_DSN ? 'on, SENTRY_DSN is set' : 'off, set SENTRY_DSN for them'})`));

  const traces = new ReceivedTraces(RECEIVED, style);
  const sent: string[] = [];
  console.log(`\n${bold('Requests')} (each sent with a fresh W3C traceparent, as a traced client would):`);
  for (const path of REQUESTS) {
    const traceId = crypto.randomUUID().replaceAll('-', '');
    const response = await fetch(`${gateway.url}${path}`, { headers: { traceparent: `00-${traceId}-${traceId.slice(0, 16)}-01` } });
    console.log(`  GET ${path.padEnd(22)} → ${response.status} ${dim((await response.text()).slice(0, 70))}`);
    sent.push(traceId);
  }

  console.log(`\n${bold('Traces, as the collector received them')} ${dim('(the demo keeps every trace and decides after 1 s; the cluster keeps errors, slow traces and 10% of the rest)')}`);
  const deadline = Date.now() + 30_000;
  while (sent.some((id) => !traces.settled(id)) && Date.now() < deadline) {
    await sleep(250);
    traces.poll();
  }
  const missing = sent.filter((id) => !traces.settled(id));
  if (missing.length > 0) throw new Error(`no spans arrived for trace(s) ${missing.join(', ')} within 30 s; the collector said:\n${collector.output}`);
  for (const traceId of traces.takeReady()) console.log(`\n${traces.draw(traceId)}`);
  const lookItUp = sentry.SENTRY_OTLP_TRACES_URL ? 'Look a trace up in Sentry by its id (Explore › Traces). ' : '';
  console.log(`\n${dim(`${lookItUp}The collector log: .cache/demo/collector.log`)}`);
  if (once) return end(0);

  console.log(`\n${bold('Try it yourself')} (each trace is drawn here once it has arrived; Ctrl-C stops everything):`);
  for (const path of TRY_PATHS) console.log(`  curl -s -w '\\n' '${gateway.url}${path}'`);
  following = traces;
  for (;;) {
    await sleep(500);
    traces.poll();
    for (const traceId of traces.takeReady()) console.log(`\n${traces.draw(traceId)}`);
  }
}

/**
 * Starts the collector the services export to: the built binary (built first
 * when needed), or without Go the collector image with Docker or Podman
 * (demo/collector-source.mts).
 */
async function startCollector(sentry: Record<string, string>, grpcPort: number): Promise<Collector | ImageCollector> {
  stillStarting();
  const env = { ...sentry, COLLECTOR_FILE_PATH: RECEIVED, DEBUG_VERBOSITY: 'basic' };
  const starting = startDemoCollector(env, { grpc: grpcPort, detached: true, log: join(DEMO_DIR, 'collector-build.log') }, buildCollector);
  started.collector = starting.catch(() => undefined);
  const collector = await starting.catch((error: Error) => Promise.reject(new Error(`the collector did not start: ${error.message}`)));
  watch('collector', collector.process, () => lastLines(collector.output));
  stillStarting();
  return collector;
}

async function buildCollector(): Promise<void> {
  if (existsSync(COLLECTOR_BINARY)) return;
  // Measured with empty Go caches on a 2-core machine: 2 min 18 s, and 3 min 38 s with other work running (README, Two commands).
  console.log(bold('Building the OpenTelemetry Collector, once: 2 to 4 minutes with empty Go caches on 2 cores (collector/build.sh says how far it has got every 15 s) …'));
  // Its own process group, like the other children; collector/build.sh passes a stop on to go.
  const build = spawn('bash', [join(ROOT, 'collector/build.sh')], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  started.build = build;
  createInterface({ input: build.stderr! }).on('line', (line) => console.log(`  ${line}`));
  const [code] = await eventOnce(build, 'exit');
  started.build = undefined;
  stillStarting();
  if (code !== 0) throw new Error('the collector build failed (its output is above; the whole log is .cache/collector/build.log)');
}

async function startService(name: string, env: Record<string, string>): Promise<Service> {
  stillStarting();
  const starting = Service.start({ ...env, OTEL_SERVICE_NAME: name }, { detached: true });
  started.services.push(starting.catch(() => undefined));
  const service = await starting.catch((error: Error) => Promise.reject(new Error(`${name} did not start: ${error.message}`)));
  watch(name, service.process, () => service.lastWords());
  stillStarting();
  return service;
}

/** A child that exits while the demo runs ends the demo, saying why. */
function watch(name: string, child: ChildProcess, lastWords: () => string): void {
  child.once('exit', (code, signal) => {
    if (ending) return;
    const how = signal ? `killed by ${signal}` : `exit code ${code}`;
    void end(1, `${name} stopped on its own (${how}). What it said last:\n${lastWords()}`);
  });
}

/** Throws once the demo is ending, so that nothing new starts (end() stops what has). */
function stillStarting(): void {
  if (ending) throw new Error('stopping');
}

async function checkPortsFree(): Promise<void> {
  const busy: string[] = [];
  for (const [use, port] of Object.entries(PORTS)) {
    const holders = await whoListensOn(port);
    if (holders) busy.push(describeBusyPort(port, use, holders));
  }
  if (busy.length > 0) throw new Error(`${busy.join('\n')}\n(The interactive demo uses ports ${Object.values(PORTS).join(', ')}; \`npm run demo -- --once\` picks free ones.)`);
}

function sentryEnv(): Record<string, string> {
  const { SENTRY_OTLP_TRACES_URL, SENTRY_OTLP_LOGS_URL, SENTRY_PUBLIC_KEY } = process.env;
  if (!SENTRY_OTLP_TRACES_URL || !SENTRY_OTLP_LOGS_URL || !SENTRY_PUBLIC_KEY) return { COLLECTOR_EXPORTERS: '[debug, file]' };
  return { COLLECTOR_EXPORTERS: '[debug, file, otlp_http/sentry]', SENTRY_OTLP_TRACES_URL, SENTRY_OTLP_LOGS_URL, SENTRY_PUBLIC_KEY };
}

function lastLines(text: string, count = 15): string {
  return text.trimEnd().split('\n').slice(-count).join('\n') || '(it said nothing)';
}

/**
 * The one way out: stops the build, the services, then (after drawing the
 * traces still arriving) the collector, says why when it failed, and exits.
 * Called again, it returns the same ending.
 */
function end(code: number, why?: string): Promise<never> {
  ending ??= (async () => {
    signalGroup(started.build, 'SIGTERM');
    const services = (await Promise.all(started.services)).filter((s) => s !== undefined);
    await Promise.all(services.map((service) => service.stop()));
    const collector = await started.collector;
    if (collector && collector.process.exitCode === null && following) {
      await untilQuiet(following);
      for (const traceId of following.takeReady(true)) console.log(`\n${following.draw(traceId)}`);
    }
    await collector?.stop();
    if (collector) writeFileSync(join(DEMO_DIR, 'collector.log'), collector.output);
    if (why) console.error(`\ndemo failed: ${why}`);
    process.exit(code);
  })();
  return ending;
}

/** Waits until the collector has written nothing new for QUIET_MS (at most 10 s). */
async function untilQuiet(traces: ReceivedTraces): Promise<void> {
  const deadline = Date.now() + 10_000;
  let lastChange = Date.now();
  while (!hurry && Date.now() - lastChange < QUIET_MS && Date.now() < deadline) {
    await sleep(100);
    if (traces.poll()) lastChange = Date.now();
  }
}

/** A second stop request, well after the first: stop at once (SIGKILL), without waiting for the flush. */
async function killEverything(): Promise<void> {
  hurry = true;
  signalGroup(started.build, 'SIGKILL');
  for (const child of await Promise.all([...started.services, started.collector])) {
    if (child && child.process.exitCode === null) child.process.kill('SIGKILL');
  }
  const collector = await started.collector;
  if (collector instanceof ImageCollector) collector.removeContainer();
}

function signalGroup(child: ChildProcess | undefined, signal: NodeJS.Signals): void {
  try {
    if (child?.pid) process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

let firstStopRequest = 0;
function requestStop(reason: string): void {
  if (firstStopRequest === 0) {
    firstStopRequest = Date.now();
    if (ending) return; // already ending, after a failure
    console.log(`\n${reason}: stopping the services (they flush their spans), then the collector … (again to stop at once)`);
    void end(0);
  } else if (Date.now() - firstStopRequest > 1_000) {
    // npm passes the terminal's Ctrl-C on to the demo, which also got it from the terminal: only a later one means "now".
    void killEverything();
  }
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => requestStop(signal === 'SIGINT' ? 'Ctrl-C' : signal));
// npm does not pass SIGHUP on, and a shell between npm and the demo dies of SIGTERM without passing it on: when the parent goes, stop.
const parentAtStart = process.ppid;
setInterval(() => process.ppid !== parentAtStart && requestStop('npm or the terminal went away'), 250).unref();
// A closed terminal: writing fails (EIO). console.log ignores it; this ends the demo.
process.stdout.on('error', () => requestStop('the terminal went away'));

main().catch((error: unknown) => end(1, (error as Error).message));
