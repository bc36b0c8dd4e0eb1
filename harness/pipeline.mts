import { Collector } from './collector.mts';
import { SentryIngest } from './sentry-ingest.mts';
import { Service } from './service.mts';

export interface Pipeline {
  sentry: SentryIngest;
  collector: Collector;
  service: Service;
  stop(): Promise<void>;
}

/** Exports every 50 ms, so the tests need not wait for the default delay. */
export const FAST_EXPORT = { OTEL_BSP_SCHEDULE_DELAY: '50', OTEL_BLRP_SCHEDULE_DELAY: '50' };

/**
 * The whole data path on loopback: the service → the real collector →
 * the stand-in of Sentry's OTLP ingest.
 */
export async function startPipeline(
  options: { collectorEnv?: Record<string, string>; sentryKey?: string; serviceEnv?: Record<string, string> } = {},
): Promise<Pipeline> {
  const sentry = await SentryIngest.start();
  let collector: Collector | undefined;
  try {
    collector = await Collector.start({ ...sentry.collectorEnv(options.sentryKey), ...options.collectorEnv });
    const service = await Service.start({ OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint, ...FAST_EXPORT, ...options.serviceEnv });
    const started = collector;
    return {
      sentry,
      collector,
      service,
      async stop() {
        await service.stop();
        await started.stop();
        await sentry.close();
      },
    };
  } catch (error) {
    await collector?.stop();
    await sentry.close();
    throw error;
  }
}
