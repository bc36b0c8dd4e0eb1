import { diag } from '@opentelemetry/api';
import { getStringFromEnv, getStringListFromEnv } from '@opentelemetry/core';
import { defaultResource, detectResources, envDetector, resourceAttributesEnvDetector, resourceFromAttributes, serviceInstanceIdDetector, type Resource } from '@opentelemetry/resources';
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
 * Only these detectors: the cloud ones would call metadata addresses off the
 * machine, and the pod's attributes come from OTEL_RESOURCE_ATTRIBUTES.
 */
export function serviceResource(defaults: ServiceIdentity, environment?: string): Resource {
  warnIfResourceAttributesDiscarded();
  const resource = defaultResource()
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: defaults.name, [ATTR_SERVICE_VERSION]: defaults.version, [ATTR_DEPLOYMENT_ENVIRONMENT_NAME]: defaults.environment }))
    // A later detector wins: envDetector last, as in NodeSDK's defaults, so that a
    // service.instance.id from OTEL_RESOURCE_ATTRIBUTES replaces the random one.
    .merge(detectResources({ detectors: [serviceInstanceIdDetector, envDetector] }));
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

/**
 * OTEL_NODE_RESOURCE_DETECTORS asks NodeSDK for detectors; given this resource
 * (autoDetectResources: false, init.ts) it would do nothing, silently.
 */
export function warnIfOtherDetectorsAsked(): void {
  const asked = getStringListFromEnv('OTEL_NODE_RESOURCE_DETECTORS') ?? [];
  if (asked.every((name) => name === 'env' || name === 'serviceinstance')) return;
  diag.warn(`ignoring OTEL_NODE_RESOURCE_DETECTORS="${asked.join(',')}": the kit runs the env and serviceinstance detectors only (resource.ts)`);
}

/** The name, version and environment as the resource finally has them: what Sentry's release and environment must say. */
export function serviceIdentity(resource: Resource): ServiceIdentity {
  const { [ATTR_SERVICE_NAME]: name, [ATTR_SERVICE_VERSION]: version, [ATTR_DEPLOYMENT_ENVIRONMENT_NAME]: environment } = resource.attributes;
  return { name: String(name), version: String(version), environment: String(environment) };
}
