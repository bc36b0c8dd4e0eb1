import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from '../harness/service.mts';

/*
 * The rules of both Dockerfiles, read from the files. That they build and run
 * for real is test/images.test.mts (buildah and podman).
 */

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  base: string;
  platform: string | undefined;
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
      const [, platform, base, name] = /^(?:--platform=(\S+)\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args!)!;
      stages.push({ base: base!, platform, name: name ?? String(stages.length), instructions: [] });
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
const collectorStages = parseDockerfile(readFileSync(join(ROOT, 'collector/Dockerfile'), 'utf8'));
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

  it('installs without install scripts in the build stage: only what the lockfile pins (the `node` devDependency\'s script fetches a Node outside it)', () => {
    const npmCi = all(build, 'RUN').flatMap((r) => r.split('&&').map((s) => s.trim())).filter((s) => s.startsWith('npm ci'));
    assert.equal(npmCi.length, 1);
    assert.match(npmCi[0]!, /--ignore-scripts\b/);
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

describe('collector/Dockerfile rules', () => {
  const [goBuild, scratch] = collectorStages as [Stage, Stage];
  const buildScript = readFileSync(join(ROOT, 'collector/build.sh'), 'utf8');
  const manifest = readFileSync(join(ROOT, 'collector/builder-config.yaml'), 'utf8');
  const distName = /^\s+name: (\S+)/m.exec(manifest)![1]!;
  const outputPath = /^\s+output_path: (\S+)/m.exec(manifest)![1]!;

  it('builds with the same builder release as collector/build.sh, from the same manifest, static, cross-compiled', () => {
    assert.deepEqual(collectorStages.map((s) => s.name), ['build', 'runtime']);
    const builderVersion = /^BUILDER_VERSION=(\S+)/m.exec(buildScript)![1]!;
    const runs = all(goBuild, 'RUN').join('\n');
    assert.ok(runs.includes(`go install go.opentelemetry.io/collector/cmd/builder@${builderVersion}`), `the official builder at ${builderVersion}`);
    assert.match(runs, /\bGOOS=\$TARGETOS GOARCH=\$TARGETARCH builder --config=collector\/builder-config\.yaml\b/, 'compiled for the target platform');
    assert.equal(goBuild.platform, '$BUILDPLATFORM', 'on the build machine\'s platform: no emulation for another architecture');
    assert.deepEqual(all(goBuild, 'ARG'), ['TARGETOS TARGETARCH']);
    assert.match(one(goBuild, 'ENV'), /\bCGO_ENABLED=0\b/, 'a static binary: the runtime stage has no libc');
    // The Go toolchain in the image is the one the local build uses (.ci/run: GOTOOLCHAIN or the machine's Go 1.26).
    assert.match(goBuild.base, /^golang:1\.26\.\d+-bookworm$/, `pinned Go image: ${goBuild.base}`);
  });

  it('runs on nothing: the binary and the CA bundle only, a numeric non-root user, the config from outside', () => {
    assert.equal(scratch.base, 'scratch');
    assert.deepEqual(all(scratch, 'RUN'), [], 'no shell to run anything with');
    const copies = all(scratch, 'COPY').map(copyOf);
    assert.deepEqual(copies.map((c) => [c.from, c.sources]), [
      ['build', ['/etc/ssl/certs/ca-certificates.crt']],
      ['build', [posix.join(one(goBuild, 'WORKDIR'), outputPath, distName)]],
    ]);
    assert.match(one(scratch, 'USER'), /^[1-9]\d*:[1-9]\d*$/, 'numeric UID and GID, not 0, so runAsNonRoot can verify it');
    assert.deepEqual(JSON.parse(one(scratch, 'ENTRYPOINT')), [`/${distName}`]);
    assert.deepEqual(JSON.parse(one(scratch, 'CMD')), ['--config=/conf/config.yaml'], 'the ConfigMap, mounted at run time');
  });

  it('gets only what it builds from: collector/.dockerignore lets in the manifest alone', () => {
    const ignore = readFileSync(join(ROOT, 'collector/.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    assert.equal(ignore[0], '*');
    const allowed = ignore.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
    const copied = all(goBuild, 'COPY').map(copyOf).flatMap((c) => c.sources);
    assert.deepEqual(allowed.sort(), copied.sort());
  });
});
