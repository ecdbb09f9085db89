#!/usr/bin/env node
/**
 * `mpa-sync emulator [--port 8787] [--host 127.0.0.1] [--tokens a,b] [--no-rate-limits]
 *  [--stale-sequence ignore] [--fault-rate 0.05 --seed 1] [--latency 0] [--ui]
 *  [--s2s [--sandbox RETAIL] [--s2s-dir d]] [--max-body-bytes 65536] [--log-size 10000]
 *  [--headers-timeout 10000] [--request-timeout 30000] [--keep-alive-timeout 5000]`
 * `mpa-sync --version`
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { makeDirectory } from './make-directory.js';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sandboxIdSchema } from './auth/service-auth.js';
import { parseArgs } from 'node:util';
import { startEmulator, type Emulator } from './emulator/server.js';
import type { FaultKind } from './emulator/core.js';
import { VERSION } from './version.js';
import { MpaValidationError } from './errors.js';

const USAGE = `usage: mpa-sync emulator [options]
       mpa-sync --version

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
  --ui                    serve the live page and /_emulator/ routes on a non-loopback --host too
                          (on loopback they are always served)
  --s2s                   server-to-server authentication as the real service: token endpoints
                          over HTTPS with mutual TLS, signed calls with live XSTS tokens only
  --sandbox <id>          with --s2s: the sandbox the test certificate is allowed in (default RETAIL)
  --s2s-dir <dir>         with --s2s: where to write cert.pem, key.pem and ca.pem, created if
                          missing (default: a new temporary directory, removed at exit); they
                          are throw-away test credentials
  --max-body-bytes <n>    larger bodies get 413 and are not read (default 65536)
  --log-size <n>          requests kept in the inspection log (default 10000)
  --headers-timeout <ms>  time to send the request headers, then 408 (default 10000)
  --request-timeout <ms>  time to send the whole request, then 408 (default 30000)
  --keep-alive-timeout <ms>  idle keep-alive connections close after this (default 5000)
  -v, --version           print the version and exit

GET /_emulator/health answers {status, uptimeMs, requests, memory} (process.memoryUsage()).
`;

/** Flags that take a number; each is checked to be decimal before anything else reads it. */
const NUMERIC_FLAGS = ['port', 'fault-rate', 'seed', 'latency', 'max-body-bytes', 'log-size', 'headers-timeout', 'request-timeout', 'keep-alive-timeout'] as const;
const DECIMAL = /^-?[0-9]+(\.[0-9]+)?$/;

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        port: { type: 'string', default: '8787' },
        host: { type: 'string', default: '127.0.0.1' },
        tokens: { type: 'string' },
        'no-rate-limits': { type: 'boolean', default: false },
        'stale-sequence': { type: 'string', default: 'reject' },
        'fault-rate': { type: 'string', default: '0' },
        seed: { type: 'string' },
        latency: { type: 'string' },
        ui: { type: 'boolean', default: false },
        s2s: { type: 'boolean', default: false },
        sandbox: { type: 'string' },
        's2s-dir': { type: 'string' },
        'max-body-bytes': { type: 'string' },
        'log-size': { type: 'string' },
        'headers-timeout': { type: 'string' },
        'request-timeout': { type: 'string' },
        'keep-alive-timeout': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
        version: { type: 'boolean', short: 'v', default: false },
      },
    });
  } catch (error) {
    // An unknown flag or a missing value: a usage error like any other (exit code 2).
    return fail((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (positionals[0] !== 'emulator') return fail(positionals[0] === undefined ? 'no command given' : `unknown command ${JSON.stringify(positionals[0])}`);
  // Decimal digits only: Number() reads '' as 0, '0x10' as 16 and 'abc' as NaN (a latency of
  // 'abc' used to become 0 without a word).
  const badNumber = NUMERIC_FLAGS.find((flag) => values[flag] !== undefined && !DECIMAL.test(values[flag]!));
  if (badNumber) return fail(`--${badNumber} must be a decimal number, got ${JSON.stringify(values[badNumber])}`);
  const port = Number(values.port);
  const faultRate = Number(values['fault-rate']);
  const stale = values['stale-sequence'];
  if (!Number.isInteger(port) || port < 0 || port > 65535) return fail(`--port must be 0..65535, got ${values.port}`);
  if (!(faultRate >= 0 && faultRate <= 1)) return fail(`--fault-rate must be 0..1, got ${values['fault-rate']}`);
  if (stale !== 'reject' && stale !== 'ignore') return fail(`--stale-sequence must be reject or ignore, got ${stale}`);
  // Flags that only mean something with --s2s are refused without it, not silently ignored.
  if (!values.s2s && (values.sandbox !== undefined || values['s2s-dir'] !== undefined)) return fail(`${values.sandbox !== undefined ? '--sandbox' : '--s2s-dir'} needs --s2s`);
  if (values.seed !== undefined && !(faultRate > 0)) return fail('--seed needs --fault-rate above 0');
  const sandbox = values.sandbox ?? 'RETAIL';
  // The rule xboxServiceAuth (and so the emulator) applies, checked here before any directory is made.
  if (!sandboxIdSchema('').safeParse(sandbox).success) return fail(`--sandbox must look like RETAIL or XDKS.1, got ${sandbox}`);
  // The credentials' directory is made (or found unusable) before anything listens; one this
  // command creates in the temporary directory is removed at exit, key and all.
  let s2sDir: string | undefined;
  let ownDir = false;
  const removeOwnDir = () => {
    if (ownDir) rmSync(s2sDir!, { recursive: true, force: true });
  };
  if (values.s2s) {
    try {
      if (values['s2s-dir'] === undefined) {
        s2sDir = mkdtempSync(path.join(tmpdir(), 'mpa-sync-s2s-'));
        ownDir = true;
      } else {
        s2sDir = values['s2s-dir'];
        makeDirectory(s2sDir);
      }
    } catch (error) {
      return fail(`--s2s-dir: cannot create ${values['s2s-dir'] ?? 'a temporary directory'} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
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
      latencyMs: optional(values.latency),
      ui: values.ui || undefined,
      faults: faultRate > 0 ? { seed: Number(values.seed ?? 1), rates: Object.fromEntries(kinds.map((k) => [k, each])) } : undefined,
      maxBodyBytes: optional(values['max-body-bytes']),
      logSize: optional(values['log-size']),
      headersTimeoutMs: optional(values['headers-timeout']),
      requestTimeoutMs: optional(values['request-timeout']),
      keepAliveTimeoutMs: optional(values['keep-alive-timeout']),
      s2s: values.s2s ? { sandboxId: sandbox } : undefined,
    });
  } catch (error) {
    removeOwnDir();
    if (error instanceof MpaValidationError) return fail(error.message);
    throw error;
  }
  if (emulator.s2s && s2sDir !== undefined) {
    // The test certificate goes to files, never to the console.
    try {
      writeFileSync(path.join(s2sDir, 'cert.pem'), emulator.s2s.cert);
      writeFileSync(path.join(s2sDir, 'key.pem'), emulator.s2s.key, { mode: 0o600 });
      writeFileSync(path.join(s2sDir, 'ca.pem'), emulator.s2s.ca);
    } catch (error) {
      await emulator.close();
      removeOwnDir();
      return fail(`--s2s-dir: cannot write the credentials to ${s2sDir} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  // Listened for before the first line is printed: a supervisor that stops the emulator as
  // soon as it reads that line must still get the clean exit (the directory removed).
  const stopped = new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  process.stdout.write(`mpa-sync emulator listening on ${emulator.url}\n`);
  process.stdout.write(emulator.pageUrl ? `live page: ${emulator.pageUrl}\n` : 'live page: off (not on loopback; pass --ui to serve it)\n');
  if (emulator.s2s) {
    process.stdout.write(
      `s2s: service token ${emulator.s2s.serviceAuthUrl}\ns2s: xsts ${emulator.s2s.xstsUrl}\ns2s: sandbox ${emulator.s2s.sandboxId}\ns2s: cert.pem, key.pem, ca.pem in ${s2sDir}\n`,
    );
  }
  await stopped;
  await emulator.close();
  removeOwnDir();
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
