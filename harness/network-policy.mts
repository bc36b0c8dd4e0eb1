import type { K8sObject } from './k8s.mts';

/*
 * Who may reach whom under a set of NetworkPolicies (networking.k8s.io/v1),
 * computed the way Kubernetes defines it (the API reference and the
 * "Network Policies" concept page):
 * - a pod selected by any policy whose policyTypes include Ingress (or Egress)
 *   is isolated for that direction; a pod no policy selects is not;
 * - what an isolated pod may receive (or send) is the union of the rules of
 *   every policy that selects it for that direction;
 * - a connection needs both: the sender's egress and the receiver's ingress;
 * - traffic from a pod's own node (the kubelet's probes) is always allowed;
 * - policyTypes left out means Ingress, plus Egress when there are egress rules;
 * - a rule without `from`/`to` matches every peer, without `ports` every port;
 *   a peer with podSelector alone means pods of the policy's own namespace;
 *   an ipBlock matches by address (for pod addresses that is
 *   implementation-defined: the common plugins match them, and so does this).
 * Only the endpoints and ports it is given are considered.
 */

export interface Port {
  port: number;
  protocol: 'TCP' | 'UDP' | 'SCTP';
  /** A container port's name, which a policy may use instead of the number. */
  name?: string;
}

export interface Endpoint {
  /** How the allow-graph names it. */
  id: string;
  /** A pod's namespace and the labels of that namespace; undefined for what is not a pod. */
  namespace?: { name: string; labels: Record<string, string> };
  labels: Record<string, string>;
  ip: string;
  /** What it listens on. */
  ports: Port[];
  /** The node the pods run on (its kubelet): always allowed to reach them. */
  node?: boolean;
}

export interface Flow {
  from: string;
  to: string;
  /** "8080/TCP" */
  port: string;
}

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }>;
}

export function selects(selector: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (!selector) return false;
  const byLabels = Object.entries(selector.matchLabels ?? {}).every(([key, value]) => labels[key] === value);
  return byLabels && (selector.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
    switch (operator) {
      case 'In': return key in labels && values.includes(labels[key]!);
      case 'NotIn': return !(key in labels) || !values.includes(labels[key]!);
      case 'Exists': return key in labels;
      case 'DoesNotExist': return !(key in labels);
      default: throw new Error(`unknown selector operator ${String(operator)}`);
    }
  });
}

function ipToNumber(ip: string): number {
  return ip.split('.').reduce((sum, octet) => sum * 256 + Number(octet), 0);
}

function inCidr(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/') as [string, string];
  const size = 2 ** (32 - Number(bits));
  return Math.floor(ipToNumber(ip) / size) === Math.floor(ipToNumber(base) / size);
}

function policyTypes(policy: K8sObject): string[] {
  return policy.spec.policyTypes ?? ['Ingress', ...(policy.spec.egress ? ['Egress'] : [])];
}

/** Whether `peer` (one entry of a rule's from/to) matches `endpoint`, for a policy in `namespace`. */
function peerMatches(peer: K8sObject, namespace: string, endpoint: Endpoint): boolean {
  if (peer.ipBlock) return inCidr(endpoint.ip, peer.ipBlock.cidr) && !(peer.ipBlock.except ?? []).some((cidr: string) => inCidr(endpoint.ip, cidr));
  if (!endpoint.namespace) return false;
  const inNamespace = peer.namespaceSelector ? selects(peer.namespaceSelector, endpoint.namespace.labels) : endpoint.namespace.name === namespace;
  return inNamespace && (peer.podSelector ? selects(peer.podSelector, endpoint.labels) : true);
}

function portMatches(rulePorts: K8sObject[] | undefined, port: Port): boolean {
  if (!rulePorts || rulePorts.length === 0) return true;
  return rulePorts.some((p) => {
    if ((p.protocol ?? 'TCP') !== port.protocol) return false;
    if (p.port === undefined) return true;
    if (typeof p.port === 'string') return p.port === port.name;
    return p.endPort === undefined ? p.port === port.port : port.port >= p.port && port.port <= p.endPort;
  });
}

/** Whether the policies let `self` send to (egress) or receive from (ingress) `peer` on `port` of the receiving side. */
function allows(policies: K8sObject[], direction: 'Ingress' | 'Egress', self: Endpoint, peer: Endpoint, port: Port): boolean {
  if (!self.namespace) return true; // not a pod: no NetworkPolicy applies to it
  const selecting = policies.filter(
    (p) => p.metadata.namespace === self.namespace!.name && selects(p.spec.podSelector, self.labels) && policyTypes(p).includes(direction),
  );
  if (selecting.length === 0) return true;
  return selecting.some((policy) =>
    ((direction === 'Ingress' ? policy.spec.ingress : policy.spec.egress) ?? []).some((rule: K8sObject) => {
      const peers: K8sObject[] | undefined = direction === 'Ingress' ? rule.from : rule.to;
      return (!peers || peers.length === 0 || peers.some((p) => peerMatches(p, policy.metadata.namespace!, peer))) && portMatches(rule.ports, port);
    }),
  );
}

/**
 * Every connection among `endpoints` to a port its receiver listens on;
 * `from === to` stands for two pods of the same kind (a pod can always reach
 * itself). A node reaches only the `probePorts` of each pod: what its kubelet asks.
 */
export function possibleFlows(endpoints: Endpoint[], probePorts: (to: Endpoint) => Port[]): Array<{ from: Endpoint; to: Endpoint; port: Port }> {
  return endpoints.flatMap((from) =>
    endpoints.flatMap((to) => (from.node ? (to.namespace ? probePorts(to) : []) : to.ports).map((port) => ({ from, to, port }))),
  );
}

/** The possible flows that the policies allow. */
export function allowedFlows(policies: K8sObject[], endpoints: Endpoint[], probePorts: (to: Endpoint) => Port[]): Flow[] {
  return possibleFlows(endpoints, probePorts)
    .filter(({ from, to, port }) => from.node || (allows(policies, 'Egress', from, to, port) && allows(policies, 'Ingress', to, from, port)))
    .map(flowName);
}

export function flowName({ from, to, port }: { from: Endpoint; to: Endpoint; port: Port }): Flow {
  return { from: from.id, to: to.id, port: `${port.port}/${port.protocol}` };
}
