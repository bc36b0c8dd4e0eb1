import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Container, ULIMITS, buildImage, ensureBaseImages, imageConfig, missingContainerTools, podRunFlags, podman, pruneImages } from '../harness/containers.mts';
import { find, podEnv, renderOverlay, type K8sObject } from '../harness/k8s.mts';
import { relayLoopbackPort } from '../harness/loopback-relay.mts';
import { TestNetwork } from '../harness/netns.mts';
import { SentryEnvelopes } from '../harness/sentry-envelopes.mts';
import { SentryIngest } from '../harness/sentry-ingest.mts';
import { ROOT } from '../harness/service.mts';
import { notRunHere } from '../harness/requirements.mts';

/*
 * Both images, built for real with buildah from the project's Dockerfiles (on
 * stand-ins of their base images: scripts/base-images.sh), then run with podman
 * and runc the way the minikube overlay runs them: each container on a test
 * host of its own (a network namespace), with the image, user, read-only root,
 * dropped capabilities, no privilege escalation, limits, args, ConfigMap and
 * environment its Deployment sets (read from the rendered manifests, not
 * repeated here), the Secret `sentry` pointing at the Sentry stand-ins. The
 * services get no OTLP endpoint: they find the collector by its cluster name.
 * The stand-ins listen on this machine's loopback; a relay makes each answer at
 * the same address inside the test host that calls it (harness/loopback-relay.mts).
 * Everything is checked from outside the containers.
 */

const OVERLAY = 'minikube';
/** Where each image of the manifests is built from (scripts/k8s-minikube.sh builds the same). */
const BUILD_CONTEXT: Record<string, string> = { 'users-api': ROOT, 'otelcol-users-demo': join(ROOT, 'collector') };
const SUBNET = '10.213.78'; // inside the test namespaces only (test/k8s-dns.test.mts uses .77)
const APPS = ['users', 'gateway'];

const missing = missingContainerTools();
// Outside CI a machine without the tools says why and moves on; in CI that is a failure (before() below).
const skip = notRunHere(missing);

const objects = renderOverlay(OVERLAY);
const deployment = (name: string) => objects.find((o) => o.kind === 'Deployment' && o.metadata.name === name)!;
const containerOf = (name: string): K8sObject => deployment(name).spec.template.spec.containers[0];
const imageOf = (name: string): string => containerOf(name).image;
const built: Record<string, { seconds: number; size: number }> = {};
const startToListenMs: Record<string, number> = {};

describe(`images built from the Dockerfiles, run with the ${OVERLAY} pods' settings, end to end to the Sentry stand-ins`, { skip }, () => {
  let network: TestNetwork;
  let ingest: SentryIngest;
  let envelopes: SentryEnvelopes;
  let folder: string;
  const relays: Array<{ close(): Promise<void> }> = [];
  const containers = new Map<string, Container>();
  const explain = () => [...containers.values()].map((c) => `--- ${c.name}:\n${c.output.slice(-3000)}`).join('\n');

  before(async () => {
    if (missing) throw new Error(`CI must build and run the images: ${missing}`);
    TestNetwork.check();
    await ensureBaseImages();
    // Both at once: one compiles Go, the other mostly downloads npm packages.
    await Promise.all([...new Set(['otel-collector', ...APPS].map(imageOf))].map(async (image) => {
      const context = BUILD_CONTEXT[image.split(':')[0]!];
      assert.ok(context, `no Dockerfile known for ${image}`);
      const { seconds } = await buildImage(image, context);
      built[image] = { seconds, size: (await imageConfig(image)).size };
    }));
    await pruneImages();

    folder = mkdtempSync(join(tmpdir(), 'images-'));
    ingest = await SentryIngest.start();
    envelopes = await SentryEnvelopes.start();
    network = await TestNetwork.create(SUBNET);
    for (const name of ['otel-collector', ...APPS, 'client']) await network.addHost(name);
    // <service>.<namespace>.svc.cluster.local → the test host of the Deployment it selects.
    const names: Record<string, string> = {};
    for (const service of objects.filter((o) => o.kind === 'Service' && o.spec.type === 'ClusterIP')) {
      const target = objects.find(
        (o) => o.kind === 'Deployment' && o.metadata.namespace === service.metadata.namespace
          && Object.entries(service.spec.selector).every(([k, v]) => o.spec.template.metadata.labels[k] === v),
      )!;
      names[`${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local`] = target.metadata.name;
    }
    network.writeHostsFiles(names);
    const hosts = Object.fromEntries(Object.entries(names).map(([name, host]) => [name, network.hosts.get(host)!]));

    // The Secret `sentry`: the collector's OTLP settings at the ingest stand-in, and SENTRY_DSN at the envelope stand-in.
    const { COLLECTOR_EXPORTERS, ...sentryOtlp } = ingest.collectorEnv();
    assert.equal(COLLECTOR_EXPORTERS, podEnv(deployment('otel-collector'), containerOf('otel-collector'), {}).COLLECTOR_EXPORTERS, 'the Deployment sends to Sentry');
    const secret = { ...sentryOtlp, SENTRY_DSN: envelopes.dsn };
    const port = (url: string) => Number(new URL(url).port);
    relays.push(await relayLoopbackPort(network, 'otel-collector', port(sentryOtlp.SENTRY_OTLP_TRACES_URL!)));
    for (const app of APPS) relays.push(await relayLoopbackPort(network, app, port(envelopes.dsn)));

    for (const name of ['otel-collector', ...APPS]) {
      const pod = deployment(name).spec.template.spec;
      const container = containerOf(name);
      containers.set(name, await Container.run({
        name: `images-test-${name}`,
        image: container.image,
        flags: podRunFlags(pod, container),
        env: podEnv(deployment(name), container, secret),
        netns: network.ns(name),
        hosts,
        volumes: configMapVolumes(pod, container),
        args: container.args,
      }));
      // Like a rollout: the next one starts once this one is ready (its readiness probe, from outside).
      const { path, port: probePort } = container.readinessProbe.httpGet;
      const portNumber = typeof probePort === 'number' ? probePort : container.ports.find((p: K8sObject) => p.name === probePort).containerPort;
      const ready = await network.fetch('client', `http://${network.hosts.get(name)}:${portNumber}${path}`, 60_000).catch((error: Error) => assert.fail(`${error.message}\n${explain()}`));
      assert.equal(ready.status, 200, `${name} is not ready:\n${explain()}`);
      if (APPS.includes(name)) {
        const started = Number(await podman(['inspect', '--format', '{{.State.StartedAt.UnixMilli}}', `images-test-${name}`]));
        const listening = containers.get(name)!.output.split('\n').map((line) => (line.startsWith('{') ? JSON.parse(line) : {})).find((line) => line.msg === 'listening');
        startToListenMs[name] = Date.parse(listening.time) - started;
      }
    }
  });

  /** Each ConfigMap volume as a read-only folder holding the rendered ConfigMap's data. */
  function configMapVolumes(pod: K8sObject, container: K8sObject): string[] {
    return (container.volumeMounts ?? []).map((mount: K8sObject) => {
      const volume = pod.volumes.find((v: K8sObject) => v.name === mount.name);
      assert.ok(volume?.configMap, `${mount.name}: only ConfigMap volumes are rehearsed`);
      const configMap = find(objects, 'ConfigMap', volume.configMap.name);
      const dir = join(folder, mount.name);
      mkdirSync(dir);
      for (const [file, text] of Object.entries(configMap.data as Record<string, string>)) writeFileSync(join(dir, file), text, { mode: 0o644 });
      chmodSync(dir, 0o755);
      chmodSync(folder, 0o755);
      assert.ok(mount.readOnly);
      return `${dir}:${mount.mountPath}:ro`;
    });
  }

  after(async () => {
    for (const container of containers.values()) await container.remove();
    for (const relay of relays) await relay.close();
    await network?.destroy();
    await ingest?.close();
    await envelopes?.close();
    if (folder) rmSync(folder, { recursive: true, force: true });
    for (const [image, { seconds, size }] of Object.entries(built)) console.log(`# image ${image}: ${(size / 1e6).toFixed(1)} MB, built in ${seconds.toFixed(0)} s`);
  });

  it('the collector image: the binary and the CA bundle on an empty base, as the numeric user the Deployment runs', async () => {
    const image = imageOf('otel-collector');
    const config = await imageConfig(image);
    const pod = deployment('otel-collector').spec.template.spec;
    assert.equal(config.user, `${pod.securityContext.runAsUser}:${pod.securityContext.runAsGroup}`);
    assert.deepEqual(config.entrypoint, ['/otelcol-users-demo']);
    const archive = join(folder, 'collector-files.tar');
    await podman(['create', '--name', 'images-test-collector-files', image]);
    try {
      await podman(['export', '--output', archive, 'images-test-collector-files']);
    } finally {
      await podman(['rm', 'images-test-collector-files']);
    }
    const files = spawnSync('tar', ['-tf', archive], { encoding: 'utf8' }).stdout.split('\n').filter((f) => f && !f.endsWith('/'));
    // podman adds the mount points /etc/hosts, /etc/resolv.conf, /etc/hostname and /run/.containerenv, all empty.
    const ours = files.filter((f) => !/^(etc\/(hosts|resolv\.conf|hostname)|run\/\.containerenv|proc|sys|dev)/.test(f));
    assert.deepEqual(ours.sort(), ['etc/ssl/certs/ca-certificates.crt', 'otelcol-users-demo'], 'no shell, no libc, nothing else');
  });

  it("the app image: the Dockerfile's numeric user, the one the Deployments run as, and production dependencies only", async () => {
    const image = imageOf('users');
    const config = await imageConfig(image);
    for (const app of APPS) {
      const { runAsUser, runAsGroup } = deployment(app).spec.template.spec.securityContext;
      assert.equal(config.user, `${runAsUser}:${runAsGroup}`);
    }
    // Read inside the image, by its own node: which packages of its lockfile are installed.
    const probe = `const fs = require('node:fs'); const lock = require('/app/package-lock.json');
      const installed = (dev) => Object.keys(lock.packages).filter((path) => path && Boolean(lock.packages[path].dev) === dev && fs.existsSync('/app/' + path + '/package.json'));
      console.log(JSON.stringify({ production: installed(false).length, all: Object.values(lock.packages).filter((p) => !p.dev).length - 1, dev: installed(true), sentryNode: fs.existsSync('/app/node_modules/@sentry/node') }));`;
    const { production, all, dev, sentryNode } = JSON.parse(await podman(['run', '--rm', ...ULIMITS, '--network', 'none', image, 'node', '-e', probe]));
    assert.equal(production, all, 'every production package of the lockfile');
    assert.deepEqual(dev, [], 'no package the lockfile marks dev');
    assert.equal(sentryNode, false, 'errors go through @sentry/core, not the full Sentry Node SDK');
  });

  it('the services listen before the startupProbe first asks (initialDelaySeconds), under the pod\'s CPU and memory limits', () => {
    for (const app of APPS) {
      const delayMs = containerOf(app).startupProbe.initialDelaySeconds * 1000;
      console.log(`# ${app}: container start to listening ${startToListenMs[app]} ms (startupProbe initialDelaySeconds ${delayMs / 1000})`);
      assert.ok(startToListenMs[app]! < delayMs, `${app} took ${startToListenMs[app]} ms: the first startup probe would fail and leave a warning event`);
    }
  });

  it("the collector container's health check answers from outside", async () => {
    const health = containerOf('otel-collector').livenessProbe.httpGet;
    const port = containerOf('otel-collector').ports.find((p: K8sObject) => p.name === health.port).containerPort;
    const response = await network.fetch('client', `http://otel-collector.observability.svc.cluster.local:${port}${health.path}`);
    assert.equal(response.status, 200);
  });

  it('GET /chain/123 on the gateway: one trace across both services, its exception log and its Sentry issue, through the collector container', async () => {
    const response = await network.fetch('client', 'http://gateway.users-demo.svc.cluster.local:8080/chain/123');
    assert.equal(response.status, 200, response.body);
    assert.deepEqual(JSON.parse(response.body), { id: '123', name: 'User 123' });

    // The tail-sampling decision waits 10 s (the overlay's setting, kept).
    const spans = await ingest.waitFor(() => {
      const chain = ingest.spans.find((s) => s.attributes['resource.service.name'] === 'gateway' && s.name === 'GET /chain/:id');
      const trace = chain ? ingest.trace(chain.traceId) : [];
      return trace.some((s) => s.attributes['resource.service.name'] === 'users' && s.name === 'errorWork') ? trace : undefined;
    }, 'the /chain/123 trace, both services', 40_000).catch((error: Error) => assert.fail(`${error.message}\n${explain()}`));
    const usersServer = spans.find((s) => s.attributes['resource.service.name'] === 'users' && s.name === 'GET /users/:id')!;
    const client = spans.find((s) => s.spanId === usersServer.parentSpanId);
    assert.equal(client?.attributes['resource.service.name'], 'gateway', 'the users span continues the gateway call');
    for (const span of [usersServer, client!]) {
      const service = String(span.attributes['resource.service.name']);
      assert.equal(span.attributes['resource.k8s.pod.name'], `${service}-rehearsal`);
      assert.equal(span.attributes['resource.k8s.namespace.name'], 'users-demo');
    }
    const errorWork = spans.find((s) => s.name === 'errorWork')!;
    assert.equal(errorWork.status, 'error');

    const traceId = usersServer.traceId;
    const log = await ingest.waitFor(() => ingest.logs.find((l) => l.traceId === traceId && l.attributes['event.name'] === 'exception'), 'the exception, a log record of errorWork');
    assert.equal(log.attributes['exception.type'], 'SomeworkError');
    assert.equal(log.spanId, errorWork.spanId);
    assert.ok(String(log.body).length > 0, 'a body: Sentry drops a log record without one');

    // somework recovers from its error on purpose: no issue for it. An error nobody handled is one, linked to its trace.
    assert.equal((await network.fetch('client', 'http://gateway.users-demo.svc.cluster.local:8080/error')).status, 500);
    const event = await ingest.waitFor(() => envelopes.ofType('event').find((e) => e.payload.exception?.values?.[0]?.value === 'this endpoint fails on purpose'), 'the Sentry issue of /error');
    const failed = await ingest.waitFor(() => ingest.trace(event.payload.contexts.trace.trace_id).find((s) => s.name === 'GET /error'), 'the /error trace the issue links to', 40_000);
    assert.equal(event.payload.contexts.trace.span_id, failed.spanId);
    assert.equal(failed.attributes['resource.service.name'], 'gateway');
    // Sent after the /chain/123 request's would have been: none came for it.
    assert.equal(envelopes.ofType('event').find((e) => e.payload.contexts?.trace?.trace_id === traceId), undefined, 'no issue for the recovered error');
  });

  it('SIGTERM: each container exits 0, and what it had still reaches Sentry', async () => {
    const response = await network.fetch('client', 'http://gateway.users-demo.svc.cluster.local:8080/chain/42');
    assert.equal(response.status, 200);
    // Kept after the 10 s sampling decision: from here on nothing of it is in flight.
    await ingest.waitFor(() => ingest.spans.find((s) => s.attributes['resource.service.name'] === 'users' && s.attributes['url.path'] === '/users/42'), 'the /chain/42 trace', 40_000);
    // The services, at once (as the kubelet does after the preStop pause): each writes "shutting down",
    // flushes it to the collector and exits. Then, as soon as they are gone, the collector: its batch
    // still holds those records, and it must export them before it exits.
    const codes = await Promise.all(APPS.map((app) => containers.get(app)!.terminate()));
    assert.deepEqual(codes, [0, 0], explain());
    assert.equal(await containers.get('otel-collector')!.terminate(), 0, explain());
    const lastWords = APPS.filter((app) => ingest.logs.some((l) => l.attributes['resource.service.name'] === app && l.body === 'shutting down'));
    assert.deepEqual(lastWords, APPS, `the services' last log records, written after SIGTERM, reached Sentry\n${explain()}`);
    assert.doesNotMatch(containers.get('otel-collector')!.output, /"error"|Exporting failed|dropped/i, 'the collector lost nothing');
  });
});
