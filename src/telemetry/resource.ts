import { defaultResource, detectResources, envDetector, resourceFromAttributes, serviceInstanceIdDetector, type Resource } from '@opentelemetry/resources';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';

/** deployment.environment.name (semantic conventions, not yet stable: no constant in the stable entry point). */
const ATTR_DEPLOYMENT_ENVIRONMENT_NAME = 'deployment.environment.name';

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
  const resource = defaultResource()
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: defaults.name, [ATTR_SERVICE_VERSION]: defaults.version, [ATTR_DEPLOYMENT_ENVIRONMENT_NAME]: defaults.environment }))
    // A later detector wins: envDetector last, as in NodeSDK's defaults, so that a
    // service.instance.id from OTEL_RESOURCE_ATTRIBUTES replaces the random one.
    .merge(detectResources({ detectors: [serviceInstanceIdDetector, envDetector] }));
  return environment === undefined ? resource : resource.merge(resourceFromAttributes({ [ATTR_DEPLOYMENT_ENVIRONMENT_NAME]: environment }));
}

/** The name, version and environment as the resource finally has them: what Sentry's release and environment must say. */
export function serviceIdentity(resource: Resource): ServiceIdentity {
  const { [ATTR_SERVICE_NAME]: name, [ATTR_SERVICE_VERSION]: version, [ATTR_DEPLOYMENT_ENVIRONMENT_NAME]: environment } = resource.attributes;
  return { name: String(name), version: String(version), environment: String(environment) };
}
