/**
 * Keeps a WatchGameServer stream open. When it breaks (the sidecar restarting, briefly
 * unreachable), it opens a new one after a backoff on the injected timers; the new stream's
 * first message is the whole current GameServer, so applying it catches up on everything that
 * changed meanwhile: nothing is lost, there are no events to replay.
 */
import type { AgonesGameServerObject } from './game-server.js';
import { equalJitterDelay } from '../backoff.js';

/** Timers the reconnect backoff runs on: the global ones, or a @sinonjs/fake-timers clock. */
export interface WatchTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: any): void;
}

/** Reconnect backoff: the n-th wait is between half and all of `min(capMs, baseMs * 2^(n-1))`. */
export interface ReconnectOptions {
  /** Default 500. */
  baseMs?: number;
  /** Default 30000. */
  capMs?: number;
}

/** The part of the client the watch uses. */
export interface WatchableSdk {
  watchGameServer(callback: (gameServer: AgonesGameServerObject) => void, errorCallback: (error: unknown) => void): void;
  /** Waits for the channel to be ready (the Node client's `connect()`): a reconnect waits for it first. */
  connect?(): Promise<void>;
  /** The Node client keeps its open streams here; the watch finds its own to cancel it and to see a clean end. */
  streams?: unknown[];
}

interface StreamLike {
  cancel?(): void;
  on?(event: string, listener: (...args: unknown[]) => void): unknown;
}

/** Why and when the watch reconnects. */
export interface WatchBreak {
  error: unknown;
  /** Consecutive failed attempts, from 1. */
  attempt: number;
  delayMs: number;
}

/** A running watch. */
export interface WatchHandle {
  /** Stops watching: cancels the stream and any pending reconnect. Idempotent. */
  stop(): void;
}

/** Watches `sdk`'s GameServer until `stop()`, reconnecting with backoff after every break. */
export function watchWithReconnect(
  sdk: WatchableSdk,
  onGameServer: (raw: AgonesGameServerObject) => void,
  onBreak: (event: WatchBreak) => void,
  options: { timers: WatchTimers; random: () => number; reconnect: Required<ReconnectOptions> },
): WatchHandle {
  const { timers, random, reconnect } = options;
  let stopped = false;
  let failures = 0;
  let timer: unknown;
  let current: { stream?: StreamLike; ended: boolean } | undefined;

  const forget = (stream: StreamLike | undefined) => {
    const at = stream && Array.isArray(sdk.streams) ? sdk.streams.indexOf(stream) : -1;
    if (at >= 0) sdk.streams!.splice(at, 1);
  };

  const ended = (attempt: NonNullable<typeof current>, error: unknown) => {
    if (attempt.ended) return;
    attempt.ended = true;
    forget(attempt.stream);
    if (stopped || current !== attempt) return;
    failures++;
    // Half fixed, half random: spread out, never an immediate retry storm.
    const delayMs = equalJitterDelay(failures - 1, reconnect, random);
    onBreak({ error, attempt: failures, delayMs });
    timer = timers.setTimeout(() => void again(), delayMs);
  };

  const again = async () => {
    timer = undefined;
    if (stopped) return;
    if (typeof sdk.connect === 'function') {
      const attempt = (current = { ended: false });
      try {
        await sdk.connect();
      } catch (error) {
        ended(attempt, error);
        return;
      }
      if (stopped || current !== attempt) return;
    }
    open();
  };

  const open = () => {
    const attempt: NonNullable<typeof current> = (current = { ended: false });
    const before = Array.isArray(sdk.streams) ? sdk.streams.length : -1;
    try {
      sdk.watchGameServer(
        (raw) => {
          if (stopped || current !== attempt) return;
          failures = 0;
          onGameServer(raw);
        },
        (error) => ended(attempt, error),
      );
    } catch (error) {
      ended(attempt, error);
      return;
    }
    if (before >= 0 && sdk.streams!.length > before) {
      const stream = sdk.streams![sdk.streams!.length - 1] as StreamLike;
      attempt.stream = stream;
      // A stream the server ends cleanly reports no error: its final status tells.
      stream.on?.('status', (status: unknown) => {
        const code = (status as { code?: unknown } | undefined)?.code;
        ended(attempt, code === 0 || code === undefined ? new Error('the WatchGameServer stream ended') : status);
      });
    }
  };

  open();
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      if (timer !== undefined) timers.clearTimeout(timer);
      const stream = current?.stream;
      if (current) current.ended = true;
      forget(stream);
      stream?.cancel?.();
    },
  };
}
