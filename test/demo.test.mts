import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureCollectorBuilt } from '../harness/collector.mts';
import { SentryEnvelopes } from '../harness/sentry-envelopes.mts';
import { ROOT, Service } from '../harness/service.mts';
import { waitFor } from '../harness/wait.mts';
import { describeNeeding } from '../harness/requirements.mts';

/** `npm run demo -- --once` (built already); resolves with its exit code and all it wrote. */
async function demoOnce(env: Record<string, string> = {}): Promise<{ code: number | null; output: string }> {
  const demo = spawn(process.execPath, ['demo/run.mts', '--once'], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  demo.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  demo.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const killer = setTimeout(() => demo.kill('SIGKILL'), 120_000);
  const [code] = (await once(demo, 'exit')) as [number | null];
  clearTimeout(killer);
  return { code, output };
}

describe('npm run demo -- --once', () => {
  it('draws the waterfall of each request from what the real collector received, then exits 0', async () => {
    const { code, output } = await demoOnce();
    assert.equal(code, 0, output);
    assert.doesNotMatch(output, /\x1b\[/, 'no colours when the output is not a terminal');
    assert.match(output, /Sentry is off/);
    assert.doesNotMatch(output, /Look a trace up in Sentry/, 'Sentry is off: nothing to look up there');

    const traces = output.split('\n\n').filter((block) => /^GET \S+ → \d{3}  trace [0-9a-f]{32}/.test(block));
    assert.deepEqual(
      traces.map((block) => block.split('  trace')[0]),
      ['GET /users/42 → 200', 'GET /users/123 → 200', 'GET /chain/123 → 200', 'GET /error → 500', 'GET /users/not%20valid! → 400'],
    );
    const [user42, user123, chain, error] = traces as [string, string, string, string];
    assert.match(user42, /gateway\s+GET \/users\/:id\s+█+\s+[\d.]+ ms server\n\s+gateway\s+getUser/);
    assert.match(user123, /✖ errorWork/);
    assert.match(user123, /· started sleep \+[\d.]+ ms\n\s+· completed sleep/);
    assert.match(user123, /⚑ exception WARN SomeworkError: errorWork failed on purpose \+[\d.]+ ms, stack trace of \d+ lines/);
    assert.match(user123, /✎ log INFO middle work started/, 'the service\'s own log lines sit in the trace too');
    // One trace over two services: the gateway's client call, then the users service beneath it.
    assert.match(chain, /gateway\s+GET \/chain\/:id[^\n]*server\n\s+gateway\s+GET\s[^\n]*client\n\s+users\s+GET \/users\/:id[^\n]*server\n\s+users\s+getUser/);
    assert.match(error, /✖ GET \/error/);
    assert.match(error, /⚑ exception ERROR Error: this endpoint fails on purpose/);
  });

  it('`npm run demo --once`, without the `--`: says how to write it and exits, not the interactive demo on fixed ports', () => {
    const run = spawnSync('npm', ['run', 'demo', '--once'], { cwd: ROOT, env: { PATH: USER_PATH, HOME: process.env.HOME ?? '/root' }, encoding: 'utf8', timeout: 120_000 });
    assert.equal(run.status, 2, run.stdout + run.stderr);
    assert.match(run.stderr, /npm run demo -- --once/);
  });

  it('with SENTRY_DSN: the error of /error is a Sentry Issue too, linked to its trace', async () => {
    const sentry = await SentryEnvelopes.start();
    try {
      const { code, output } = await demoOnce({ SENTRY_DSN: sentry.dsn });
      assert.equal(code, 0, output);
      assert.match(output, /errors as Sentry Issues: on/);
      const errorTrace = /GET \/error → 500  trace ([0-9a-f]{32})/.exec(output)![1];
      const events = sentry.ofType('event').map((item) => item.payload);
      assert.deepEqual(events.map((event) => [event.exception?.values?.[0]?.value, event.contexts?.trace?.trace_id]), [['this endpoint fails on purpose', errorTrace]]);
    } finally {
      await sentry.close();
    }
  });
});

describe('collector/build.sh, as the demo runs it on a first run', () => {
  it('says how far it has got while it compiles, and a stop reaches go', async () => {
    // A copy of collector/ (with the builder, when it is installed here) and an empty Go build cache: a cold compile.
    const folder = mkdtempSync(join(tmpdir(), 'collector-build-'));
    const goCache = join(folder, 'go-build');
    cpSync(join(ROOT, 'collector'), join(folder, 'collector'), { recursive: true });
    if (existsSync(join(ROOT, '.cache/collector/bin'))) cpSync(join(ROOT, '.cache/collector/bin'), join(folder, '.cache/collector/bin'), { recursive: true });
    const build = spawn('bash', [join(folder, 'collector/build.sh')], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', GOCACHE: goCache, COLLECTOR_BUILD_PROGRESS_S: '3' },
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    });
    let output = '';
    build.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const exited = once(build, 'exit');
    const fromThisBuild = () => readdirSync('/proc').filter((pid) => /^\d+$/.test(pid) && environOf(pid).includes(`GOCACHE=${goCache}`));
    try {
      await waitFor(() => (/ \d+ of \d+ packages compiled\n[^]* \d+ of \d+ packages compiled/.test(output) ? true : undefined), `two progress lines:\n${output}`, 240_000);
      const [first, second] = [...output.matchAll(/ (\d+) of (\d+) packages compiled/g)].map((m) => Number(m[1]));
      assert.ok(second! > first!, `the count grows:\n${output}`);
      process.kill(-build.pid!, 'SIGTERM'); // as the demo stops it
      const [code] = await Promise.race([exited, sleep(30_000, undefined, { ref: false }).then(() => assert.fail('the build did not end within 30 s of SIGTERM'))]);
      assert.notEqual(code, 0);
      await waitFor(() => (fromThisBuild().length === 0 ? true : undefined), 'the go processes of the build to end', 15_000);
    } finally {
      for (const pid of fromThisBuild()) process.kill(Number(pid), 'SIGKILL');
      rmSync(folder, { recursive: true, force: true });
    }
  });
});

/** Each interactive demo runs in a network namespace of its own (unshare, nsenter), so its ports are its own. */
function namespacesMissing(): string | undefined {
  if (process.getuid?.() !== 0) return 'each demo gets a network namespace of its own, which needs root';
  const absent = ['unshare', 'nsenter', 'script', 'curl'].filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
  return absent.length > 0 ? `${absent.join(', ')} missing (util-linux, curl)` : undefined;
}

function environOf(pid: string): string[] {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

describe('a service the demo starts that cannot start', () => {
  it('says why: the line it logged (EADDRINUSE goes to its stdout, as JSON)', async () => {
    const holder = createServer().listen(0); // every address, as the service listens
    await once(holder, 'listening');
    const { port } = holder.address() as AddressInfo;
    try {
      await assert.rejects(
        Service.start({ PORT: String(port), OTEL_TRACES_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none' }),
        new RegExp(`exited \\(1\\) before the service to answer /readyz:\\ncannot listen on port ${port}: listen EADDRINUSE`),
      );
    } finally {
      holder.close();
    }
  });
});

interface Left {
  pid: number;
  command: string;
}

/**
 * `npm run demo` as a user runs it from a terminal: npm leads a process group
 * of its own (the shell's job, which a terminal's Ctrl-C reaches), started
 * with the user's own node and npm. Each run gets a network namespace of its
 * own: ports 4317, 8080 and 8081 are the demo's alone, and every process it
 * leaves behind is found by that namespace.
 */
class UserDemo {
  output = '';
  readonly process: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  netns = '';

  private constructor(child: ChildProcess) {
    this.process = child;
    this.exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk));
  }

  /** `prelude` runs in the namespace first; `terminal` runs npm in a pseudo-terminal (script(1)), whose closing the test can stage. */
  static async start(options: { prelude?: string; terminal?: boolean } = {}): Promise<UserDemo> {
    const npm = options.terminal ? `exec script -qfec 'npm run demo' /dev/null` : 'exec npm run demo';
    const child = spawn('unshare', ['--net', 'sh', '-c', `ip link set lo up && ${options.prelude ?? ''} ${npm}`], {
      cwd: ROOT,
      // The user's shell: their own node and npm (npm puts the project's Node 24 first for the demo).
      env: { PATH: USER_PATH, HOME: process.env.HOME ?? '/root', SHELL: '/bin/sh', TERM: 'xterm' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const demo = new UserDemo(child);
    const own = readlinkSync('/proc/self/ns/net');
    demo.netns = await waitFor(() => {
      const ns = readlinkSync(`/proc/${child.pid}/ns/net`);
      return ns !== own ? ns : undefined;
    }, 'the demo\'s network namespace');
    running.add(demo);
    return demo;
  }

  /** Waits (bounded) for npm to exit. */
  async ended(timeoutMs = 60_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const timer = sleep(timeoutMs, undefined, { ref: false }).then(() => Promise.reject(new Error(`npm run demo still running after ${timeoutMs} ms:\n${this.output}`)));
    return Promise.race([this.exited, timer]);
  }

  async waitForOutput(pattern: RegExp, timeoutMs = 90_000): Promise<void> {
    await waitFor(
      () => {
        if (pattern.test(this.output)) return true;
        if (this.process.exitCode !== null) throw new Error(`the demo exited (${this.process.exitCode}) before printing ${pattern}:\n${this.output}`);
        return undefined;
      },
      `${pattern} in the demo's output:\n${this.output}`,
      timeoutMs,
    );
  }

  /** Runs a shell command line (as a user pastes it) in the demo's network namespace. */
  shell(line: string, shell = 'sh'): Promise<string> {
    const child = spawn('nsenter', [`--net=/proc/${this.process.pid}/ns/net`, shell, '-c', line], { stdio: ['ignore', 'pipe', 'inherit'], timeout: 60_000 });
    let stdout = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    return once(child, 'exit').then(([code]) => {
      assert.equal(code, 0, `${line} failed`);
      return stdout;
    });
  }

  /** Every process still in the demo's network namespace. */
  left(): Left[] {
    const found: Left[] = [];
    for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
      try {
        if (readlinkSync(`/proc/${pid}/ns/net`) !== this.netns) continue;
        found.push({ pid: Number(pid), command: readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim() });
      } catch {
        // gone meanwhile
      }
    }
    return found;
  }

  /** Waits (bounded) until the demo and everything it started are gone; fails naming what is left and what listens. */
  async assertNothingLeft(except: number[] = [], timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let left = this.left().filter((p) => !except.includes(p.pid));
    while (left.length > 0 && Date.now() < deadline) {
      await sleep(200);
      left = this.left().filter((p) => !except.includes(p.pid));
    }
    const listening = left.length > 0 ? listeningPorts(left[0]!.pid) : [];
    assert.deepEqual(left, [], `left running after the demo ended (listening on ${listening.join(', ') || 'nothing'}):\n${this.output}`);
  }

  /** The process in the demo's namespace whose command line has `commandPart` (and, if given, `env` in its environment). */
  pidOf(commandPart: string, env?: string): number {
    const match = this.left().find(
      (p) => p.command.includes(commandPart) && (env === undefined || readFileSync(`/proc/${p.pid}/environ`, 'utf8').split('\0').includes(env)),
    );
    assert.ok(match, `no process "${commandPart}" ${env ?? ''} in:\n${JSON.stringify(this.left(), null, 2)}`);
    return match.pid;
  }

  /** Ends whatever is left in its namespace (after a failed test only). */
  killLeftovers(): void {
    for (const { pid } of this.left()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  }
}

const USER_PATH = (process.env.PATH ?? '').split(':').filter((entry) => !entry.includes('node_modules')).join(':');
const running = new Set<UserDemo>();
const READY = /Try it yourself/;

function listeningPorts(pid: number): number[] {
  const ports: number[] = [];
  for (const table of ['tcp', 'tcp6']) {
    for (const line of readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[3] === '0A') ports.push(parseInt(fields[1]!.split(':')[1]!, 16));
    }
  }
  return ports;
}

/** The `GET … → status` titles of the traces drawn after "Try it yourself", in the order drawn. */
function ownTraces(output: string): string[] {
  const after = output.slice(output.search(READY));
  return [...after.matchAll(/^(GET \S+ → \d{3})  trace [0-9a-f]{32}/gm)].map((match) => match[1]!);
}

describeNeeding(namespacesMissing(), 'npm run demo, interactive: every way of ending stops everything it started', () => {
  before(() => {
    ensureCollectorBuilt();
    const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit', timeout: 300_000 });
    assert.equal(build.status, 0, 'npm run build');
  });
  after(() => {
    for (const demo of running) demo.killLeftovers();
  });

  it('Ctrl-C: your own curls, pasted as printed, drawn like the seed\'s in the order they finished; the last one before Ctrl-C too', async () => {
    const demo = await UserDemo.start();
    await demo.waitForOutput(READY);
    const curls = demo.output.split('\n').filter((line) => line.startsWith('  curl '));
    assert.equal(curls.length, 5, demo.output);
    for (const line of curls) assert.match(line, /^ {2}curl -s -w '\\n' 'http:\/\/127\.0\.0\.1:8080\/[^']+'$/, 'each URL single-quoted, so that ?, & and ! paste into any shell');
    const line = (path: string) => curls.find((c) => c.endsWith(`${path}'`))!.trim();

    // /work?ms=250 is sent first and finishes last.
    const [slow, fast] = await Promise.all([demo.shell(line('/work?ms=250')), sleep(50).then(() => demo.shell(line('/users/42'), 'bash'))]);
    assert.match(slow, /^\{.*\}\n$/, 'one answer per line');
    assert.equal(fast, '{"id":"42","name":"User 42"}\n');
    // The title has no query string: the collector's transform/drop_personal_data removed url.query.
    await demo.waitForOutput(/GET \/work → 200  trace/);
    assert.deepEqual(ownTraces(demo.output), ['GET /users/42 → 200', 'GET /work → 200']);

    await demo.shell(`curl -sf -o /dev/null 'http://127.0.0.1:8080/users/7'`);
    process.kill(-demo.process.pid!, 'SIGINT'); // the terminal's Ctrl-C: to npm and the demo, its foreground job
    const { code } = await demo.ended();
    assert.equal(code, 0, demo.output);
    assert.deepEqual(ownTraces(demo.output), ['GET /users/42 → 200', 'GET /work → 200', 'GET /users/7 → 200'], 'the request sent just before Ctrl-C is drawn before the demo exits');
    assert.match(demo.output, /Ctrl-C: stopping the services/);
    await demo.assertNothingLeft();
  });

  it('SIGTERM to npm', async () => {
    const demo = await UserDemo.start();
    await demo.waitForOutput(READY);
    process.kill(demo.process.pid!, 'SIGTERM');
    await demo.ended();
    await demo.assertNothingLeft();
    assert.match(demo.output, /SIGTERM: stopping the services/);
  });

  it('SIGHUP to npm (npm does not pass it on: the demo sees its parent go)', async () => {
    const demo = await UserDemo.start();
    await demo.waitForOutput(READY);
    process.kill(demo.process.pid!, 'SIGHUP');
    await demo.ended();
    await demo.assertNothingLeft();
    assert.match(demo.output, /went away: stopping the services/);
  });

  it('the terminal closes (its SIGHUP, then writes to it fail)', async () => {
    const demo = await UserDemo.start({ terminal: true });
    await demo.waitForOutput(READY);
    process.kill(demo.process.pid!, 'SIGKILL'); // script(1) holds the terminal's master side: gone, the terminal hangs up
    await demo.ended();
    await demo.assertNothingLeft();
  });

  it('a child crashes: the demo says which and why, stops the rest and exits 1', async () => {
    const demo = await UserDemo.start();
    await demo.waitForOutput(READY);
    process.kill(demo.pidOf('dist/server.js', 'OTEL_SERVICE_NAME=users'), 'SIGKILL');
    const { code } = await demo.ended();
    assert.equal(code, 1, demo.output);
    assert.match(demo.output, /demo failed: users stopped on its own \(killed by SIGKILL\)/);
    await demo.assertNothingLeft();
  });

  it('a busy port: named with the process that holds it, before anything starts', async () => {
    // Something else on 127.0.0.1:8080, listening before npm starts (it says so by creating the file named by its
    // argument). The service alone would still listen on [::]:8080, and requests to 127.0.0.1 would reach that process.
    const holder = `node -e "require('net').createServer().listen(8080, '127.0.0.1', () => require('fs').writeFileSync(process.argv[1], ''))" "$ready"`;
    const demo = await UserDemo.start({ prelude: `ready=$(mktemp -u) && { ${holder} & } && until [ -e "$ready" ]; do sleep 0.1; done && rm "$ready" &&` });
    const { code } = await demo.ended();
    assert.equal(code, 1, demo.output);
    const holderPid = demo.pidOf('createServer');
    assert.match(demo.output, new RegExp(`demo failed: port 8080 \\(gateway\\) is in use by pid ${holderPid} \\(node -e require\\('net'\\)`));
    assert.match(demo.output, new RegExp(`kill ${holderPid}`));
    await demo.assertNothingLeft([holderPid]);
    process.kill(holderPid, 'SIGKILL');
  });
});
