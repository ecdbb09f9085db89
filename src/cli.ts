#!/usr/bin/env node
/**
 * `mpa-sync emulator [--port 8787] [--host 127.0.0.1] [--tokens a,b] [--title-ids 1,2]
 *  [--expiry 86400000] [--no-rate-limits] [--stale-sequence ignore] [--fault-rate 0.05 --seed 1]
 *  [--latency 0] [--ui] [--s2s [--sandbox RETAIL] [--s2s-port 8788] [--s2s-dir d]]
 *  [--max-body-bytes 65536] [--log-size 10000] [--headers-timeout 10000]
 *  [--request-timeout 30000] [--keep-alive-timeout 5000]`
 * `mpa-sync --version`
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { writeCredentialFiles, type CredentialFiles } from './credential-files.js';
import { makeDirectory } from './make-directory.js';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sandboxIdSchema } from './auth/service-auth.js';
import { parseArgs } from 'node:util';
import { startEmulator, type Emulator } from './emulator/server.js';
import type { FaultKind } from './emulator/core.js';
import { VERSION } from './version.js';
import { MpaUsageError, MpaValidationError } from './errors.js';

const USAGE = `usage: mpa-sync emulator [options]
       mpa-sync --version

Serves the Multiplayer Activity REST calls (PUT/GET/DELETE activities, activities/query,
invites/server, recentplayergroups/server) on a local port, with the documented validation
and rate limits.

  --port <n>              port (default 8787; 0 picks a free one)
  --host <addr>           interface (default 127.0.0.1; 0.0.0.0 or :: for every interface,
                          an empty one is refused)
  --tokens <a,b>          accepted Authorization values (default: any XBL3.0 x=<hash>;<token>);
                          --tokens '' accepts none (every call gets 401), as tokens: [] does
  --title-ids <a,b>       title ids calls may use, decimal, 1 to 4294967295 (default: any);
                          others get 400 AuthorizationError; --title-ids '' allows none
  --expiry <ms>           an activity not updated for this long is removed, and a user's last
                          sequence number forgotten (default 86400000, 24 h)
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
  --s2s-port <n>          with --s2s: port of the token endpoints, on --host (default: a free one)
  --s2s-dir <dir>         with --s2s: where to write cert.pem, key.pem (mode 0600) and ca.pem,
                          created if missing (default: a new temporary directory); each must not
                          exist yet (a file or link there is refused), and all three are removed
                          at exit; they are throw-away test credentials
  --max-body-bytes <n>    larger bodies get 413 and are not read (default 65536)
  --log-size <n>          requests kept in the inspection log (default 10000)
  --headers-timeout <ms>  time to send the request headers, then 408 (default 10000)
  --request-timeout <ms>  time to send the whole request, then 408 (default 30000)
  --keep-alive-timeout <ms>  idle keep-alive connections close after this (default 5000)
  -v, --version           print the version and exit

GET /_emulator/health answers {status, uptimeMs, requests, memory} (process.memoryUsage());
GET /_emulator/s2s the token endpoints' URLs. Stops on SIGINT, SIGTERM and SIGHUP. In a CI
script run node_modules/.bin/mpa-sync, not npx (npx does not pass SIGTERM on).
`;

/** Flags that take a number; each is checked to be decimal before anything else reads it. */
const NUMERIC_FLAGS = ['port', 's2s-port', 'expiry', 'fault-rate', 'seed', 'latency', 'max-body-bytes', 'log-size', 'headers-timeout', 'request-timeout', 'keep-alive-timeout'] as const;
const DECIMAL = /^-?[0-9]+(\.[0-9]+)?$/;
const MAX_TITLE_ID = 2 ** 32 - 1;
/** Flags that only mean something with --s2s: refused without it, not silently ignored. */
const S2S_FLAGS = ['sandbox', 's2s-port', 's2s-dir'] as const;

/**
 * A comma-separated list flag. `''` is the empty list, as `[]` is in the API (so `--tokens ''`
 * accepts no token, like `tokens: []`); an empty entry (`a,,b`, `a,`) is refused as a typo.
 */
function listFlag(value: string | undefined): string[] | undefined | { empty: true } {
  if (value === undefined) return undefined;
  if (value === '') return [];
  const items = value.split(',');
  return items.includes('') ? { empty: true } : items;
}

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
        'title-ids': { type: 'string' },
        expiry: { type: 'string' },
        'no-rate-limits': { type: 'boolean', default: false },
        'stale-sequence': { type: 'string', default: 'reject' },
        'fault-rate': { type: 'string', default: '0' },
        seed: { type: 'string' },
        latency: { type: 'string' },
        ui: { type: 'boolean', default: false },
        s2s: { type: 'boolean', default: false },
        sandbox: { type: 'string' },
        's2s-port': { type: 'string' },
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
  // node would listen on every interface, where any well-formed token is accepted.
  if (values.host.trim() === '') return fail("--host is empty, which would listen on every interface: pass --host 0.0.0.0 (or ::) to mean that, or leave it out for 127.0.0.1");
  const s2sOnly = S2S_FLAGS.find((flag) => values[flag] !== undefined);
  if (!values.s2s && s2sOnly) return fail(`--${s2sOnly} needs --s2s`);
  const s2sPort = values['s2s-port'] === undefined ? undefined : Number(values['s2s-port']);
  if (s2sPort !== undefined && !(Number.isInteger(s2sPort) && s2sPort >= 0 && s2sPort <= 65535)) return fail(`--s2s-port must be 0..65535, got ${values['s2s-port']}`);
  const expiryMs = values.expiry === undefined ? undefined : Number(values.expiry);
  if (expiryMs !== undefined && !(Number.isSafeInteger(expiryMs) && expiryMs >= 1)) return fail(`--expiry must be a whole number of milliseconds, at least 1, got ${values.expiry}`);
  const tokens = listFlag(values.tokens);
  if (tokens && !Array.isArray(tokens)) return fail(`--tokens has an empty entry: ${JSON.stringify(values.tokens)}`);
  const titleList = listFlag(values['title-ids']);
  if (titleList && !Array.isArray(titleList)) return fail(`--title-ids has an empty entry: ${JSON.stringify(values['title-ids'])}`);
  const badTitle = titleList?.find((id) => !/^[0-9]+$/.test(id) || Number(id) < 1 || Number(id) > MAX_TITLE_ID);
  if (badTitle !== undefined) return fail(`--title-ids must be decimal title ids from 1 to ${MAX_TITLE_ID}, separated by commas; got ${JSON.stringify(badTitle)}`);
  const titleIds = titleList?.map(Number);
  if (values.seed !== undefined && !(faultRate > 0)) return fail('--seed needs --fault-rate above 0');
  const sandbox = values.sandbox ?? 'RETAIL';
  // The rule xboxServiceAuth (and so the emulator) applies, checked here before any directory is made.
  if (!sandboxIdSchema('').safeParse(sandbox).success) return fail(`--sandbox must look like RETAIL or XDKS.1, got ${sandbox}`);
  // An empty list is allowed, and means what it means in the API; said aloud, since a CI
  // script's unset variable is the likely cause.
  if (tokens?.length === 0) warn("--tokens '' accepts no token: every call gets 401 (leave --tokens out to accept any well-formed token)");
  if (titleIds?.length === 0) warn("--title-ids '' allows no title: every call gets 400 AuthorizationError (leave --title-ids out to allow any)");
  // Listened for from here on, before anything is made: a stop during start-up (a closed
  // terminal, a supervisor's SIGTERM) still ends in the clean exit, key files removed.
  const stopped = new Promise<void>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, () => resolve());
  });
  // The credentials' directory is made (or found unusable) before anything listens; one this
  // command creates in the temporary directory is removed at exit, key and all. In a
  // directory given with --s2s-dir only the three files written are removed.
  let s2sDir: string | undefined;
  let ownDir = false;
  let files: CredentialFiles | undefined;
  const removeCredentials = () => {
    files?.remove();
    if (ownDir) rmSync(s2sDir!, { recursive: true, force: true });
  };
  if (values.s2s) {
    try {
      if (values['s2s-dir'] === undefined) {
        s2sDir = mkdtempSync(path.join(tmpdir(), 'mpa-sync-s2s-'));
        ownDir = true;
      } else {
        s2sDir = values['s2s-dir'];
        makeDirectory(s2sDir, 0o700);
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
      tokens,
      titleIds,
      expiryMs,
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
      s2s: values.s2s ? { sandboxId: sandbox, ...(s2sPort !== undefined && { tokenPort: s2sPort }) } : undefined,
    });
  } catch (error) {
    removeCredentials();
    if (error instanceof MpaValidationError) return fail(error.message);
    throw error;
  }
  if (emulator.s2s && s2sDir !== undefined) {
    // The test certificate goes to files, never to the console; each file is created new.
    try {
      files = writeCredentialFiles(s2sDir, emulator.s2s);
    } catch (error) {
      await emulator.close();
      removeCredentials();
      if (error instanceof MpaUsageError) return fail(`--s2s-dir: ${error.message}`);
      throw error;
    }
  }
  process.stdout.write(`mpa-sync emulator listening on ${emulator.url}\n`);
  process.stdout.write(emulator.pageUrl ? `live page: ${emulator.pageUrl}\n` : 'live page: off (not on loopback; pass --ui to serve it)\n');
  if (emulator.s2s) {
    process.stdout.write(
      `s2s: service token ${emulator.s2s.serviceAuthUrl}\ns2s: xsts ${emulator.s2s.xstsUrl}\ns2s: sandbox ${emulator.s2s.sandboxId}\ns2s: cert.pem, key.pem, ca.pem in ${s2sDir}\n`,
    );
  }
  await stopped;
  await emulator.close();
  removeCredentials();
  return 0;
}

function warn(message: string): void {
  process.stderr.write(`mpa-sync: ${message}\n`);
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
