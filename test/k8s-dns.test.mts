import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { COLLECTOR_CONFIG, ensureCollectorBuilt } from '../harness/collector.mts';
import { SENTRY_ENV_EXAMPLE, find, parseEnvFile, podEnv as podEnvFrom, renderOverlay, type K8sObject } from '../harness/k8s.mts';
import { readCollectorFile, type ReceivedSpan } from '../harness/otlp.mts';
import { TestNetwork } from '../harness/netns.mts';
import { describeNeeding } from '../harness/requirements.mts';
import { ROOT, SERVICE_NODE_ARGS } from '../harness/service.mts';
import { waitFor } from '../harness/wait.mts';

/*
 * A rehearsal of the cluster's DNS and ports: the real collector and the two
 * services, each on a test host of its own (network namespaces), run with the
 * environment the minikube overlay gives their pods, and find each other by
 * their cluster names (hosts files instead of CoreDNS). The services get NO
 * OTEL_EXPORTER_OTLP_ENDPOINT: their spans reach the collector only if the
 * default endpoint in code, the Service name, namespace and port all agree.
 *
 * Differences from the cluster, on purpose: the collector is the one built for
 * the tests (same release and config as the image) and writes what it receives
 * to a file instead of Sentry; NetworkPolicies are not enforced here.
 */

const SUBNET = '10.213.77'; // inside the test namespaces only
const objects = renderOverlay('minikube');
const deployments = objects.filter((o) => o.kind === 'Deployment');
/** The ENV line of the Dockerfile's last (runtime) stage: NODE_ENV, PORT. */
const runtimeStage = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').split(/^FROM /m).at(-1)!;
const IMAGE_ENV = Object.fromEntries(/^ENV (.*)$/m.exec(runtimeStage)![1]!.split(/\s+/).map((pair) => pair.split('='))) as Record<string, string>;

const podEnv = (deployment: K8sObject, container: K8sObject) => podEnvFrom(deployment, container, parseEnvFile(readFileSync(SENTRY_ENV_EXAMPLE, 'utf8')));

const serviceOf = (span: ReceivedSpan) => span.resource['service.name'];

describeNeeding(TestNetwork.missing(), 'cluster DNS rehearsal: collector, gateway and users on test hosts, by their cluster names', () => {
  let network: TestNetwork;
  let folder: string;
  let received: string;
  const outputs: Record<string, () => string> = {};

  before(async () => {
    TestNetwork.check();
    const collectorBinary = ensureCollectorBuilt();
    folder = mkdtempSync(join(tmpdir(), 'k8s-dns-'));
    received = join(folder, 'received.jsonl');
    network = await TestNetwork.create(SUBNET);
    for (const deployment of deployments) await network.addHost(deployment.metadata.name);
    await network.addHost('client');

    // <service>.<namespace>.svc.cluster.local → the test host running the pods it selects.
    const names: Record<string, string> = {};
    for (const service of objects.filter((o) => o.kind === 'Service' && o.spec.type === 'ClusterIP')) {
      const target = deployments.find(
        (d) => d.metadata.namespace === service.metadata.namespace && Object.entries(service.spec.selector).every(([k, v]) => d.spec.template.metadata.labels[k] === v),
      )!;
      for (const p of service.spec.ports) assert.equal(target.spec.template.spec.containers[0].ports.find((c: K8sObject) => c.name === p.targetPort).containerPort, p.port, 'no port mapping on test hosts');
      names[`${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local`] = target.metadata.name;
    }
    network.writeHostsFiles(names);

    // The collector: its container's args and env; the ConfigMap mount is collector/ (same bytes: test/k8s.test.mts).
    const collector = find(objects, 'Deployment', 'otel-collector', 'observability');
    const container = collector.spec.template.spec.containers[0];
    const mount = container.volumeMounts[0].mountPath;
    const args = container.args.map((arg: string) => arg.replace(`=${mount}/`, `=${join(ROOT, 'collector')}/`));
    assert.deepEqual(args, [`--config=${COLLECTOR_CONFIG}`]);
    const collectorEnv = {
      ...podEnv(collector, container),
      // Sentry cannot be reached from here: keep the debug log and write what arrives to a file.
      COLLECTOR_EXPORTERS: '[debug, file]',
      COLLECTOR_FILE_PATH: received,
      TAIL_SAMPLING_DECISION_WAIT: '1s',
    };
    outputs.collector = network.start('otel-collector', [collectorBinary, ...args], { env: collectorEnv, cwd: folder }).output;
    await network.fetch('client', `http://${network.hosts.get('otel-collector')}:13133/`, 30_000);

    // The services: the image's CMD from the built dist/, the image's ENV, then the pod's env.
    for (const name of ['users', 'gateway']) {
      const deployment = find(objects, 'Deployment', name, 'users-demo');
      const env: Record<string, string> = { PATH: process.env.PATH ?? '', ...IMAGE_ENV, ...podEnv(deployment, deployment.spec.template.spec.containers[0]) };
      assert.equal(env.OTEL_EXPORTER_OTLP_ENDPOINT, undefined);
      outputs[name] = network.start(name, [process.execPath, ...SERVICE_NODE_ARGS], { env, cwd: ROOT }).output;
    }
    const ready = await network.fetch('client', 'http://gateway.users-demo.svc.cluster.local:8080/readyz');
    assert.equal(ready.status, 200);
    assert.equal((await network.fetch('gateway', 'http://users.users-demo.svc.cluster.local:8080/readyz')).status, 200);
  });

  after(async () => {
    await network?.destroy();
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  it('GET /chain/123 on the gateway: the spans of both services reach the collector, as one trace', async () => {
    const response = await network.fetch('client', 'http://gateway.users-demo.svc.cluster.local:8080/chain/123');
    assert.equal(response.status, 200, response.body);
    const explain = () => Object.entries(outputs).map(([name, output]) => `--- ${name}:\n${output().slice(-3000)}`).join('\n');

    const spans = await waitFor(
      () => {
        const all = readCollectorFile(received).spans;
        const chain = all.find((s) => serviceOf(s) === 'gateway' && s.name === 'GET /chain/:id');
        const trace = all.filter((s) => s.traceId === chain?.traceId);
        return trace.some((s) => serviceOf(s) === 'users' && s.name === 'GET /users/:id') ? trace : undefined;
      },
      'spans of gateway and users at the collector',
      30_000,
    ).catch((error: Error) => assert.fail(`${error.message}\n${explain()}`));

    const usersServer = spans.find((s) => serviceOf(s) === 'users' && s.name === 'GET /users/:id')!;
    const parent = spans.find((s) => s.spanId === usersServer.parentSpanId);
    assert.equal(parent && serviceOf(parent), 'gateway', 'the users span continues the gateway call');
    for (const span of [usersServer, parent!]) {
      assert.equal(span.resource['k8s.namespace.name'], 'users-demo');
      assert.equal(span.resource['k8s.pod.name'], `${serviceOf(span)}-rehearsal`);
      assert.equal(span.resource['k8s.node.name'], 'rehearsal-node');
    }
  });
});
