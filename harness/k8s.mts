import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './service.mts';

/*
 * The Kubernetes manifests as a cluster would get them: each overlay built with
 * the pinned kustomize, every object decoded strictly by tools/k8s-validate.
 * Both tools are installed by scripts/tools.sh (cached in .cache/tools/bin).
 */

const TOOLS_BIN = join(ROOT, '.cache/tools/bin');
export const OVERLAYS = readdirSync(join(ROOT, 'k8s/overlays')).sort();
export const SENTRY_ENV_EXAMPLE = join(ROOT, 'k8s/sentry/sentry.env.example');

/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects are checked field by field */
export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; [key: string]: any }; [key: string]: any };

let toolsReady = false;

/** Installs the kustomizes and k8s-validate when missing or out of date; fails with the installer's output otherwise. */
function ensureTools(): { kustomize: string; kubectl127Kustomize: string; validator: string } {
  if (!toolsReady) {
    const install = spawnSync('bash', [join(ROOT, 'scripts/tools.sh')], { encoding: 'utf8', timeout: 15 * 60_000 });
    if (install.status !== 0) {
      throw new Error(`scripts/tools.sh could not install kustomize and k8s-validate (needs Go and the Go module proxy):\n${install.stderr}${install.error ?? ''}`);
    }
    toolsReady = true;
  }
  return { kustomize: join(TOOLS_BIN, 'kustomize'), kubectl127Kustomize: join(TOOLS_BIN, 'kustomize-kubectl-1.27'), validator: join(TOOLS_BIN, 'k8s-validate') };
}

/** An overlay's kustomization.yaml with its commented `components` lines uncommented; throws if it has none. */
export function withComponents(kustomization: string): string {
  const uncommented = kustomization.replace(/^# (components:\n)((?:#   - .*\n)+)/m, (_all, key: string, items: string) => key + items.replaceAll(/^# /gm, ''));
  if (uncommented === kustomization) throw new Error('no commented "components:" lines to uncomment');
  return uncommented;
}

/**
 * `kustomize build` of one overlay, on a copy of k8s/ and collector/ whose
 * k8s/sentry/sentry.env is the committed example: the tests never read (or
 * need) a developer's real Sentry settings. `optIn` uncomments the overlay's
 * `components` lines, as its comments tell a user to. `asKubectl127` builds
 * with the kustomize built into kubectl 1.27 (v5.0.1), the oldest the README names.
 */
export function buildOverlay(overlay: string, { optIn = false, asKubectl127 = false } = {}): string {
  const tools = ensureTools();
  const kustomize = asKubectl127 ? tools.kubectl127Kustomize : tools.kustomize;
  const copy = mkdtempSync(join(tmpdir(), 'k8s-build-'));
  try {
    cpSync(join(ROOT, 'k8s'), join(copy, 'k8s'), { recursive: true });
    cpSync(join(ROOT, 'collector'), join(copy, 'collector'), { recursive: true });
    copyFileSync(SENTRY_ENV_EXAMPLE, join(copy, 'k8s/sentry/sentry.env'));
    if (optIn) {
      const file = join(copy, 'k8s/overlays', overlay, 'kustomization.yaml');
      writeFileSync(file, withComponents(readFileSync(file, 'utf8')));
    }
    const build = spawnSync(kustomize, ['build', join(copy, 'k8s/overlays', overlay)], { encoding: 'utf8', timeout: 60_000 });
    if (build.status !== 0) throw new Error(`kustomize build k8s/overlays/${overlay} failed:\n${build.stderr}`);
    return build.stdout;
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

/** Strict validation of multi-document YAML (or JSON documents); `json` asks for the objects back. */
export function validate(yaml: string, json = false): { ok: boolean; stdout: string; stderr: string } {
  const { validator } = ensureTools();
  const run = spawnSync(validator, json ? ['--json'] : [], { input: yaml, encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
  return { ok: run.status === 0, stdout: run.stdout, stderr: run.stderr };
}

const rendered = new Map<string, K8sObject[]>();

/** The objects of an overlay, built and strictly validated (cached per test file). */
export function renderOverlay(overlay: string, { optIn = false } = {}): K8sObject[] {
  const key = optIn ? `${overlay} with its components` : overlay;
  if (!rendered.has(key)) {
    const result = validate(buildOverlay(overlay, { optIn }), true);
    if (!result.ok) throw new Error(`k8s/overlays/${key} does not validate:\n${result.stderr}`);
    rendered.set(key, JSON.parse(result.stdout) as K8sObject[]);
  }
  return structuredClone(rendered.get(key)!);
}

export function find(objects: K8sObject[], kind: string, name: string, namespace?: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name && (namespace === undefined || o.metadata.namespace === namespace));
  if (!found) throw new Error(`no ${kind} ${namespace ?? '*'}/${name} among: ${objects.map((o) => `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`).join(', ')}`);
  return found;
}

/** kustomize appends a content hash to generated names: otel-collector-config-mk6gccc976. */
export function findGenerated(objects: K8sObject[], kind: string, name: string, namespace: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.namespace === namespace && new RegExp(`^${name}-[a-z0-9]{10}$`).test(o.metadata.name));
  if (!found) throw new Error(`no generated ${kind} ${namespace}/${name}-<hash>`);
  return found;
}

/** Reads a committed env file (KEY=value lines, # comments), as kustomize's secretGenerator does. */
export function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const at = trimmed.indexOf('=');
    env[trimmed.slice(0, at)] = trimmed.slice(at + 1);
  }
  return env;
}

/**
 * The environment Kubernetes gives a container: envFrom, then env in order,
 * with $(VAR) expanded, the Secret `sentry` from `secret` and the downward API
 * filled in (pod name `<deployment>-rehearsal`, node `rehearsal-node`).
 */
export function podEnv(deployment: K8sObject, container: K8sObject, secret: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    if (!/^sentry-/.test(source.secretRef?.name)) throw new Error(`unknown envFrom ${JSON.stringify(source)}`);
    Object.assign(env, secret);
  }
  const fields: Record<string, string> = {
    'metadata.name': `${deployment.metadata.name}-rehearsal`,
    'metadata.namespace': deployment.metadata.namespace!,
    'spec.nodeName': 'rehearsal-node',
  };
  for (const { name, value, valueFrom } of container.env ?? []) {
    if (valueFrom?.secretKeyRef) {
      if (!/^sentry-/.test(valueFrom.secretKeyRef.name)) throw new Error(`${name}: unknown Secret ${valueFrom.secretKeyRef.name}`);
      const found = secret[valueFrom.secretKeyRef.key];
      if (found !== undefined) env[name] = found;
      else if (!valueFrom.secretKeyRef.optional) throw new Error(`${name}: the Secret has no ${valueFrom.secretKeyRef.key}`);
    } else if (valueFrom) {
      const field = fields[valueFrom.fieldRef?.fieldPath];
      if (field === undefined) throw new Error(`the rehearsal cannot fill ${name}`);
      env[name] = field;
    } else {
      env[name] = String(value).replace(/\$\((\w+)\)/g, (whole, ref: string) => env[ref] ?? whole);
    }
  }
  return env;
}

/** Bytes of a Kubernetes memory quantity (Mi, Gi, M, G, plain). */
export function bytesOf(quantity: string): number {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|k|M|G)?$/.exec(quantity);
  if (!match) throw new Error(`unsupported memory quantity "${quantity}"`);
  const unit = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, k: 1e3, M: 1e6, G: 1e9 }[match[2] ?? ''] ?? 1;
  return Number(match[1]) * unit;
}

/** Millicores of a Kubernetes CPU quantity ("500m", "1", "0.5"). */
export function millicoresOf(quantity: string | number): number {
  const text = String(quantity);
  return text.endsWith('m') ? Number(text.slice(0, -1)) : Number(text) * 1000;
}
