/**
 * mpa-sync/otel, read back through the OpenTelemetry SDK's in-memory exporter.
 */
import { AggregationTemporality, DataPointType, InMemoryMetricExporter, MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MpaValidationError, type ActivitySync, type SyncEvent } from '../src/index.js';
type SyncedEvent = SyncEvent<'synced'>;
import { instrumentSync, SYNC_METRICS } from '../src/otel/index.js';
import { createTestKit, type TestKit } from '../src/testing/index.js';

const A = '2533274800000001';
const B = '2533274800000002';
const C = '2533274800000003';

let kit: TestKit;
let exporter: InMemoryMetricExporter;
let reader: ManualReader;

/**
 * Collects when asked. (A PeriodicExportingMetricReader's flush waits for the in-memory
 * exporter's setTimeout(0) callback, which fake timers hold back.)
 */
class ManualReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}
let provider: MeterProvider;

beforeEach(async () => {
  kit = await createTestKit();
  exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  reader = new ManualReader();
  provider = new MeterProvider({ readers: [reader] });
});
afterEach(async () => {
  await kit.dispose();
  await provider.shutdown();
});

/** Collects now and returns the metrics by name. */
async function collect(): Promise<Map<string, MetricData>> {
  exporter.reset();
  const { resourceMetrics, errors } = await reader.collect();
  expect(errors).toEqual([]);
  exporter.export(resourceMetrics, () => undefined);
  const byName = new Map<string, MetricData>();
  for (const resource of exporter.getMetrics()) for (const scope of resource.scopeMetrics) for (const m of scope.metrics) byName.set(m.descriptor.name, m);
  return byName;
}

function sum(metric: MetricData | undefined, match: Record<string, unknown> = {}): number {
  if (!metric) return Number.NaN;
  return metric.dataPoints
    .filter((p) => Object.entries(match).every(([k, v]) => p.attributes[k] === v))
    .reduce((total, p) => total + (typeof p.value === 'number' ? p.value : (p.value as { count: number }).count), 0);
}

describe('mpa-sync/otel', () => {
  it('counts requests by method and status, throttles and retries, and records their latency', async () => {
    instrumentSync(kit.sync, { meterProvider: provider });
    const match = kit.sync.group({ groupId: 'm', connectionString: '203.0.113.7:7777', maxPlayers: 8 });
    match.join(A);
    match.join(B);
    await kit.settle();
    kit.failNext('429', 1, 2);
    match.update({ joinRestriction: 'InviteOnly' });
    await kit.settle();
    kit.failNext('500', 1);
    match.leave(B);
    await kit.settle();

    const metrics = await collect();
    const requests = metrics.get(SYNC_METRICS.requests);
    const stats = kit.sync.stats();
    expect(sum(requests, { method: 'PUT', status: 204 })).toBe(stats.requests.PUT?.['204']);
    expect(sum(requests, { method: 'PUT', status: 429 })).toBe(1);
    expect(sum(requests, { method: 'DELETE', status: 500 })).toBe(1);
    expect(sum(requests, { method: 'DELETE', status: 204 })).toBe(1);
    expect(sum(metrics.get(SYNC_METRICS.throttles), { method: 'PUT', scope: 'user' })).toBe(1);
    expect(sum(metrics.get(SYNC_METRICS.retries), { method: 'DELETE', cause: 'SERVER' })).toBe(1);

    const latency = metrics.get(SYNC_METRICS.requestDuration)!;
    expect(latency.dataPointType).toBe(DataPointType.HISTOGRAM);
    expect(latency.descriptor.unit).toBe('ms');
    expect(sum(latency)).toBe(kit.requests.length);
  });

  it('reports players, pending, in flight and groups as gauges, and superseded writes as a counter', async () => {
    instrumentSync(kit.sync, { meterProvider: provider, attributes: { 'service.instance.id': 'eu-1' } });
    const match = kit.sync.group({ groupId: 'm', connectionString: '203.0.113.7:7777', maxPlayers: 8 });
    match.join(A);
    match.join(B);
    match.join(C);
    let metrics = await collect();
    expect(sum(metrics.get(SYNC_METRICS.players))).toBe(3);
    expect(sum(metrics.get(SYNC_METRICS.pending)) + sum(metrics.get(SYNC_METRICS.inFlight))).toBe(3);
    expect(sum(metrics.get(SYNC_METRICS.groups), { 'service.instance.id': 'eu-1' })).toBe(1);
    await kit.settle();

    // Another server wrote C's activity with a newer sequence number: our next write is superseded.
    await kit.client.setActivity(C, { connectionString: 'elsewhere', joinRestriction: 'Public', sequenceNumber: 2n ** 62n });
    match.update({ maxPlayers: 10 });
    await kit.settle();
    metrics = await collect();
    expect(sum(metrics.get(SYNC_METRICS.superseded))).toBe(1);
    expect(sum(metrics.get(SYNC_METRICS.failed))).toBe(kit.sync.stats().failed);
    expect(sum(metrics.get(SYNC_METRICS.pending))).toBe(0);
    expect(sum(metrics.get(SYNC_METRICS.inFlight))).toBe(0);
    expect(sum(metrics.get(SYNC_METRICS.coalesced))).toBe(kit.sync.stats().coalesced);
  });

  it('records the staleness of every write the service accepted', async () => {
    const fromEngine: number[] = [];
    kit.sync.on('synced', (e: SyncedEvent) => void fromEngine.push(e.stalenessMs));
    instrumentSync(kit.sync, { meterProvider: provider });
    const match = kit.sync.group({ groupId: 'm', connectionString: 'c', maxPlayers: 8 });
    match.join(A);
    match.join(B);
    await kit.settle();

    const staleness = (await collect()).get(SYNC_METRICS.staleness)!;
    expect(staleness.descriptor.unit).toBe('ms');
    expect(fromEngine.length).toBeGreaterThan(0);
    expect(sum(staleness)).toBe(fromEngine.length);
    const put = staleness.dataPoints.find((p) => p.attributes.method === 'PUT')!.value as { sum?: number; max?: number };
    expect(put.max).toBe(Math.max(...fromEngine));
    expect(put.sum).toBe(fromEngine.reduce((x, y) => x + y, 0));
  });

  it('SYNC_METRICS names exactly the instruments the SDK exports, each key its name in camelCase', async () => {
    instrumentSync(kit.sync, { meterProvider: provider });
    const match = kit.sync.group({ groupId: 'm', connectionString: 'c', maxPlayers: 8 });
    match.join(A);
    kit.failNext('429', 1, 1); // so that every instrument, the throttle and retry counters too, has a point
    await kit.settle();
    const exported = await collect();
    expect([...exported.keys()].sort()).toEqual(Object.values(SYNC_METRICS).sort());
    for (const [key, name] of Object.entries(SYNC_METRICS)) {
      const camel = name.replace(/^mpa_sync\./, '').replace(/[._]([a-z])/g, (_, c: string) => c.toUpperCase());
      expect(key, name).toBe(camel);
      expect(exported.get(name)!.dataPoints.length, name).toBeGreaterThan(0);
    }
    const kind = (name: string) => exported.get(name)!.dataPointType;
    expect(kind(SYNC_METRICS.requestDuration)).toBe(DataPointType.HISTOGRAM);
    expect(kind(SYNC_METRICS.staleness)).toBe(DataPointType.HISTOGRAM);
    expect(kind(SYNC_METRICS.inFlight)).toBe(DataPointType.GAUGE);
    expect(kind(SYNC_METRICS.coalesced)).toBe(DataPointType.SUM);
  });

  it('stops recording after stop()', async () => {
    const instrumentation = instrumentSync(kit.sync, { meterProvider: provider });
    instrumentation.stop();
    instrumentation.stop();
    kit.sync.group({ groupId: 'm', connectionString: 'c', maxPlayers: 8 }).join(A);
    await kit.settle();
    const metrics = await collect();
    expect(sum(metrics.get(SYNC_METRICS.requests))).toBeNaN();
    expect(metrics.get(SYNC_METRICS.players)).toBeUndefined();
  });

  it('refuses something that is not an ActivitySync, naming the argument', () => {
    expect(() => instrumentSync({} as ActivitySync)).toThrow(MpaValidationError);
    expect(() => instrumentSync(null as unknown as ActivitySync)).toThrow(/sync must be an ActivitySync/);
  });
});
