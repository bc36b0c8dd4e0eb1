// Preloaded in the benchmark's "official-server-spans" experiment
// (bench/server-spans.json): the SERVER spans come from the official
// incoming instrumentation instead of the kit's middleware, set up as the
// differential test sets it up (test/fixtures/official-server-spans.cjs):
// @opentelemetry/instrumentation-http's incoming side, and
// @opentelemetry/instrumentation-express for the route only. The kit's
// middleware passes every request through untouched; everything else is the
// shipped service.
const path = require('node:path');
const { registerInstrumentations } = require('@opentelemetry/instrumentation');
const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
const { ExpressInstrumentation } = require('@opentelemetry/instrumentation-express');

const probes = ['/healthz', '/readyz'];
registerInstrumentations({
  instrumentations: [
    new HttpInstrumentation({ disableOutgoingRequestInstrumentation: true, ignoreIncomingRequestHook: (request) => probes.includes((request.url ?? '').split('?')[0]) }),
    new ExpressInstrumentation({ ignoreLayersType: ['middleware', 'router', 'request_handler'] }),
  ],
});
const serverSpans = require(path.join(process.cwd(), 'dist/telemetry/server-spans.js'));
serverSpans.traceRequests = () => (_request, _response, next) => next();
