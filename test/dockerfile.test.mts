import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OtlpReceiver } from '../harness/otlp-receiver.mts';
import { stopProcess } from '../harness/process.mts';
import { ROOT, Service } from '../harness/service.mts';

/*
 * There is no Docker engine here, so the Dockerfile is proven in two ways:
 * its rules are read from the file, and its runtime stage is rehearsed: a
 * clean folder gets exactly what that stage copies, runs the stage's `npm ci`,
 * and the service is started from it as CMD starts it.
 */

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  base: string;
  name: string;
  instructions: Instruction[];
}

/** Stages and their instructions (comments dropped, continuation lines joined). */
function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  for (const line of lines) {
    const [, keyword, args] = /^(\w+)\s+(.*)$/.exec(line)!;
    if (keyword!.toUpperCase() === 'FROM') {
      const [, base, name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args!)!;
      stages.push({ base: base!, name: name ?? String(stages.length), instructions: [] });
    } else {
      assert.ok(stages.length > 0, `${keyword} before FROM`);
      stages.at(-1)!.instructions.push({ keyword: keyword!.toUpperCase(), args: args! });
    }
  }
  return stages;
}

const all = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);
const one = (stage: Stage, keyword: string) => {
  const found = all(stage, keyword);
  assert.equal(found.length, 1, `${stage.name}: exactly one ${keyword}, got ${found.length}`);
  return found[0]!;
};
/** COPY [--from=stage] [--chown=...] src... dest */
const copyOf = (args: string) => {
  const words = args.split(/\s+/);
  const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
  const paths = words.filter((w) => !w.startsWith('--'));
  return { from, sources: paths.slice(0, -1), dest: paths.at(-1)! };
};

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  engines: { node: string };
  devDependencies: Record<string, string>;
  dependencies: Record<string, string>;
};
const stages = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
const runtime = stages.at(-1)!;
const build = stages[0]!;

describe('Dockerfile rules', () => {
  it('is multi-stage: a build stage, then a runtime stage that takes only dist/ from it', () => {
    assert.deepEqual(stages.map((s) => s.name), ['build', 'runtime']);
    assert.ok(all(build, 'RUN').some((r) => /^npm ci\b/.test(r)) && all(build, 'RUN').includes('npm run build'), 'build: npm ci, npm run build');
    const fromBuild = all(runtime, 'COPY').map(copyOf).filter((c) => c.from);
    assert.deepEqual(fromBuild.map((c) => [c.from, c.sources]), [['build', [posix.join(one(build, 'WORKDIR'), 'dist')]]]);
  });

  it(`runs on a pinned Node ${pkg.devDependencies.node} image in every stage (the version package.json's devDependency "node" uses)`, () => {
    for (const stage of stages) assert.equal(stage.base, `node:${pkg.devDependencies.node}-bookworm-slim`, stage.name);
    assert.equal(pkg.devDependencies.node!.split('.')[0], /^>=(\d+)/.exec(pkg.engines.node)![1], 'the major version package.json requires');
  });

  it('installs production dependencies only in the runtime stage, without install scripts', () => {
    const npmCi = all(runtime, 'RUN').flatMap((r) => r.split('&&').map((s) => s.trim())).filter((s) => s.startsWith('npm ci'));
    assert.equal(npmCi.length, 1);
    assert.match(npmCi[0]!, /--omit=dev\b/);
    assert.match(npmCi[0]!, /--ignore-scripts\b/);
    const copied = all(runtime, 'COPY').map(copyOf).filter((c) => !c.from).flatMap((c) => c.sources);
    assert.deepEqual(copied, ['package.json', 'package-lock.json'], 'no sources, no tests, no dev files');
  });

  it('runs as a numeric non-root user, on port 8080, with tracing loaded first', () => {
    assert.match(one(runtime, 'USER'), /^[1-9]\d*(:[1-9]\d*)?$/, 'numeric UID (and GID), not 0, so runAsNonRoot can verify it');
    assert.equal(one(runtime, 'EXPOSE'), '8080');
    assert.match(one(runtime, 'ENV'), /\bNODE_ENV=production\b/);
    assert.match(one(runtime, 'ENV'), /\bPORT=8080\b/);
    assert.deepEqual(JSON.parse(one(runtime, 'CMD')), ['node', '--require', './dist/instrumentation.js', 'dist/server.js']);
    assert.equal(all(runtime, 'ENTRYPOINT').length, 0);
  });

  it('bakes nothing secret in: no ARG or ENV with a secret-looking name; .dockerignore lets in only what COPY needs', () => {
    for (const stage of stages) {
      for (const args of [...all(stage, 'ARG'), ...all(stage, 'ENV')]) assert.doesNotMatch(args, /SENTRY|DSN|TOKEN|SECRET|PASSWORD|KEY/i, `${stage.name}: ${args}`);
    }
    const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    assert.equal(ignore[0], '*', '.dockerignore starts by excluding everything');
    const allowed = ignore.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
    const needed = stages.flatMap((s) => all(s, 'COPY').map(copyOf).filter((c) => !c.from).flatMap((c) => c.sources));
    assert.deepEqual([...new Set(needed)].sort(), allowed.sort(), 'exactly the files the COPY lines need');
  });
});

describe('Dockerfile runtime stage, rehearsed: only what it copies, its npm ci, its CMD', () => {
  let app: string;
  let receiver: OtlpReceiver;
  let service: Service;

  before(async () => {
    assert.ok(existsSync(join(ROOT, 'dist/server.js')), 'dist/ is missing: npm run build (npm test builds first)');
    app = mkdtempSync(join(tmpdir(), 'runtime-stage-'));
    const workdir = one(runtime, 'WORKDIR');
    const buildWorkdir = one(build, 'WORKDIR');
    const inApp = (path: string) => join(app, posix.relative(workdir, posix.resolve(workdir, path)));
    // Replay the runtime stage in order. The build stage's WORKDIR is this repository
    // after `npm run build`, so --from=build copies come from here.
    for (const { keyword, args } of runtime.instructions) {
      if (keyword === 'COPY') {
        const { from, sources, dest } = copyOf(args);
        for (const source of sources) {
          const origin = from ? join(ROOT, posix.relative(buildWorkdir, source)) : join(ROOT, source);
          cpSync(origin, dest.endsWith('/') ? join(inApp(dest), posix.basename(source)) : inApp(dest), { recursive: true });
        }
      } else if (keyword === 'RUN') {
        for (const command of args.split('&&').map((s) => s.trim())) {
          // Only npm ci is replayed: `npm cache clean --force` would empty this machine's npm cache.
          if (!command.startsWith('npm ci')) {
            assert.equal(command, 'npm cache clean --force', `the rehearsal does not know how to replay "${command}"`);
            continue;
          }
          const [npm, ...npmArgs] = command.split(/\s+/);
          const child = spawn(npm!, npmArgs, { cwd: app, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_ENV: 'production' } });
          let output = '';
          child.stdout.on('data', (chunk) => (output += chunk));
          child.stderr.on('data', (chunk) => (output += chunk));
          const { code } = await stopProcess(child, null, 300_000);
          assert.equal(code, 0, `${command} failed in the rehearsal (exit ${code}):\n${output}`);
        }
      }
    }
    receiver = await OtlpReceiver.start();
    const { PORT: _port, ...env } = Object.fromEntries(one(runtime, 'ENV').split(/\s+/).map((pair) => pair.split('=') as [string, string]));
    // The image's ENV, but a free port instead of 8080.
    service = await Service.start({ ...env, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY: '50' }, { cwd: app });
  });

  after(async () => {
    await service?.stop();
    await receiver?.close();
    if (app) rmSync(app, { recursive: true, force: true });
  });

  it('holds production dependencies only', () => {
    for (const dependency of Object.keys(pkg.dependencies)) assert.ok(existsSync(join(app, 'node_modules', dependency, 'package.json')), `${dependency} is missing`);
    for (const dev of ['typescript', 'node']) assert.equal(existsSync(join(app, 'node_modules', dev)), false, `${dev} (dev) was installed`);
    assert.equal(existsSync(join(app, 'src')), false);
  });

  it('serves /users/42 and /chain/42, and exports their spans over OTLP gRPC', async () => {
    const response = await service.get('/users/42');
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { id: '42', name: 'User 42' });
    assert.equal((await service.get('/chain/42')).status, 200);
    await receiver.waitForSpans((spans) => spans.some((s) => s.name === 'GET /chain/:id') && spans.some((s) => s.name === 'GET /users/:id'), 'spans of /users/42 and /chain/42');
    assert.equal(receiver.spans[0]!.resource['service.version'], JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')).version);
  });
});
