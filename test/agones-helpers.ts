/**
 * Shared by the Agones tests: the real `@google-cloud/agones-sdk` client pointed at a local SDK
 * server, an ActivitySync against the emulator, and a wait for the sync's error events.
 */
import agonesSdk from '@google-cloud/agones-sdk';
import { ActivitySync, type ActivitySyncOptions } from '../src/engine/activity-sync.js';
import type { ErrorEvent } from '../src/engine/events.js';
import { MpaClient } from '../src/client.js';
import type { Emulator } from '../src/emulator/server.js';
import type { LocalAgonesSdk } from '../src/testing/index.js';

// The package's types declare an ES default export; from ESM, Node hands over the class itself.
export const AgonesSDK = agonesSdk as unknown as typeof agonesSdk.default;
export type Sdk = InstanceType<typeof AgonesSDK> & {
  beta: { client: { close(): void }; appendListValue(k: string, v: string): Promise<void>; deleteListValue(k: string, v: string): Promise<void>; getListValues(k: string): Promise<string[]>; getListCapacity(k: string): Promise<number>; setListCapacity(k: string, n: number): Promise<void>; getCounterCount(k: string): Promise<number>; incrementCounter(k: string, n: number): Promise<void>; setCounterCapacity(k: string, n: number): Promise<void> };
  alpha: { client: { close(): void } };
};

export const X1 = '2533274800000001';
export const X2 = '2533274800000002';
export const X3 = '2533274800000003';

/** A real client for `local`: the client reads AGONES_SDK_GRPC_PORT when it is constructed. */
export async function connectSdk(local: LocalAgonesSdk): Promise<Sdk> {
  const before = process.env.AGONES_SDK_GRPC_PORT;
  process.env.AGONES_SDK_GRPC_PORT = String(local.port);
  try {
    const sdk = new AgonesSDK() as Sdk;
    await sdk.connect();
    return sdk;
  } finally {
    if (before === undefined) delete process.env.AGONES_SDK_GRPC_PORT;
    else process.env.AGONES_SDK_GRPC_PORT = before;
  }
}

/** `AgonesSDK.close()` leaves the alpha and beta channels open: close them too. */
export function closeSdk(sdk: Sdk): void {
  sdk.close();
  sdk.alpha.client.close();
  sdk.beta.client.close();
}

export function syncFor(emulator: Emulator, options: Omit<ActivitySyncOptions, 'client'> = {}): ActivitySync {
  return new ActivitySync({ ...options, client: new MpaClient({ titleId: 1234567890, baseUrl: emulator.url, authorization: () => 'XBL3.0 x=1;agones-test' }) });
}

/** Collects the sync's error events; `next(code)` waits for the next one with that code. */
export function errorsOf(sync: ActivitySync) {
  const seen: ErrorEvent[] = [];
  const waiting: { code: string; resolve: (e: ErrorEvent) => void }[] = [];
  sync.on('error', (e) => {
    seen.push(e);
    const at = waiting.findIndex((w) => w.code === e.error.code);
    if (at >= 0) waiting.splice(at, 1)[0]!.resolve(e);
  });
  return {
    seen,
    next: (code: string) => new Promise<ErrorEvent>((resolve) => waiting.push({ code, resolve })),
  };
}
