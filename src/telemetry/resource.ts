import { diag } from '@opentelemetry/api';
import { getStringFromEnv, getStringListFromEnv } from '@opentelemetry/core';
import {
  defaultResource,
  detectResources,
  envDetector,
  hostDetector,
  osDetector,
  processDetector,
  resourceAttributesEnvDetector,
  resourceFromAttributes,
  serviceInstanceIdDetector,
  type Resource,
  type ResourceDetector,
} from '@opentelemetry/resources';
import { ATTR_DEPLOYMENT_ENVIRONMENT_NAME, ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { routeDiagnostics } from './diagnostics';

/** Who is speaking, and where: on every span and log record, and (the same values) on every Sentry issue. */
export interface ServiceIdentity {
  name: string;
  version: string;
  environment: string;
}

/**
 * The resource of every span and log record: the SDK's telemetry.sdk.*, the
 * service's name, version and environment (defaults that OTEL_SERVICE_NAME
 * and OTEL_RESOURCE_ATTRIBUTES override, as the specification says), a
 * service.instance.id, and whatever OTEL_RESOURCE_ATTRIBUTES adds (in
 * Kubernetes: pod, namespace, node). `environment`, when the service was
 * told one, is deployment.environment.name whatever OTEL_RESOURCE_ATTRIBUTES
 * says. serviceIdentity reads the result, so the Sentry SDK reports the same.
 * The detectors are those OTEL_NODE_RESOURCE_DETECTORS names (detectorsAsked).
 */
export function serviceResource(defaults: ServiceIdentity, environment?: string): Resource {
  warnIfResourceAttributesDiscarded();
  const resource = defaultResource()
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: defaults.name, [ATTR_SERVICE_VERSION]: defaults.version, [ATTR_DEPLOYMENT_ENVIRONMENT_NAME]: defaults.environment }))
    .merge(detectResources({ detectors: detectorsAsked() }));
  return environment === undefined ? resource : resource.merge(resourceFromAttributes({ [ATTR_DEPLOYMENT_ENVIRONMENT_NAME]: environment }));
}

/**
 * A malformed OTEL_RESOURCE_ATTRIBUTES is discarded whole, and "an error SHOULD
 * be reported" (specification, Resource SDK, "Specifying resource information
 * via an environment variable"); the SDK's detector says so only at debug level,
 * so the pod's attributes and the environment would vanish without a word
 * (test/config.test.mts, "serves with bad OTEL_* values").
 */
function warnIfResourceAttributesDiscarded(): void {
  const raw = getStringFromEnv('OTEL_RESOURCE_ATTRIBUTES');
  const entries = raw?.split(',').filter((entry) => entry.trim() !== '') ?? [];
  if (entries.length === 0 || Object.keys(resourceAttributesEnvDetector.detect().attributes ?? {}).length > 0) return;
  routeDiagnostics(); // a warning like every other about OTEL_*, at the level OTEL_LOG_LEVEL asks
  diag.warn(`ignoring OTEL_RESOURCE_ATTRIBUTES="${raw}": every entry must be key=value, with "," and "=" percent-encoded and keys and values of at most 255 characters; as the specification says, all of it is discarded`);
}

/** NodeSDK's names for the detectors it knows (sdk-node 0.301, getResourceDetectorsFromEnv), in its order. */
const DETECTORS: Record<string, ResourceDetector> = {
  host: hostDetector,
  os: osDetector,
  serviceinstance: serviceInstanceIdDetector,
  process: processDetector,
};

/**
 * OTEL_NODE_RESOURCE_DETECTORS, read as NodeSDK reads it (`all`, `none`, or
 * names), which it would not here: the kit builds the resource itself, before
 * NodeSDK, so that the Sentry SDK reports the same identity (init.ts,
 * `autoDetectResources: false`). Unset, the kit's default: serviceinstance
 * only, where NodeSDK's is all of them (host.*, os.*, process.* on every
 * export, the process's command line among them). The env detector runs
 * whatever the list says, and last, so that OTEL_SERVICE_NAME and
 * OTEL_RESOURCE_ATTRIBUTES win (the specification's Resource SDK MUST; a
 * service.instance.id there replaces the random one). An unknown name is a
 * warning, as in NodeSDK, and a list both take gives the same attributes
 * (test/resource.test.mts, "the resource detectors, differential").
 */
function detectorsAsked(): ResourceDetector[] {
  const asked = getStringListFromEnv('OTEL_NODE_RESOURCE_DETECTORS') ?? ['serviceinstance'];
  const named = asked.includes('all') ? Object.keys(DETECTORS) : asked.includes('none') ? [] : asked;
  for (const name of named.filter((n) => !Object.hasOwn(DETECTORS, n) && n !== 'env')) {
    routeDiagnostics();
    diag.warn(`ignoring "${name}" in OTEL_NODE_RESOURCE_DETECTORS: the detectors are ${Object.keys(DETECTORS).join(', ')} and env (always run), or all, or none`);
  }
  const chosen = Object.entries(DETECTORS).filter(([name]) => named.includes(name)).map(([, detector]) => detector);
  return [...chosen, envDetector];
}

/** The name, version and environment as the resource finally has them: what Sentry's release and environment must say. */
export function serviceIdentity(resource: Resource): ServiceIdentity {
  // From the raw list, where the latest merge comes first, as `attributes` reads it: `attributes`
  // itself is an error while the host detector's host.id is still being read (a promise).
  const value = (key: string) => String(resource.getRawAttributes().find(([k, v]) => k === key && typeof v === 'string')?.[1]);
  return { name: value(ATTR_SERVICE_NAME), version: value(ATTR_SERVICE_VERSION), environment: value(ATTR_DEPLOYMENT_ENVIRONMENT_NAME) };
}
