import assert from 'node:assert/strict';
import { after, beforeEach, describe, it } from 'node:test';
import { logs } from '@opentelemetry/api';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';

/*
 * The logger hands every log call to the OpenTelemetry logs API. Sentry drops
 * a log record without a body, so every record must have one, whatever the call.
 */
const exporter = new InMemoryLogRecordExporter();
const provider = new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter })] });
process.env.LOG_LEVEL = 'info';
logs.setGlobalLoggerProvider(provider);
const { logger } = await import('../dist/logger.js');

after(() => provider.shutdown());
beforeEach(() => exporter.reset());

describe('every log record has a string body', () => {
  it('the message; the error message; a non-string message as text; the fields when there is no message', () => {
    logger.info({ port: 8080 }, 'listening');
    logger.error(new Error('logged without a message, on purpose'));
    logger.warn(42);
    logger.info({ port: 8080, ready: true });
    assert.deepEqual(
      exporter.getFinishedLogRecords().map((record) => record.body),
      ['listening', 'logged without a message, on purpose', '42', '{"port":8080,"ready":true}'],
    );
  });
});
