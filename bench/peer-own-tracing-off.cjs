// Preloaded AFTER @opentelemetry/auto-instrumentations-node/register in the
// benchmark's "peer" variant. The register hook has already read the
// environment and started its NodeSDK; turning OTEL_SDK_DISABLED on now only
// reaches the service's own config (read later, when dist/server.js imports
// ./instrumentation), so the app runs under the zero-code SDK alone: no second
// tracer provider, no second HTTP patch, no second exporter.
// (Setting OTEL_SDK_DISABLED=true in the environment instead would disable the
// zero-code NodeSDK too: it honours that variable.)
process.env.OTEL_SDK_DISABLED = 'true';
