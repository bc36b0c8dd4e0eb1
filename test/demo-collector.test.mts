import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { INSTALL_MESSAGE, ImageCollector, chooseCollectorSource } from '../demo/collector-source.mts';
import { copyOfCheckout } from '../harness/checkout.mts';
import { ensureBaseImages, missingContainerTools, plainPodmanEnv } from '../harness/containers.mts';
import { ROOT, Service } from '../harness/service.mts';
import { notRunHere } from '../harness/requirements.mts';
import { runCommand } from '../harness/process.mts';
import { waitFor } from '../harness/wait.mts';

/*
 * `npm run demo` on a machine without Go: the collector image instead of the
 * binary, and a message naming what to install when there is neither.
 */

/** A clone's files (no .cache: no collector binary), sharing this checkout's node_modules. */
function freshCopy(): string {
  const copy = copyOfCheckout('demo-no-go-');
  symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
  return copy;
}


describe('the demo collector, from what the machine has', () => {
  const none = { binary: false, go: false, docker: false, podman: false };

  it('uses the built binary or Go first, then Docker, then Podman', () => {
    assert.deepEqual(chooseCollectorSource({ ...none, binary: true, docker: true }), { kind: 'binary' });
    assert.deepEqual(chooseCollectorSource({ ...none, go: true, podman: true }), { kind: 'binary' });
    assert.deepEqual(chooseCollectorSource({ ...none, docker: true, podman: true }), { kind: 'image', engine: 'docker' });
    assert.deepEqual(chooseCollectorSource({ ...none, podman: true }), { kind: 'image', engine: 'podman' });
  });

  it('with neither Go nor Docker nor Podman, says exactly what to install, and where from', () => {
    assert.throws(() => chooseCollectorSource(none), (error: Error) => error.message === INSTALL_MESSAGE);
    for (const needed of ['Go 1.26 or newer', 'https://go.dev/dl/', 'Docker', 'https://docs.docker.com/get-docker/', 'Podman', 'https://podman.io/docs/installation', 'npm run demo']) {
      assert.ok(INSTALL_MESSAGE.includes(needed), `the message names ${needed}`);
    }
  });

  const missing = missingContainerTools();
  it('with Podman and no Go: builds collector/Dockerfile, runs it with the demo\'s settings, and a service\'s spans land in the demo\'s file', {
    skip: notRunHere(missing),
  }, async () => {
    if (missing) throw new Error(`CI must run the collector image: ${missing}`);
    await ensureBaseImages();
    Object.assign(process.env, plainPodmanEnv()); // this machine's podman settings, in the files podman reads
    const folder = mkdtempSync(join(tmpdir(), 'demo-image-'));
    const received = join(folder, 'received.jsonl');
    let collector: ImageCollector | undefined;
    let service: Service | undefined;
    try {
      await ImageCollector.build('podman', join(folder, 'build.log'));
      collector = await ImageCollector.start('podman', { COLLECTOR_EXPORTERS: '[debug, file]', COLLECTOR_FILE_PATH: received, DEBUG_VERBOSITY: 'basic' });
      service = await Service.start({ OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint, OTEL_BSP_SCHEDULE_DELAY: '50', OTEL_SERVICE_NAME: 'users' });
      assert.equal((await service.get('/users/42')).status, 200);
      await waitFor(() => (existsSync(received) && readFileSync(received, 'utf8').includes('GET /users/:id') ? true : undefined), 'the span in the file exporter output', 30_000)
        .catch((error: Error) => assert.fail(`${error.message}\n${collector!.output.slice(-3000)}`));
    } finally {
      await service?.stop();
      await collector?.stop();
      rmSync(folder, { recursive: true, force: true });
    }
  });
  it('npm run demo with neither Go nor Docker nor Podman on the PATH: exits 1 with that message', async () => {
    const copy = freshCopy();
    try {
      // Only node itself on the PATH.
      const { code, output } = await runCommand([process.execPath, 'demo/run.mts', '--once'], { cwd: copy, env: { PATH: dirname(process.execPath) }, timeoutMs: 60_000 });
      assert.equal(code, 1, output);
      assert.ok(output.includes(INSTALL_MESSAGE), output);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  it('npm run demo with Podman and no Go: builds and runs the collector image, and draws the traces', {
    skip: notRunHere(missing),
  }, async () => {
    if (missing) throw new Error(`CI must run the collector image: ${missing}`);
    await ensureBaseImages();
    const copy = freshCopy();
    try {
      // The user's PATH without every folder that holds a `go`.
      const withoutGo = (process.env.PATH ?? '').split(':').filter((dir) => dir && !existsSync(join(dir, 'go')));
      const env = { PATH: [join(ROOT, 'node_modules/.bin'), ...withoutGo].join(':'), HOME: process.env.HOME ?? '/root', ...plainPodmanEnv() };
      assert.notEqual(spawnSync('go', ['version'], { env }).status, 0, 'go must not be found');
      const { code, output } = await runCommand(['npm', 'run', 'demo', '--', '--once'], { cwd: copy, env, timeoutMs: 10 * 60_000 });
      assert.equal(code, 0, output.slice(-4000));
      assert.match(output, /No Go here: building the collector image with podman/);
      assert.match(output, /GET \/chain\/123 → 200 .*trace [0-9a-f]{32}/, 'the /chain/123 waterfall, drawn from what the collector container received');
      assert.match(output, /users\s+GET \/users\/:id/);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});
