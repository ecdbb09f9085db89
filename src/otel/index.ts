/**
 * `mpa-sync/otel`: OpenTelemetry metrics for an {@link ActivitySync}. Needs `@opentelemetry/api`
 * (an optional peer dependency); your SDK and exporter (Prometheus, OTLP...) do the rest.
 *
 * @example
 * import { instrumentSync } from 'mpa-sync/otel';
 * const metrics = instrumentSync(sync); // uses the global MeterProvider
 * // ... at shutdown, after sync.close():
 * metrics.stop();
 */
import { metrics as otelMetrics, type Attributes, type Meter, type BatchObservableResult, type MeterProvider } from '@opentelemetry/api';
import type { ActivitySync } from '../engine/activity-sync.js';
import type { RequestEvent, RetryEvent, SyncedEvent, ThrottledEvent } from '../engine/events.js';
import { MpaValidationError } from '../errors.js';
import { unknownKeyIssues } from '../schemas.js';
import { VERSION } from '../version.js';

/** Options of {@link instrumentSync}. */
export interface InstrumentSyncOptions {
  /** The meter to record with. Default: `meterProvider.getMeter('mpa-sync', VERSION)`. */
  meter?: Meter;
  /** Where to get the meter from. Default: the global MeterProvider of `@opentelemetry/api`. */
  meterProvider?: MeterProvider;
  /** Attributes added to every measurement, e.g. `{ 'service.instance.id': 'eu-1' }` when one process runs several syncs. */
  attributes?: Attributes;
}

/** What {@link instrumentSync} returns. */
export interface SyncInstrumentation {
  /** Stops recording: removes the listeners and the observable callback. Idempotent. */
  stop(): void;
}

/**
 * The metric names {@link instrumentSync} records, for dashboards and alerts. Each key is its
 * metric's name without the `mpa_sync.` prefix, in camelCase (`requestDuration` is
 * `mpa_sync.request.duration`), so the key you look up is the name your backend shows. Durations
 * are in milliseconds (`unit: 'ms'`).
 */
export const SYNC_METRICS = {
  /** Counter of finished requests; attributes `method` (PUT, DELETE, GET, POST), `status` (HTTP status, 0 when no answer came), `reason`. */
  requests: 'mpa_sync.requests',
  /** Counter of 429s (and 503s with Retry-After); attributes `method`, `scope` (`user` or `all`). */
  throttles: 'mpa_sync.throttles',
  /** Counter of scheduled retries; attributes `method`, `cause` (an error code). */
  retries: 'mpa_sync.retries',
  /** Counter of writes refused because a newer sequence number was already there (another server owns the player). */
  superseded: 'mpa_sync.superseded',
  /** Counter of requests refused for good (400) and not retried. */
  failed: 'mpa_sync.failed',
  /** Counter of desired states replaced before they were sent (requests saved). */
  coalesced: 'mpa_sync.coalesced',
  /** Gauge of players the engine tracks. */
  players: 'mpa_sync.players',
  /** Gauge of players with a state waiting to be sent (queued or in backoff). */
  pending: 'mpa_sync.pending',
  /** Gauge of requests in flight. */
  inFlight: 'mpa_sync.in_flight',
  /** Gauge of open groups (matches). */
  groups: 'mpa_sync.groups',
  /** Histogram of request latency, ms; attributes `method`, `status`. */
  requestDuration: 'mpa_sync.request.duration',
  /** Histogram of staleness, ms: from the published activity first differing from the desired one until the service accepted the write; attribute `method`. */
  staleness: 'mpa_sync.staleness',
} as const;

// Request latency to a cloud REST service: a few ms (emulator) to the 10 s client timeout.
const LATENCY_BUCKETS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];
// Staleness is dominated by deliberate pacing (15 s count refresh) and Retry-After (up to minutes).
const STALENESS_BUCKETS = [100, 250, 500, 1000, 2500, 5000, 10000, 15000, 20000, 30000, 60000, 120000, 300000];

/**
 * Records a sync's requests, throttles, retries, superseded and failed writes (counters),
 * players, pending and in-flight work (gauges), request latency and staleness (histograms),
 * as OpenTelemetry metrics named in {@link SYNC_METRICS}. Call once per sync.
 */
export function instrumentSync(sync: ActivitySync, options: InstrumentSyncOptions = {}): SyncInstrumentation {
  if (sync === null || typeof sync !== 'object' || typeof sync.on !== 'function' || typeof sync.stats !== 'function') {
    throw new MpaValidationError('instrumentSync', [{ path: ['sync'], message: 'sync must be an ActivitySync' }]);
  }
  checkOptions(options);
  const meter = options.meter ?? (options.meterProvider ?? otelMetrics).getMeter('mpa-sync', VERSION);
  const base: Attributes = { ...options.attributes };

  const requests = meter.createCounter(SYNC_METRICS.requests, { description: 'MPA requests finished, by method and HTTP status (0: no answer)' });
  const throttles = meter.createCounter(SYNC_METRICS.throttles, { description: 'Throttled answers (429, 503 with Retry-After)' });
  const retries = meter.createCounter(SYNC_METRICS.retries, { description: 'Retries scheduled after a failure' });
  const latency = meter.createHistogram(SYNC_METRICS.requestDuration, {
    description: 'MPA request latency',
    unit: 'ms',
    advice: { explicitBucketBoundaries: LATENCY_BUCKETS },
  });
  const staleness = meter.createHistogram(SYNC_METRICS.staleness, {
    description: 'Time from a published activity first differing from the desired one until the service accepted the write',
    unit: 'ms',
    advice: { explicitBucketBoundaries: STALENESS_BUCKETS },
  });
  const superseded = meter.createObservableCounter(SYNC_METRICS.superseded, { description: 'Writes superseded by a newer sequence number' });
  const failed = meter.createObservableCounter(SYNC_METRICS.failed, { description: 'Requests refused for good (400), not retried' });
  const coalesced = meter.createObservableCounter(SYNC_METRICS.coalesced, { description: 'Desired states replaced before they were sent' });
  const players = meter.createObservableGauge(SYNC_METRICS.players, { description: 'Players tracked' });
  const pending = meter.createObservableGauge(SYNC_METRICS.pending, { description: 'Players with a state waiting to be sent' });
  const inFlight = meter.createObservableGauge(SYNC_METRICS.inFlight, { description: 'Requests in flight' });
  const groups = meter.createObservableGauge(SYNC_METRICS.groups, { description: 'Open groups' });

  const onRequest = (e: RequestEvent) => {
    requests.add(1, { ...base, method: e.method, status: e.status, reason: e.reason });
    latency.record(e.latencyMs, { ...base, method: e.method, status: e.status });
  };
  const onThrottled = (e: ThrottledEvent) => throttles.add(1, { ...base, method: e.method, scope: e.scope });
  const onRetry = (e: RetryEvent) => retries.add(1, { ...base, method: e.method, cause: e.cause });
  const onSynced = (e: SyncedEvent) => staleness.record(e.stalenessMs, { ...base, method: e.method });
  // One stats() read per collection for all seven observables.
  const observe = (result: BatchObservableResult) => {
    const s = sync.stats();
    result.observe(superseded, s.superseded, base);
    result.observe(failed, s.failed, base);
    result.observe(coalesced, s.coalesced, base);
    result.observe(players, s.players, base);
    result.observe(pending, s.pending, base);
    result.observe(inFlight, s.inFlight, base);
    result.observe(groups, s.groups, base);
  };
  const observables = [superseded, failed, coalesced, players, pending, inFlight, groups];

  sync.on('request', onRequest);
  sync.on('throttled', onThrottled);
  sync.on('retry', onRetry);
  sync.on('synced', onSynced);
  meter.addBatchObservableCallback(observe, observables);

  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      sync.off('request', onRequest);
      sync.off('throttled', onThrottled);
      sync.off('retry', onRetry);
      sync.off('synced', onSynced);
      meter.removeBatchObservableCallback(observe, observables);
    },
  };
}

const METER_METHODS = ['createCounter', 'createHistogram', 'createObservableCounter', 'createObservableGauge', 'addBatchObservableCallback', 'removeBatchObservableCallback'] as const;

/** A meter, provider or attributes of the wrong shape fail here, naming the option, not deep inside OpenTelemetry. */
function checkOptions(options: unknown): void {
  if (typeof options !== 'object' || options === null) throw new MpaValidationError('instrumentSync options', [{ path: [], message: 'options must be an object' }]);
  const { meter, meterProvider, attributes } = options as Record<string, unknown>;
  const issues = unknownKeyIssues(options, ['meter', 'meterProvider', 'attributes'] satisfies (keyof InstrumentSyncOptions)[]);
  if (meter !== undefined && !METER_METHODS.every((m) => typeof (meter as Record<string, unknown> | null)?.[m] === 'function')) issues.push({ path: ['meter'], message: 'meter must be an OpenTelemetry Meter' });
  if (meterProvider !== undefined && typeof (meterProvider as { getMeter?: unknown } | null)?.getMeter !== 'function') issues.push({ path: ['meterProvider'], message: 'meterProvider must be an OpenTelemetry MeterProvider' });
  if (attributes !== undefined && (typeof attributes !== 'object' || attributes === null || Array.isArray(attributes))) issues.push({ path: ['attributes'], message: 'attributes must be an object' });
  if (issues.length) throw new MpaValidationError('instrumentSync options', issues);
}
