// Preloaded by a benchmark experiment (bench/candidates-burn.json) into the
// untraced service: spends BENCH_BURN_US microseconds of CPU at the start of
// every request, evenly, with no lumps. Issue 23's question: is the traced
// service's p99 at a fixed rate made by the lumps of work tracing does
// (a batch serialized at once, its garbage), or simply by the CPU it adds to
// every request? An untraced service given the same CPU per request, spread
// evenly, answers it: `npm run bench -- --paired` against the traced one.
'use strict';
const http = require('node:http');

const burnUs = Number(process.env.BENCH_BURN_US);
if (!(burnUs > 0)) throw new Error(`cpu-burn.cjs: BENCH_BURN_US must be a positive number of microseconds, got ${process.env.BENCH_BURN_US}`);

const emit = http.Server.prototype.emit;
http.Server.prototype.emit = function emitAfterBurning(event, ...args) {
  if (event === 'request') {
    const until = process.hrtime.bigint() + BigInt(Math.round(burnUs * 1000));
    while (process.hrtime.bigint() < until);
  }
  return emit.call(this, event, ...args);
};
