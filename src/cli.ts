#!/usr/bin/env node
/**
 * `mpa-sync emulator [--port 8787] [--host 127.0.0.1] [--tokens a,b] [--no-rate-limits]
 *  [--stale-sequence ignore] [--fault-rate 0.05 --seed 1] [--latency 0] [--max-body-bytes 65536]
 *  [--log-size 10000] [--headers-timeout 10000] [--request-timeout 30000] [--keep-alive-timeout 5000]`
 */
import { parseArgs } from 'node:util';
import { startEmulator, type Emulator } from './emulator/server.js';
import type { FaultKind } from './emulator/core.js';
import { MpaValidationError } from './errors.js';

const USAGE = `usage: mpa-sync emulator [options]

Serves the Multiplayer Activity REST calls (PUT/GET/DELETE activities, activities/query,
invites/server, recentplayergroups/server) on a local port, with the documented validation
and rate limits.

  --port <n>              port (default 8787; 0 picks a free one)
  --host <addr>           interface (default 127.0.0.1)
  --tokens <a,b>          accepted Authorization values (default: any XBL3.0 x=<hash>;<token>)
  --no-rate-limits        turn the fine-grained rate limits off
  --stale-sequence <m>    reject (default) or ignore writes with a stale sequence number
  --fault-rate <p>        probability of a random fault per request (500/503/429/reset/hang)
  --seed <n>              seed of the fault generator (default 1)
  --latency <ms>          delay before every answer (default 0)
  --max-body-bytes <n>    larger bodies get 413 and are not read (default 65536)
  --log-size <n>          requests kept in the inspection log (default 10000)
  --headers-timeout <ms>  time to send the request headers, then 408 (default 10000)
  --request-timeout <ms>  time to send the whole request, then 408 (default 30000)
  --keep-alive-timeout <ms>  idle keep-alive connections close after this (default 5000)

GET /_emulator/health answers {status, uptimeMs, requests, memory} (process.memoryUsage()).
`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      port: { type: 'string', default: '8787' },
      host: { type: 'string', default: '127.0.0.1' },
      tokens: { type: 'string' },
      'no-rate-limits': { type: 'boolean', default: false },
      'stale-sequence': { type: 'string', default: 'reject' },
      'fault-rate': { type: 'string', default: '0' },
      seed: { type: 'string', default: '1' },
      latency: { type: 'string', default: '0' },
      'max-body-bytes': { type: 'string' },
      'log-size': { type: 'string' },
      'headers-timeout': { type: 'string' },
      'request-timeout': { type: 'string' },
      'keep-alive-timeout': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help || positionals[0] !== 'emulator') {
    process.stdout.write(USAGE);
    return values.help ? 0 : 2;
  }
  const port = Number(values.port);
  const faultRate = Number(values['fault-rate']);
  const stale = values['stale-sequence'];
  if (!Number.isInteger(port) || port < 0 || port > 65535) return fail(`--port must be 0..65535, got ${values.port}`);
  if (!(faultRate >= 0 && faultRate <= 1)) return fail(`--fault-rate must be 0..1, got ${values['fault-rate']}`);
  if (stale !== 'reject' && stale !== 'ignore') return fail(`--stale-sequence must be reject or ignore, got ${stale}`);
  const each = faultRate / 6;
  const kinds: FaultKind[] = ['500', '503', '503-retry-after', '429', 'reset', 'hang'];
  // Numbers are passed as given: startEmulator refuses a bad one, naming the option.
  const optional = (value: string | undefined) => (value === undefined ? undefined : Number(value));
  let emulator: Emulator;
  try {
    emulator = await startEmulator({
      port,
      host: values.host,
      tokens: values.tokens ? values.tokens.split(',') : undefined,
      rateLimits: values['no-rate-limits'] ? false : undefined,
      staleSequence: stale,
      latencyMs: Number(values.latency) || 0,
      faults: faultRate > 0 ? { seed: Number(values.seed), rates: Object.fromEntries(kinds.map((k) => [k, each])) } : undefined,
      maxBodyBytes: optional(values['max-body-bytes']),
      logSize: optional(values['log-size']),
      headersTimeoutMs: optional(values['headers-timeout']),
      requestTimeoutMs: optional(values['request-timeout']),
      keepAliveTimeoutMs: optional(values['keep-alive-timeout']),
    });
  } catch (error) {
    if (error instanceof MpaValidationError) return fail(error.message);
    throw error;
  }
  process.stdout.write(`mpa-sync emulator listening on ${emulator.url}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await emulator.close();
  return 0;
}

function fail(message: string): number {
  process.stderr.write(`mpa-sync: ${message}\n${USAGE}`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`mpa-sync: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
