import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { OVERLAYS, renderOverlay, type K8sObject } from '../harness/k8s.mts';
import { allowedFlows, possibleFlows, flowName, type Endpoint, type Flow, type Port } from '../harness/network-policy.mts';
import { ROOT } from '../harness/service.mts';

/*
 * The NetworkPolicies of each overlay, as an allow-graph: who may reach whom,
 * on which port, computed from the rendered objects with Kubernetes' semantics
 * (harness/network-policy.mts), and compared with the table in
 * docs/kubernetes.md, which is the reviewed statement of what may talk.
 */

const DOC = join(ROOT, 'docs/kubernetes.md');
const OURS = ['users-demo', 'observability'];
/** The label a namespace gets so that its pods may scrape the collectors' metrics (docs/kubernetes.md). */
const SCRAPER_LABEL = { 'users-demo/collector-metrics': 'scrape' };

/** What the cluster has besides our pods: CoreDNS, a Prometheus, a pod of another namespace, the EC2 instance metadata service, the internet, a node. */
const OUTSIDE: Endpoint[] = [
  {
    id: 'kube-system/kube-dns',
    namespace: { name: 'kube-system', labels: { 'kubernetes.io/metadata.name': 'kube-system' } },
    labels: { 'k8s-app': 'kube-dns' },
    ip: '10.0.9.10',
    ports: [{ port: 53, protocol: 'UDP', name: 'dns' }, { port: 53, protocol: 'TCP', name: 'dns-tcp' }],
  },
  {
    id: 'monitoring/prometheus',
    namespace: { name: 'monitoring', labels: { 'kubernetes.io/metadata.name': 'monitoring', ...SCRAPER_LABEL } },
    labels: { 'app.kubernetes.io/name': 'prometheus' },
    ip: '10.0.9.20',
    ports: [{ port: 9090, protocol: 'TCP', name: 'web' }],
  },
  {
    id: 'other/any-pod',
    namespace: { name: 'other', labels: { 'kubernetes.io/metadata.name': 'other' } },
    labels: { 'app.kubernetes.io/name': 'any' },
    ip: '10.0.9.30',
    ports: [{ port: 8080, protocol: 'TCP', name: 'http' }, { port: 443, protocol: 'TCP', name: 'https' }],
  },
  { id: 'instance-metadata', labels: {}, ip: '169.254.169.254', ports: [{ port: 80, protocol: 'TCP' }] },
  { id: 'internet', labels: {}, ip: '203.0.113.10', ports: [{ port: 443, protocol: 'TCP' }, { port: 80, protocol: 'TCP' }] },
  { id: 'node (kubelet)', labels: {}, ip: '10.1.0.1', ports: [], node: true },
];

/** One endpoint per Deployment (namespace/name), with its pods' labels and ports, and its namespace's labels as the API server sets them. */
function cluster(objects: K8sObject[]): { endpoints: Endpoint[]; probePorts: (to: Endpoint) => Port[] } {
  const namespaces = new Map(
    objects.filter((o) => o.kind === 'Namespace').map((n) => [n.metadata.name, { name: n.metadata.name, labels: { ...n.metadata.labels, 'kubernetes.io/metadata.name': n.metadata.name } }]),
  );
  const probes = new Map<string, Array<string | number>>();
  const pods = objects
    .filter((o) => o.kind === 'Deployment')
    .map((d, i): Endpoint => {
      const containers: K8sObject[] = d.spec.template.spec.containers;
      const id = `${d.metadata.namespace}/${d.metadata.name}`;
      probes.set(id, containers.flatMap((c) => ['startupProbe', 'livenessProbe', 'readinessProbe'].map((p) => c[p]?.httpGet?.port).filter((p) => p !== undefined)));
      return {
        id,
        namespace: namespaces.get(d.metadata.namespace!)!,
        labels: d.spec.template.metadata.labels,
        ip: `10.0.0.${i + 1}`,
        ports: containers.flatMap((c) => (c.ports ?? []).map((p: K8sObject) => ({ port: p.containerPort, protocol: p.protocol ?? 'TCP', name: p.name }))),
      };
    });
  const probePorts = (to: Endpoint) => to.ports.filter((port) => (probes.get(to.id) ?? []).some((p) => p === port.name || p === port.port));
  return { endpoints: [...pods, ...OUTSIDE], probePorts };
}

const key = (flow: Flow) => `${flow.from} → ${flow.to} ${flow.port}`;
/** Connections that involve our pods; the DNS and metadata stand-ins only answer. */
const ours = (flow: Flow) => [flow.from, flow.to].some((id) => OURS.includes(id.split('/')[0]!)) && !['kube-system/kube-dns', 'instance-metadata'].includes(flow.from);

/** The rows of the table under "### The allow-graph" in docs/kubernetes.md: flow → cell per overlay (yes, no, —). */
function documentedTable(): Map<string, Record<string, string>> {
  const doc = readFileSync(DOC, 'utf8');
  const after = doc.slice(doc.indexOf('### The allow-graph')).split('\n');
  const first = after.findIndex((line) => line.startsWith('|'));
  const table = after.slice(first, after.findIndex((line, i) => i > first && !line.startsWith('|')));
  assert.ok(first > 0 && table.length > 2, 'docs/kubernetes.md has the allow-graph table under "### The allow-graph"');
  const cells = (line: string) => line.split('|').slice(1, -1).map((cell) => cell.trim().replaceAll('`', ''));
  const header = cells(table[0]!);
  assert.deepEqual(header.slice(0, 3), ['from', 'to', 'port']);
  assert.deepEqual([...header.slice(3)].sort(), [...OVERLAYS].sort(), 'one column per overlay');
  const rows = new Map<string, Record<string, string>>();
  for (const line of table.slice(2)) {
    const [from, to, port, ...marks] = cells(line);
    const flow = key({ from: from!, to: to!, port: port! });
    assert.ok(!rows.has(flow), `${flow} is in the table twice`);
    rows.set(flow, Object.fromEntries(header.slice(3).map((overlay, i) => [overlay, marks[i]!])));
  }
  return rows;
}

/** The table as it should read, to paste into docs/kubernetes.md when a policy changes on purpose. */
function tableFor(allowed: Record<string, Set<string>>, possible: Record<string, Set<string>>): string {
  const flows = [...new Set(Object.values(allowed).flatMap((set) => [...set]))].sort();
  const row = (flow: string) => {
    const [, from, to, port] = /^(.*) → (.*) (\S+)$/.exec(flow)!;
    return `| \`${from}\` | \`${to}\` | ${port} | ${OVERLAYS.map((o) => (allowed[o]!.has(flow) ? 'yes' : possible[o]!.has(flow) ? 'no' : '—')).join(' | ')} |`;
  };
  return [`| from | to | port | ${OVERLAYS.join(' | ')} |`, `| --- | --- | --- |${OVERLAYS.map(() => ' --- |').join('')}`, ...flows.map(row)].join('\n');
}

/** The connections involving our pods that the rendered objects' policies allow. */
function allowedIn(objects: K8sObject[]): Set<string> {
  const { endpoints, probePorts } = cluster(objects);
  const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
  return new Set(allowedFlows(policies, endpoints, probePorts).filter(ours).map(key));
}

describe('NetworkPolicies: the allow-graph of each overlay is the table in docs/kubernetes.md', () => {
  const allowed: Record<string, Set<string>> = {};
  const possible: Record<string, Set<string>> = {};
  for (const overlay of OVERLAYS) {
    const objects = renderOverlay(overlay);
    const { endpoints, probePorts } = cluster(objects);
    allowed[overlay] = allowedIn(objects);
    possible[overlay] = new Set(possibleFlows(endpoints, probePorts).map(flowName).filter(ours).map(key));
  }
  const documented = documentedTable();
  const explain = () => `the table for docs/kubernetes.md, as the policies render now:\n${tableFor(allowed, possible)}`;

  for (const overlay of OVERLAYS) {
    it(`${overlay}: every allowed connection is in the table as yes, and nothing else is`, () => {
      const documentedYes = [...documented].filter(([, marks]) => marks[overlay] === 'yes').map(([flow]) => flow).sort();
      assert.deepEqual(documentedYes, [...allowed[overlay]!].sort(), explain());
    });

    it(`${overlay}: the table's "no" rows are connections the policies refuse, its "—" rows ones that do not exist there`, () => {
      for (const [flow, marks] of documented) {
        assert.match(marks[overlay]!, /^(yes|no|—)$/, `${flow}: ${overlay} says "${marks[overlay]}"`);
        if (marks[overlay] === 'no') assert.ok(possible[overlay]!.has(flow) && !allowed[overlay]!.has(flow), `${flow} (${overlay}: no)\n${explain()}`);
        if (marks[overlay] === '—') assert.ok(!possible[overlay]!.has(flow), `${flow} exists in ${overlay}\n${explain()}`);
      }
    });

    it(`${overlay}: every pod of ours is isolated both ways, so a port added later is closed until a policy opens it`, () => {
      const objects = renderOverlay(overlay);
      const { endpoints } = cluster(objects);
      const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
      for (const pod of endpoints.filter((e) => e.namespace && OURS.includes(e.namespace.name))) {
        for (const direction of ['Ingress', 'Egress']) {
          assert.ok(
            policies.some((p) => p.metadata.namespace === pod.namespace!.name && Object.keys(p.spec.podSelector).length === 0 && p.spec.policyTypes.includes(direction) && !p.spec[direction.toLowerCase()]),
            `${pod.id}: no default deny for ${direction}`,
          );
        }
      }
    });
  }
});

describe('k8s/components/sentry-issues: what SENTRY_DSN (errors as Issues) needs, and nothing more', () => {
  for (const overlay of OVERLAYS) {
    it(`${overlay} with it: gateway and users may open HTTPS to public addresses, and nothing else changes`, () => {
      const without = allowedIn(renderOverlay(overlay));
      const withIt = allowedIn(renderOverlay(overlay, { optIn: true }));
      assert.deepEqual([...withIt].filter((flow) => !without.has(flow)).sort(), ['users-demo/gateway → internet 443/TCP', 'users-demo/users → internet 443/TCP']);
      assert.deepEqual([...without].filter((flow) => !withIt.has(flow)), []);
    });
  }
});

describe('harness/network-policy.mts computes what Kubernetes specifies', () => {
  const ns = (name: string, labels: Record<string, string> = {}) => ({ name, labels: { 'kubernetes.io/metadata.name': name, ...labels } });
  const a: Endpoint = { id: 'a', namespace: ns('one'), labels: { app: 'a' }, ip: '10.0.0.1', ports: [{ port: 80, protocol: 'TCP', name: 'http' }, { port: 81, protocol: 'TCP' }] };
  const b: Endpoint = { id: 'b', namespace: ns('two', { team: 'x' }), labels: { app: 'b' }, ip: '10.0.0.2', ports: [{ port: 80, protocol: 'TCP', name: 'http' }] };
  const outside: Endpoint = { id: 'outside', labels: {}, ip: '198.51.100.7', ports: [{ port: 443, protocol: 'TCP' }] };
  const policy = (namespace: string, spec: K8sObject['spec']): K8sObject => ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'p', namespace }, spec });
  const flows = (policies: K8sObject[]) => allowedFlows(policies, [a, b, outside], () => []).map(key).filter((f) => !f.startsWith('outside → outside')).sort();

  it('no policy: everything is allowed; a policy with no rules isolates the pods it selects', () => {
    assert.equal(flows([]).length, 11, 'to a: 3 senders × 2 ports; to b: 3; to outside: 2');
    assert.deepEqual(flows([policy('one', { podSelector: {}, policyTypes: ['Ingress'] })]).filter((f) => / → a /.test(f)), []);
  });

  it('policyTypes left out: Ingress, and Egress only when there are egress rules', () => {
    assert.deepEqual(flows([policy('one', { podSelector: {}, ingress: [] })]).filter((f) => f.startsWith('a →')), ['a → b 80/TCP', 'a → outside 443/TCP'], 'a still sends');
    assert.deepEqual(flows([policy('one', { podSelector: {}, egress: [{ to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/8'] } }] }] })]).filter((f) => f.startsWith('a →')), ['a → outside 443/TCP']);
  });

  it('a peer with both selectors is one condition (AND); two peers are two (OR); podSelector alone means the policy\'s namespace', () => {
    const ingressToB = (from: object[]) => flows([policy('two', { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ from }] })]).filter((f) => / → b /.test(f));
    assert.deepEqual(ingressToB([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'one' } }, podSelector: { matchLabels: { app: 'b' } } }]), []);
    assert.deepEqual(ingressToB([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'one' } } }, { podSelector: { matchLabels: { app: 'b' } } }]), ['a → b 80/TCP', 'b → b 80/TCP']);
    assert.deepEqual(ingressToB([{ podSelector: { matchLabels: { app: 'a' } } }]), [], 'a is not in namespace two');
  });

  it('rules of all the policies that select a pod add up; both ends must allow', () => {
    const isolateA = policy('one', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    const openA80 = policy('one', { podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['a'] }] }, policyTypes: ['Ingress'], ingress: [{ ports: [{ port: 'http' }] }] });
    const openA81 = policy('one', { podSelector: { matchLabels: { app: 'a' } }, ingress: [{ ports: [{ port: 81, endPort: 90 }] }] });
    assert.deepEqual(flows([isolateA, openA80, openA81]).filter((f) => / → a /.test(f)), ['b → a 80/TCP', 'b → a 81/TCP', 'outside → a 80/TCP', 'outside → a 81/TCP'], 'a cannot send, even to itself-like pods');
    assert.deepEqual(flows([isolateA, openA80, policy('two', { podSelector: {}, policyTypes: ['Egress'] })]).filter((f) => / → a /.test(f)), ['outside → a 80/TCP'], 'b may not send');
  });

  it('a node reaches its pods whatever the policies say, on the ports asked for', () => {
    const node: Endpoint = { id: 'node', labels: {}, ip: '10.1.0.1', ports: [], node: true };
    const denyAll = policy('one', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    assert.deepEqual(allowedFlows([denyAll], [a, node], (to) => to.ports.slice(0, 1)).map(key), ['node → a 80/TCP']);
  });
});
