// Preloaded with NODE_OPTIONS=--require by a test: on SIGUSR2 the service
// misbehaves as MISBEHAVE says, inside a span of its own ("misbehaving"), the
// way application code could:
//   throw         an exception nobody catches
//   reject        a promise rejection nobody handles
//   log-hostile   log calls with values that are hard to serialize
//   log-flood     50,000 lines of 1 KB at once (50 MB), then "flooded"
const path = require('node:path');

process.on('SIGUSR2', () => {
  const api = require('@opentelemetry/api');
  const { logger } = require(path.join(process.cwd(), 'dist/logger.js'));
  api.trace.getTracer('misbehave').startActiveSpan('misbehaving', (span) => {
    switch (process.env.MISBEHAVE) {
      case 'throw':
        setImmediate(() => {
          throw new Error('thrown on purpose, caught by nobody');
        });
        break;
      case 'reject':
        Promise.reject(new Error('rejected on purpose, handled by nobody'));
        break;
      case 'log-hostile':
        logHostile(logger);
        break;
      case 'log-flood':
        for (let i = 0; i < 50_000; i += 1) logger.info({ line: i, padding: 'x'.repeat(1000) }, 'flood');
        logger.info('flooded');
        break;
    }
    span.end();
  });
});

function logHostile(logger) {
  const circular = { name: 'circular' };
  circular.self = circular;
  const throwing = {
    get boom() {
      throw new Error('getter throws');
    },
  };
  const wide = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`key${i}`, i]));
  logger.info({ circular }, 'a circular object');
  logger.info({ big: 12345678901234567890n }, 'a BigInt');
  logger.info({ symbol: Symbol('tag') }, 'a Symbol');
  logger.info({ nested: { big: 1n, symbol: Symbol('deep'), fn() {} } }, 'nested oddities');
  logger.info({ throwing }, 'a throwing getter');
  logger.info('user %s has %d items (%j)', 'ada', 3, { a: 1 });
  logger.info({ huge: 'x'.repeat(1_000_000) }, 'a 1 MB string');
  logger.info(wide, 'ten thousand fields');
  logger.info('y'.repeat(100_000));
  logger.info({ only: 'fields' });
  logger.error(new Error('an error as the only argument'));
  logger.info('after the hostile calls');
}
