import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { COLLECTOR_CONFIG, LOADBALANCER_CONFIG, validateConfig } from '../harness/collector.mts';
import {
  OVERLAYS,
  SENTRY_ENV_EXAMPLE,
  buildOverlay,
  bytesOf,
  find,
  findGenerated,
  millicoresOf,
  parseEnvFile,
  renderOverlay,
  validate,
  type K8sObject,
} from '../harness/k8s.mts';
import { selects } from '../harness/network-policy.mts';
import { ROOT } from '../harness/service.mts';
import { deploymentLimits, tuningOf } from '../bench/lib/pod-cgroup.mts';

/*
 * The manifests in k8s/, checked without a cluster: every overlay builds, every
 * object decodes strictly into the pinned Kubernetes API types, and the rules a
 * reviewer would check by eye are checked here on the rendered objects.
 */

const { DEFAULT_OTLP_GRPC_ENDPOINT, DEFAULT_OTLP_HTTP_ENDPOINT } = await import('../dist/telemetry/settings.js');
const COLLECTOR_RELEASE = /otlpreceiver v(\d+\.\d+\.\d+)/.exec(readFileSync(`${ROOT}/collector/builder-config.yaml`, 'utf8'))![1]!;
const DOCKERFILE_UID = Number(/^USER (\d+)/m.exec(readFileSync(`${ROOT}/Dockerfile`, 'utf8'))?.[1]);
const COLLECTOR_DOCKERFILE_UID = Number(/^USER (\d+)/m.exec(readFileSync(`${ROOT}/collector/Dockerfile`, 'utf8'))?.[1]);
const COLLECTOR_DIST = /^\s+name: (\S+)/m.exec(readFileSync(`${ROOT}/collector/builder-config.yaml`, 'utf8'))![1]!;
const APP_NAMESPACE = 'users-demo';
const APPS = ['gateway', 'users'];

const deployments = (objects: K8sObject[]) => objects.filter((o) => o.kind === 'Deployment');
/** Every Deployment that runs our collector: the one collector, or both tiers. */
const collectors = (objects: K8sObject[]) => deployments(objects).filter((d) => d.metadata.namespace === 'observability');
/** The configuration file each collector's --config names, by its name in the ConfigMap. */
const COLLECTOR_FILES: Record<string, string> = { 'config.yaml': COLLECTOR_CONFIG, 'loadbalancer.yaml': LOADBALANCER_CONFIG };
const configFileOf = (deployment: K8sObject) => /--config=\S*\/([^/]+)$/.exec(containersOf(deployment)[0]!.args[0])![1]!;
const containersOf = (deployment: K8sObject): K8sObject[] => deployment.spec.template.spec.containers;
const envOf = (container: K8sObject): Record<string, string | undefined> =>
  Object.fromEntries((container.env ?? []).map((e: { name: string; value?: string }) => [e.name, e.value]));
const where = (o: K8sObject) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`;

describe('k8s/: every overlay builds and validates strictly', () => {
  it('finds the two overlays', () => assert.deepEqual(OVERLAYS, ['eks', 'minikube']));

  for (const overlay of OVERLAYS) {
    it(`${overlay}: kustomize build, then every object decodes strictly into k8s.io/api`, () => {
      const result = validate(buildOverlay(overlay));
      assert.ok(result.ok, result.stderr);
      assert.match(result.stdout, /^\d+ objects valid/);
    });
  }

  // The README asks for kubectl 1.27 or newer, whose `apply -k` builds with kustomize v5.0.1.
  for (const overlay of OVERLAYS) {
    for (const optIn of [false, true]) {
      it(`${overlay}${optIn ? ' with its components' : ''}: kubectl 1.27's kustomize builds the same objects`, () => {
        assert.equal(buildOverlay(overlay, { optIn, asKubectl127: true }), buildOverlay(overlay, { optIn }));
      });
    }
  }

  it('the validator refuses an unknown field, a wrong type, a bad quantity and an unknown kind', () => {
    const objects = renderOverlay('minikube');
    const gateway = find(objects, 'Deployment', 'gateway');
    const cases: Array<[string, (o: K8sObject) => void, RegExp]> = [
      ['a misspelt field', (d) => (containersOf(d)[0]!.readinesProbe = containersOf(d)[0]!.readinessProbe), /unknown field "spec.template.spec.containers\[0\].readinesProbe"/],
      ['a field at the wrong level', (d) => (d.spec.template.spec.runAsNonRoot = true), /unknown field "spec.template.spec.runAsNonRoot"/],
      ['a wrong type', (d) => (d.spec.replicas = 'two'), /cannot unmarshal string .* of type int32/],
      ['a bad quantity', (d) => (containersOf(d)[0]!.resources.limits.memory = '256MB'), /quantities must match/],
      ['an unknown kind', (d) => (d.kind = 'Deploymnet'), /no kind "Deploymnet" is registered/],
    ];
    for (const [what, breakIt, error] of cases) {
      const broken = structuredClone(gateway);
      breakIt(broken);
      const result = validate([...objects.filter((o) => o !== gateway), broken].map((o) => JSON.stringify(o)).join('\n---\n'));
      assert.equal(result.ok, false, `${what} passed validation`);
      assert.match(result.stderr, error, what);
      assert.match(result.stderr, /gateway/, 'the error names the object');
    }
  });
});

for (const [overlay, optIn] of OVERLAYS.flatMap((overlay) => [[overlay, false], [overlay, true]] as const)) {
  describe(`k8s/overlays/${overlay}${optIn ? ' with its components' : ''}: policy`, () => {
    const objects = renderOverlay(overlay, { optIn });

    it('puts every object in a namespace it declares, and both namespaces enforce the restricted Pod Security profile', () => {
      const namespaces = objects.filter((o) => o.kind === 'Namespace');
      assert.deepEqual(namespaces.map((n) => n.metadata.name).sort(), ['observability', APP_NAMESPACE]);
      for (const ns of namespaces) assert.equal(ns.metadata.labels['pod-security.kubernetes.io/enforce'], 'restricted', where(ns));
      for (const o of objects.filter((o) => o.kind !== 'Namespace')) {
        assert.ok(namespaces.some((n) => n.metadata.name === o.metadata.namespace), `${where(o)} is not in observability or ${APP_NAMESPACE}`);
      }
    });

    it('pins every image to a version: no :latest, no missing tag', () => {
      for (const d of deployments(objects)) {
        for (const c of containersOf(d)) {
          const match = /^(?<name>(?:[^/]+\/)*[^/:@]+)(?::(?<tag>[\w][\w.-]*))?(?:@sha256:[0-9a-f]{64})?$/.exec(c.image);
          assert.ok(match, `${where(d)}: image "${c.image}" is not an image reference`);
          assert.ok(match.groups!.tag || c.image.includes('@sha256:'), `${where(d)}: image "${c.image}" has no tag or digest`);
          assert.notEqual(match.groups!.tag, 'latest', `${where(d)}: image "${c.image}" uses :latest`);
        }
      }
    });

    it('runs our own collector image (collector/Dockerfile: the binary the tests run), as the user that image declares', () => {
      assert.ok(collectors(objects).length > 0);
      assert.match(readFileSync(`${ROOT}/collector/Dockerfile`, 'utf8'), new RegExp(`^COPY --from=build /src/.cache/collector/dist/${COLLECTOR_DIST} /${COLLECTOR_DIST}$`, 'm'));
      for (const collector of collectors(objects)) {
        const image = containersOf(collector)[0]!.image as string;
        assert.equal(/([^/:@]+)(?::[^/]*)?$/.exec(image)![1], COLLECTOR_DIST, `${where(collector)} ${image}: the distribution collector/builder-config.yaml builds`);
        assert.equal(collector.spec.template.spec.securityContext.runAsUser, COLLECTOR_DOCKERFILE_UID, `${where(collector)}: the UID of USER in collector/Dockerfile`);
      }
    });

    it('exposes nothing through NodePort, host ports or the host network', () => {
      for (const s of objects.filter((o) => o.kind === 'Service')) {
        assert.notEqual(s.spec.type, 'NodePort', where(s));
        for (const port of s.spec.ports) assert.equal(port.nodePort, undefined, where(s));
        if (s.spec.type === 'LoadBalancer') assert.equal(s.spec.selector['app.kubernetes.io/name'], 'gateway', `only the gateway may be public: ${where(s)}`);
      }
      for (const d of deployments(objects)) {
        assert.notEqual(d.spec.template.spec.hostNetwork, true, where(d));
        for (const c of containersOf(d)) for (const p of c.ports ?? []) assert.equal(p.hostPort, undefined, where(d));
      }
    });

    it('hardens every workload: non-root, read-only root, no capabilities, no escalation, RuntimeDefault seccomp, no token', () => {
      for (const d of deployments(objects)) {
        const pod = d.spec.template.spec;
        assert.equal(pod.automountServiceAccountToken, false, where(d));
        assert.equal(pod.securityContext?.runAsNonRoot, true, where(d));
        assert.ok(pod.securityContext?.runAsUser > 0, `${where(d)}: runAsUser must be a non-zero UID`);
        assert.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault', where(d));
        for (const c of [...containersOf(d), ...(pod.initContainers ?? [])]) {
          assert.equal(c.securityContext?.allowPrivilegeEscalation, false, `${where(d)} ${c.name}`);
          assert.equal(c.securityContext?.readOnlyRootFilesystem, true, `${where(d)} ${c.name}`);
          assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL'], `${where(d)} ${c.name}`);
          assert.equal(c.securityContext?.privileged, undefined, `${where(d)} ${c.name}`);
        }
      }
    });

    it('gives every container liveness and readiness probes on a port it declares, and requests ≤ limits for cpu and memory', () => {
      for (const d of deployments(objects)) {
        for (const c of containersOf(d)) {
          const ports = (c.ports ?? []).flatMap((p: { name: string; containerPort: number }) => [p.name, p.containerPort]);
          for (const probe of ['livenessProbe', 'readinessProbe']) {
            assert.ok(c[probe]?.httpGet, `${where(d)}: no HTTP ${probe}`);
            assert.ok(ports.includes(c[probe].httpGet.port), `${where(d)}: ${probe} on an undeclared port ${c[probe].httpGet.port}`);
          }
          for (const resource of ['cpu', 'memory']) {
            const request = c.resources?.requests?.[resource];
            const limit = c.resources?.limits?.[resource];
            assert.ok(request && limit, `${where(d)}: ${resource} request and limit are both required`);
            const measure = resource === 'cpu' ? millicoresOf : bytesOf;
            assert.ok(measure(request) <= measure(limit), `${where(d)}: ${resource} request ${request} > limit ${limit}`);
          }
        }
      }
    });

    it('points every Service at pods that exist, on ports they declare', () => {
      for (const s of objects.filter((o) => o.kind === 'Service')) {
        const target = deployments(objects).find(
          (d) => d.metadata.namespace === s.metadata.namespace && Object.entries(s.spec.selector).every(([k, v]) => d.spec.template.metadata.labels[k] === v),
        );
        assert.ok(target, `${where(s)} selects no pods`);
        const declared = containersOf(target).flatMap((c) => (c.ports ?? []).map((p: { name: string }) => p.name));
        for (const port of s.spec.ports) assert.ok(declared.includes(port.targetPort), `${where(s)}: targetPort ${port.targetPort} is not a named container port`);
      }
    });

    it("serves the collector at the service's default OTLP endpoints (DEFAULT_OTLP_*_ENDPOINT in src/telemetry/settings.ts)", () => {
      const url = new URL(DEFAULT_OTLP_GRPC_ENDPOINT);
      assert.equal(new URL(DEFAULT_OTLP_HTTP_ENDPOINT).hostname, url.hostname);
      const [name, namespace, ...rest] = url.hostname.split('.');
      assert.equal(rest.join('.'), 'svc.cluster.local', url.hostname);
      const service = find(objects, 'Service', name!, namespace);
      assert.equal(service.spec.type, 'ClusterIP');
      assert.deepEqual(
        service.spec.ports.map((p: { port: number }) => p.port),
        [Number(url.port), Number(new URL(DEFAULT_OTLP_HTTP_ENDPOINT).port)],
        'OTLP gRPC at the port of the default endpoint, OTLP HTTP at 4318',
      );
    });

    it('generates each collector\'s ConfigMap from the file its --config names, byte for byte, and mounts it there', () => {
      for (const deployment of collectors(objects)) {
        const file = configFileOf(deployment);
        const pod = deployment.spec.template.spec;
        const container = pod.containers[0];
        const mount = container.volumeMounts.find((m: { mountPath: string }) => container.args[0] === `--config=${m.mountPath}/${file}`);
        assert.ok(mount, `${where(deployment)}: ${container.args[0]} is not in a mounted volume`);
        const configMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === pod.volumes.find((v: K8sObject) => v.name === mount.name).configMap.name)!;
        assert.equal(configMap.metadata.namespace, 'observability');
        assert.deepEqual(Object.keys(configMap.data), [file]);
        assert.equal(configMap.data[file], readFileSync(COLLECTOR_FILES[file]!, 'utf8'), `${where(deployment)}: ${file}`);
        assert.deepEqual(container.args, [`--config=${mount.mountPath}/${file}`]);
      }
    });

    it('runs collector/config.yaml (the one collector, or the sampling tier) with Sentry on, its settings from the Secret', () => {
      const samplers = collectors(objects).filter((d) => configFileOf(d) === 'config.yaml');
      assert.equal(samplers.length, 1, 'one Deployment runs config.yaml');
      for (const deployment of samplers) {
        const container = containersOf(deployment)[0]!;
        assert.equal(envOf(container).COLLECTOR_EXPORTERS, '[debug, otlp_http/sentry]');
        const secret = findGenerated(objects, 'Secret', 'sentry', 'observability');
        assert.deepEqual(container.envFrom, [{ secretRef: { name: secret.metadata.name } }]);
        for (const [, variable] of readFileSync(COLLECTOR_CONFIG, 'utf8').matchAll(/\$\{env:(SENTRY_\w+)/g)) {
          assert.ok(variable! in secret.data, `the Secret lacks ${variable}, which config.yaml reads`);
        }
      }
    });

    it('gives every collector GOMEMLIMIT below its memory limit, and probes on health_check', () => {
      for (const deployment of collectors(objects)) {
        const container = containersOf(deployment)[0]!;
        const env = envOf(container);
        const limit = bytesOf(container.resources.limits.memory);
        const goMemLimit = bytesOf(env.GOMEMLIMIT!.replace(/iB$/, 'i'));
        assert.ok(goMemLimit < limit * 0.9 && goMemLimit > limit * 0.6, `${where(deployment)}: GOMEMLIMIT ${env.GOMEMLIMIT} should be ~80% of ${container.resources.limits.memory}`);
        const health = container.ports.find((p: { name: string }) => p.name === 'health');
        const file = readFileSync(COLLECTOR_FILES[configFileOf(deployment)]!, 'utf8');
        assert.equal(health.containerPort, Number(/HEALTH_CHECK_ENDPOINT:-[\d.]+:(\d+)/.exec(file)![1]));
        assert.equal(container.livenessProbe.httpGet.port, 'health');
        assert.equal(container.readinessProbe.httpGet.port, 'health');
      }
    });

    it('the collector binary accepts each configuration with the environment its Deployment gives it', () => {
      for (const deployment of collectors(objects)) {
        const container = containersOf(deployment)[0]!;
        const env = { ...parseEnvFile(readFileSync(SENTRY_ENV_EXAMPLE, 'utf8')), ...(envOf(container) as Record<string, string>) };
        const { status, output } = validateConfig([COLLECTOR_FILES[configFileOf(deployment)]!], env);
        assert.equal(status, 0, `${where(deployment)}: ${output}`);
      }
    });

    it('runs gateway and users from one image, named per Deployment, with pod, namespace and node in the resource', () => {
      const images = new Set<string>();
      for (const name of APPS) {
        const deployment = find(objects, 'Deployment', name, APP_NAMESPACE);
        const [container] = containersOf(deployment);
        images.add(container!.image);
        const env: Array<{ name: string; value?: string; valueFrom?: K8sObject }> = container!.env;
        const value = (n: string) => env.find((e) => e.name === n)?.value;
        assert.equal(value('OTEL_SERVICE_NAME'), name);
        assert.equal(value('OTEL_EXPORTER_OTLP_ENDPOINT'), undefined, 'the default endpoint in code is used');
        const secret = findGenerated(objects, 'Secret', 'sentry', APP_NAMESPACE);
        assert.deepEqual(env.find((e) => e.name === 'SENTRY_DSN')?.valueFrom, { secretKeyRef: { name: secret.metadata.name, key: 'SENTRY_DSN', optional: true } });
        const attributes = value('OTEL_RESOURCE_ATTRIBUTES')!;
        for (const [attribute, field] of [['k8s.pod.name', 'metadata.name'], ['k8s.namespace.name', 'metadata.namespace'], ['k8s.node.name', 'spec.nodeName']]) {
          const variable = new RegExp(`(?:^|,)${attribute.replaceAll('.', '\\.')}=\\$\\((\\w+)\\)`).exec(attributes)?.[1];
          assert.ok(variable, `${name}: ${attribute} is missing from OTEL_RESOURCE_ATTRIBUTES`);
          const index = env.findIndex((e) => e.name === variable);
          assert.equal(env[index]?.valueFrom?.fieldRef?.fieldPath, field, `${name}: ${variable} must come from the downward API (${field})`);
          assert.ok(index < env.findIndex((e) => e.name === 'OTEL_RESOURCE_ATTRIBUTES'), `${name}: Kubernetes expands $(${variable}) only when it is defined earlier`);
        }
        assert.equal(container!.livenessProbe.httpGet.path, '/healthz');
        assert.equal(container!.readinessProbe.httpGet.path, '/readyz');
        assert.equal(deployment.spec.template.spec.securityContext.runAsUser, DOCKERFILE_UID, 'the UID of USER in the Dockerfile');
      }
      assert.equal(images.size, 1, `one image for both: ${[...images]}`);
    });

    it('both apps run with the NODE_OPTIONS and export queues the pod-shaped bench ran with, and node accepts them', () => {
      const measured = deploymentLimits();
      assert.ok(measured.env.NODE_OPTIONS, `the bench found no NODE_OPTIONS in ${measured.source}`);
      const benchTuning = tuningOf(measured.env);
      for (const name of APPS) {
        const env = envOf(containersOf(find(objects, 'Deployment', name, APP_NAMESPACE))[0]!);
        const appTuning = tuningOf(env);
        assert.deepEqual(appTuning, benchTuning, `${name}: the bench measured ${measured.source}`);
        // A flag that NODE_OPTIONS does not allow stops node before the service starts: every pod would crash.
        const run = spawnSync(process.execPath, ['-e', 'process.exit(0)'], { env: { NODE_OPTIONS: env.NODE_OPTIONS }, encoding: 'utf8' });
        assert.equal(run.status, 0, `${name}: node refused NODE_OPTIONS=${env.NODE_OPTIONS}: ${run.stderr}`);
      }
    });

    it('names the Sentry environment of the cluster: development on minikube, production on EKS', () => {
      const expected = { minikube: 'development', eks: 'production' }[overlay];
      for (const name of APPS) {
        assert.equal(envOf(containersOf(find(objects, 'Deployment', name, APP_NAMESPACE))[0]!).DEPLOYMENT_ENVIRONMENT, expected, name);
      }
    });

    it('starts the app pods without a failed probe: a startupProbe first tried once the server listens, liveness and readiness after it', () => {
      for (const name of APPS) {
        const container = containersOf(find(objects, 'Deployment', name, APP_NAMESPACE))[0]!;
        const startup = container.startupProbe;
        assert.ok(startup?.httpGet, `${name}: no HTTP startupProbe, so readiness is probed before the server listens ("Readiness probe failed" events)`);
        assert.deepEqual(startup.httpGet, container.livenessProbe.httpGet, `${name}: the startup probe asks what liveness asks`);
        // The kubelet's first try comes after initialDelaySeconds; test/images.test.mts checks the server listens by then.
        assert.ok(startup.initialDelaySeconds >= 1, `${name}: a startup probe tried at once fails ("Startup probe failed" events)`);
        assert.ok(startup.periodSeconds * startup.failureThreshold >= 30, `${name}: a slow start (a busy node) must not be killed`);
        for (const probe of ['livenessProbe', 'readinessProbe']) assert.equal(container[probe].initialDelaySeconds, undefined, `${name}: ${probe} needs no delay, the startup probe gates it`);
      }
    });

    it("sends gateway's /chain calls to the users Service", () => {
      const gateway = containersOf(find(objects, 'Deployment', 'gateway', APP_NAMESPACE))[0]!;
      const url = new URL(envOf(gateway).DOWNSTREAM_URL!);
      const users = find(objects, 'Service', 'users', APP_NAMESPACE);
      assert.equal(url.hostname, `users.${APP_NAMESPACE}.svc.cluster.local`);
      assert.equal(Number(url.port || 80), users.spec.ports[0].port);
    });

    // The flush's hard deadline (10 s) and stdout's (1 s) are src/server.ts's; test/shutdown.test.mts checks the running service against them.
    it('gives the app time to drain: preStop + SHUTDOWN_GRACE_MS + telemetry flush < terminationGracePeriodSeconds', () => {
      for (const name of APPS) {
        const pod = find(objects, 'Deployment', name, APP_NAMESPACE).spec.template.spec;
        const container = pod.containers[0];
        const env = envOf(container);
        const preStopMs = (container.lifecycle?.preStop?.sleep?.seconds ?? 0) * 1000;
        const needed = preStopMs + Number(env.SHUTDOWN_GRACE_MS ?? 10_000) + 10_000 + 1_000;
        assert.ok(preStopMs > 0, `${name}: a preStop pause lets the endpoints drop the pod before it stops accepting`);
        assert.ok(pod.terminationGracePeriodSeconds * 1000 > needed, `${name}: ${pod.terminationGracePeriodSeconds}s is not more than ${needed} ms`);
      }
    });
  });
}

describe('overlay specifics', () => {
  it('minikube: both images built into minikube, never pulled; one collector, keeping every trace', () => {
    const minikube = renderOverlay('minikube');
    for (const [name, image] of [['gateway', 'users-api:dev'], ['users', 'users-api:dev'], ['otel-collector', `${COLLECTOR_DIST}:dev`]]) {
      const [container] = containersOf(find(minikube, 'Deployment', name!));
      assert.equal(container!.image, image);
      assert.equal(container!.imagePullPolicy, 'Never');
    }
    const script = readFileSync(`${ROOT}/scripts/k8s-minikube.sh`, 'utf8');
    assert.ok(script.includes(`COLLECTOR_IMAGE=${COLLECTOR_DIST}:dev`) && script.includes('minikube image build -t "$COLLECTOR_IMAGE" collector'), 'scripts/k8s-minikube.sh builds the collector image');
    assert.deepEqual(collectors(minikube).map((d) => `${d.metadata.name}: ${configFileOf(d)}`), ['otel-collector: config.yaml']);
    assert.equal(envOf(containersOf(find(minikube, 'Deployment', 'otel-collector'))[0]!).TAIL_SAMPLING_PERCENTAGE, '100');
  });

  it('eks: the images from a registry, more than one replica, bigger resources', () => {
    const eks = renderOverlay('eks');
    const minikube = renderOverlay('minikube');
    for (const name of APPS) {
      const deployment = find(eks, 'Deployment', name, APP_NAMESPACE);
      assert.match(containersOf(deployment)[0]!.image, /^[\w.-]+\.[\w.-]+(:\d+)?\/[\w./-]+:[\w][\w.-]*$/, 'registry host/repository:tag');
      assert.ok(deployment.spec.replicas >= 2);
    }
    for (const collector of collectors(eks)) {
      assert.match(containersOf(collector)[0]!.image, new RegExp(`^[\\w.-]+\\.[\\w.-]+(:\\d+)?/[\\w./-]*${COLLECTOR_DIST}:${COLLECTOR_RELEASE.replaceAll('.', '\\.')}$`), 'registry host/repository:release');
    }
    const sampler = (objects: K8sObject[]) => collectors(objects).find((d) => configFileOf(d) === 'config.yaml')!;
    const memory = (objects: K8sObject[]) => bytesOf(containersOf(sampler(objects))[0]!.resources.limits.memory);
    assert.ok(memory(eks) > memory(minikube), 'the sampling tier gets more memory than the one collector on minikube');
  });

  it('eks: nothing public by default; the public-gateway component, a load balancer open to the addresses set in it', () => {
    const loadBalancers = (objects: K8sObject[]) => objects.filter((o) => o.kind === 'Service' && o.spec.type === 'LoadBalancer');
    assert.deepEqual(loadBalancers(renderOverlay('eks')), []);
    const [lb, ...others] = loadBalancers(renderOverlay('eks', { optIn: true }));
    assert.deepEqual([lb && where(lb), others.length], [`Service ${APP_NAMESPACE}/gateway-public`, 0]);
    assert.equal(lb!.metadata.annotations['service.beta.kubernetes.io/aws-load-balancer-scheme'], 'internet-facing');
    assert.equal(lb!.spec.loadBalancerClass, 'service.k8s.aws/nlb', 'the AWS Load Balancer Controller\'s, or none: never a Classic one');
    const ranges: string[] = lb!.spec.loadBalancerSourceRanges ?? [];
    assert.ok(ranges.length > 0, 'open only to the addresses set in it');
    for (const range of ranges) assert.ok(!/^(0\.0\.0\.0|::)\/0$/.test(range), `not to everyone: ${range}`);
    assert.deepEqual(ranges, ['203.0.113.0/24'], 'as shipped, a documentation range (RFC 5737) that no caller has');
  });

  it('eks: each service\'s two replicas spread over zones (and nodes where they can), and drained one pod at a time', () => {
    const eks = renderOverlay('eks');
    for (const name of APPS) {
      const deployment = find(eks, 'Deployment', name, APP_NAMESPACE);
      const labels: Record<string, string> = deployment.spec.template.metadata.labels;
      const spread = (key: string) => deployment.spec.template.spec.topologySpreadConstraints.find((c: K8sObject) => c.topologyKey === key);
      const zone = spread('topology.kubernetes.io/zone');
      assert.ok(zone && zone.maxSkew === 1 && zone.whenUnsatisfiable === 'DoNotSchedule' && selects(zone.labelSelector, labels), `${name}: spread over zones`);
      assert.deepEqual(zone.matchLabelKeys, ['app.kubernetes.io/name', 'pod-template-hash'], `${name}: counted among its own pods only`);

      assert.ok(spread('kubernetes.io/hostname')?.whenUnsatisfiable === 'ScheduleAnyway', `${name}: over nodes where it can`);
      const pdbs = eks.filter((o) => o.kind === 'PodDisruptionBudget' && o.metadata.namespace === APP_NAMESPACE && selects(o.spec.selector, labels));
      assert.deepEqual(pdbs.map((p) => [p.spec.maxUnavailable, p.metadata.name]), [[1, name]], `${name}: one PodDisruptionBudget`);
    }
  });

  it('no topology spread constraint names a key both in matchLabelKeys and in its selector, which the API server refuses', () => {
    // ValidateMatchLabelKeysInTopologySpread; from 1.33 the merged selector of each pod is refused instead.
    for (const overlay of ['minikube', 'eks'] as const) {
      for (const deployment of deployments(renderOverlay(overlay))) {
        for (const constraint of deployment.spec.template.spec.topologySpreadConstraints ?? []) {
          const selected = [...Object.keys(constraint.labelSelector.matchLabels ?? {}), ...(constraint.labelSelector.matchExpressions ?? []).map((e: { key: string }) => e.key)];
          assert.deepEqual(selected.filter((key) => (constraint.matchLabelKeys ?? []).includes(key)), [], `${overlay}: ${where(deployment)}, ${constraint.topologyKey}`);
        }
      }
    }
  });

  it('every object, and every pod, carries app.kubernetes.io/part-of=users-demo, the components\' too', () => {
    for (const overlay of ['minikube', 'eks'] as const) {
      for (const object of renderOverlay(overlay, { optIn: true })) {
        assert.equal(object.metadata.labels?.['app.kubernetes.io/part-of'], 'users-demo', `${overlay}: ${where(object)}`);
        if (object.spec?.template?.metadata) assert.equal(object.spec.template.metadata.labels['app.kubernetes.io/part-of'], 'users-demo', `${overlay}: the pods of ${where(object)}`);
      }
    }
  });

  it('eks: the gateway, the service\'s edge, and only it, distrusts incoming trace context', () => {
    const trust = (objects: K8sObject[], name: string) =>
      containersOf(find(objects, 'Deployment', name, APP_NAMESPACE))[0]!.env.find((e: { name: string }) => e.name === 'TRUST_INCOMING_TRACE_CONTEXT')?.value;
    assert.equal(trust(renderOverlay('eks'), 'gateway'), 'false');
    assert.equal(trust(renderOverlay('eks'), 'users'), undefined, 'users continues the gateway\'s trace');
    for (const name of APPS) assert.equal(trust(renderOverlay('minikube'), name), undefined);
  });
});

describe('eks: the collector as two tiers (docs/kubernetes.md)', () => {
  const eks = renderOverlay('eks');
  const TIERS = ['otel-collector', 'otel-collector-sampling'];
  const loadBalancer = readFileSync(LOADBALANCER_CONFIG, 'utf8');
  const config = readFileSync(COLLECTOR_CONFIG, 'utf8');
  /** A default of loadbalancer.yaml or config.yaml, unless the Deployment sets the variable. */
  const setting = (file: string, deployment: K8sObject, name: string) =>
    envOf(containersOf(deployment)[0]!)[name] ?? new RegExp(`\\$\\{env:${name}:-([^}]+)\\}`).exec(file)![1]!;
  const seconds = (duration: string) => Number(/^(\d+)s$/.exec(duration)![1]);
  const selects = (selector: { matchLabels: Record<string, string> }, deployment: K8sObject) =>
    Object.entries(selector.matchLabels).every(([k, v]) => deployment.spec.template.metadata.labels[k] === v);

  it('otel-collector is the load-balancing tier; it resolves the sampling tier through a headless Service, on the port the samplers listen on', () => {
    const [balancer, sampling] = TIERS.map((name) => find(eks, 'Deployment', name, 'observability'));
    assert.equal(configFileOf(balancer!), 'loadbalancer.yaml');
    assert.equal(configFileOf(sampling!), 'config.yaml');
    const service = find(eks, 'Service', 'otel-collector-sampling', 'observability');
    assert.equal(service.spec.clusterIP, 'None', 'headless: one DNS record per pod, no virtual IP');
    assert.notEqual(service.spec.publishNotReadyAddresses, true, 'a pod that is not ready must leave the ring');
    assert.ok(selects({ matchLabels: service.spec.selector }, sampling!));
    assert.equal(setting(loadBalancer, balancer!, 'SAMPLING_DNS_NAME'), `${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local`);
    const port = Number(setting(loadBalancer, balancer!, 'SAMPLING_OTLP_PORT'));
    assert.deepEqual(service.spec.ports.map((p: { port: number }) => p.port), [port]);
    assert.equal(containersOf(sampling!)[0]!.ports.find((p: { name: string }) => p.name === service.spec.ports[0].targetPort).containerPort, port);
    assert.equal(Number(setting(config, sampling!, 'OTLP_GRPC_ENDPOINT').split(':').at(-1)), port, 'config.yaml listens there');
  });

  for (const name of TIERS) {
    it(`${name}: two replicas or more, spread over zones, a PodDisruptionBudget of one pod at a time, an autoscaler from two`, () => {
      const deployment = find(eks, 'Deployment', name, 'observability');
      assert.equal(deployment.spec.replicas, undefined, 'the autoscaler owns the number: one in the Deployment would come back with every kubectl apply');
      const zone = deployment.spec.template.spec.topologySpreadConstraints.find((c: K8sObject) => c.topologyKey === 'topology.kubernetes.io/zone');
      assert.ok(zone && zone.maxSkew === 1 && selects(zone.labelSelector, deployment), 'spread over zones');
      const pdbs = eks.filter((o) => o.kind === 'PodDisruptionBudget' && selects(o.spec.selector, deployment));
      assert.deepEqual(pdbs.map((p) => p.spec.maxUnavailable), [1]);
      const hpas = eks.filter((o) => o.kind === 'HorizontalPodAutoscaler' && o.spec.scaleTargetRef.kind === 'Deployment' && o.spec.scaleTargetRef.name === name);
      assert.equal(hpas.length, 1);
      assert.ok(hpas[0]!.spec.minReplicas >= 2 && hpas[0]!.spec.maxReplicas > hpas[0]!.spec.minReplicas);
      for (const other of eks.filter((o) => (o.kind === 'PodDisruptionBudget' || o.kind === 'HorizontalPodAutoscaler') && o.metadata.namespace !== APP_NAMESPACE)) {
        assert.equal(other.metadata.namespace, 'observability', where(other));
      }
    });
  }

  it('otel-collector-sampling: the autoscaler changes the ring by one pod at a time', () => {
    const hpa = find(eks, 'HorizontalPodAutoscaler', 'otel-collector-sampling', 'observability');
    for (const direction of ['scaleUp', 'scaleDown']) {
      assert.deepEqual(hpa.spec.behavior[direction].policies.map((p: K8sObject) => [p.type, p.value]), [['Pods', 1]], direction);
    }
  });

  it('otel-collector-sampling: a terminating pod keeps taking spans until the load balancers stop sending, decides them, then has time for Sentry', () => {
    const [balancer, sampling] = TIERS.map((name) => find(eks, 'Deployment', name, 'observability'));
    const container = containersOf(sampling!)[0]!;
    const preStop = container.lifecycle.preStop.sleep.seconds;
    const COREDNS_TTL_S = 5; // the kubernetes plugin's default TTL on EKS and minikube
    const rerouted = seconds(setting(loadBalancer, balancer!, 'SAMPLING_DNS_INTERVAL')) + COREDNS_TTL_S;
    const decided = seconds(setting(config, sampling!, 'TAIL_SAMPLING_DECISION_WAIT'));
    assert.ok(preStop > rerouted + decided, `preStop ${preStop} s: the load balancers may send for ${rerouted} s, the last trace needs ${decided} s more`);
    const sentryTimeout = seconds(/otlp_http\/sentry:[\s\S]*?\n {4}timeout: (\d+s)/.exec(config)![1]!);
    assert.ok(sampling!.spec.template.spec.terminationGracePeriodSeconds > preStop + sentryTimeout, 'a last export to Sentry fits after preStop');
  });

  it('otel-collector (load balancing): the Service drops it before it stops, and a last attempt per batch fits in its grace period', () => {
    const balancer = find(eks, 'Deployment', 'otel-collector', 'observability');
    const preStop = containersOf(balancer)[0]!.lifecycle.preStop.sleep.seconds;
    assert.ok(preStop >= 5);
    const attempt = seconds(/load_balancing:[\s\S]*?\n {4}timeout: (\d+s)/.exec(loadBalancer)![1]!);
    assert.ok(balancer.spec.template.spec.terminationGracePeriodSeconds > preStop + attempt);
  });
});

describe('secrets stay out of git', () => {
  it('k8s/sentry/sentry.env is git-ignored; the committed example holds placeholders only', () => {
    const ignored = spawnSync('git', ['check-ignore', '-q', 'k8s/sentry/sentry.env'], { cwd: ROOT });
    assert.equal(ignored.status, 0, 'k8s/sentry/sentry.env must be listed in .gitignore');
    const example = parseEnvFile(readFileSync(SENTRY_ENV_EXAMPLE, 'utf8'));
    assert.deepEqual(Object.keys(example).sort(), ['SENTRY_OTLP_LOGS_URL', 'SENTRY_OTLP_TRACES_URL', 'SENTRY_PUBLIC_KEY']);
    for (const [key, value] of Object.entries(example)) assert.match(value, /ORG_ID|PROJECT_ID|PUBLIC_KEY/, `${key} must be a placeholder`);
  });

  it('no file that git would commit holds a Sentry DSN or key, an auth token, an AWS key or a private key', () => {
    const files = spawnSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: ROOT, encoding: 'utf8' }).stdout.split('\0').filter(Boolean);
    assert.ok(files.length > 20, 'git lists the files');
    const patterns: Array<[string, RegExp]> = [
      ['a Sentry DSN', /https?:\/\/[0-9a-f]{32}@[\w.-]+\/\d+/],
      ['a Sentry public key', /sentry_key=[0-9a-f]{32}/],
      ['a Sentry auth token', /sntry[su]_[A-Za-z0-9+/=_]{40,}/],
      ['an AWS access key', /\b(AKIA|ASIA)[0-9A-Z]{16}\b/],
      ['a private key', /-----BEGIN [A-Z ]*PRIVATE KEY-----/],
    ];
    const found: string[] = [];
    for (const file of files) {
      let text: string;
      try {
        text = readFileSync(`${ROOT}/${file}`, 'utf8');
      } catch {
        continue; // listed but deleted in the work tree
      }
      for (const [what, pattern] of patterns) if (pattern.test(text)) found.push(`${file}: ${what}`);
    }
    assert.deepEqual(found, []);
  });
});
