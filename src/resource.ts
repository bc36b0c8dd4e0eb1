import { defaultResource, detectResources, envDetector, resourceFromAttributes, serviceInstanceIdDetector, type Resource } from '@opentelemetry/resources';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import type { ServiceIdentity } from './config';

/** deployment.environment.name (semantic conventions, not yet stable: no constant in the stable entry point). */
const ATTR_DEPLOYMENT_ENVIRONMENT_NAME = 'deployment.environment.name';

/**
 * Who is speaking, on every span and log record: the SDK's telemetry.sdk.*,
 * service.name (OTEL_SERVICE_NAME, else "users-api"), service.version from
 * package.json, a service.instance.id, and whatever OTEL_RESOURCE_ATTRIBUTES
 * adds (in Kubernetes: pod, namespace, node). Then deployment.environment.name
 * (DEPLOYMENT_ENVIRONMENT), last so it always equals what the Sentry SDK reports;
 * the collector turns it into Sentry's sentry.environment.
 * Only these detectors: the cloud ones would call metadata addresses off the machine.
 */
export function buildResource(service: ServiceIdentity): Resource {
  return defaultResource()
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: service.name, [ATTR_SERVICE_VERSION]: service.version }))
    .merge(detectResources({ detectors: [envDetector, serviceInstanceIdDetector] }))
    .merge(resourceFromAttributes({ [ATTR_DEPLOYMENT_ENVIRONMENT_NAME]: service.environment }));
}
