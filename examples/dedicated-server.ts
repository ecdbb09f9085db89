/**
 * The demo: a dedicated game server whose matchmaker fills two matches, players come and go,
 * one match turns invite-only and sends invites, the other ends and reports recent players,
 * and on SIGINT/SIGTERM the server deletes every activity and prints a summary.
 *
 *   npm start                                                 # in a clone of the repository
 *   npx tsx node_modules/mpa-sync/examples/dedicated-server.ts  # where mpa-sync is installed
 *
 * Either runs against the built-in emulator on 127.0.0.1, no setup. Both ways go through the
 * full server-to-server path: certificate -> service token (mutual TLS) -> XSTS token -> signed
 * calls. Against the real service (see docs/production.md):
 * MPA_CERT and MPA_KEY (files of your Business Partner Certificate and its key), MPA_SANDBOX,
 * MPA_TITLE_ID and MPA_XUIDS (real players, comma-separated); MPA_BASE_URL overrides the host.
 */
import { readFileSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import { ActivitySync, bindMatchmaker, MpaClient, xboxServiceAuth, type SyncEvent } from 'mpa-sync';
import { startEmulator, type Emulator } from 'mpa-sync/emulator';

const certFile = process.env.MPA_CERT;
if (certFile && !process.env.MPA_KEY) throw new Error('MPA_CERT needs MPA_KEY (the file of the certificate\'s private key) and MPA_SANDBOX');
const real = certFile ? (process.env.MPA_BASE_URL ?? 'https://multiplayeractivity.xboxlive.com') : undefined;
const emulator: Emulator | undefined = real ? undefined : await startEmulator({ port: 0, host: '127.0.0.1', s2s: true });
const auth = certFile
  ? xboxServiceAuth({ cert: readFileSync(certFile), key: readFileSync(process.env.MPA_KEY!), sandboxId: process.env.MPA_SANDBOX ?? 'RETAIL' })
  : xboxServiceAuth(emulator!.s2s!); // the emulator's test certificate, CA and token endpoints
const client = new MpaClient({
  titleId: process.env.MPA_TITLE_ID ?? 1234567890,
  baseUrl: real ?? emulator!.url,
  authorization: auth,
});
const sync = new ActivitySync({ client });
const xuids = process.env.MPA_XUIDS?.split(',') ?? Array.from({ length: 24 }, (_, i) => String(2533274800000001n + BigInt(i)));

// ---- a compact log, one line per request ------------------------------------------------
const started = Date.now();
const clock = () => `${((Date.now() - started) / 1000).toFixed(2).padStart(6)}s`;
const short = (xuid: string) => (/^\d+$/.test(xuid) ? `…${xuid.slice(-4)}` : xuid);
const counts = { events: 0 };
sync.on('request', (e: SyncEvent<'request'>) => {
  const mark = e.status === 429 || e.status >= 500 || e.status === 0 ? '  <<' : '';
  console.log(`${clock()}  ${e.method.padEnd(6)} ${short(e.xuid).padEnd(6)} ${String(e.status).padEnd(3)}  ${e.reason.padEnd(13)} ${e.groupId.padEnd(8)} ${String(e.latencyMs).padStart(4)} ms${mark}`);
});
sync.on('throttled', (e) => console.log(`${clock()}  !! THROTTLED ${short(e.xuid)}: waiting Retry-After ${e.retryAfterMs} ms (${e.scope})`));
sync.on('retry', (e) => console.log(`${clock()}  !! RETRY ${e.method} ${short(e.xuid)} attempt ${e.attempt} in ${e.delayMs} ms after ${e.cause}`));
sync.on('error', (e) => console.log(`${clock()}  !! ERROR ${e.groupId ?? ''} ${e.error.code}: ${e.error.message}`));

// ---- a simulated matchmaker, wired with the binding --------------------------------------
const matchmaker = new EventEmitter();
const emit = (event: string, payload: object) => {
  counts.events++;
  matchmaker.emit(event, payload);
};
const unbind = bindMatchmaker(sync, matchmaker);
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function scenario(): Promise<void> {
  console.log(`mpa-sync demo against ${real ?? `the built-in emulator at ${emulator!.url}`}`);
  if (emulator?.pageUrl) console.log(`watch it live (friends' view, requests, budgets): ${emulator.pageUrl}`);
  console.log(`auth: server-to-server, certificate ${auth.certificateFingerprint?.slice(0, 23)}… -> service token (mutual TLS) -> XSTS (sandbox ${auth.sandboxId}) -> signed calls\n`);
  console.log('  time   method player status reason        group    latency');
  emit('matchAllocated', { matchId: 'arena-1', connectionString: '127.0.0.1:7777?m=arena-1', maxPlayers: 8, joinRestriction: 'Followed' });
  emit('matchAllocated', {
    matchId: 'arena-2',
    connectionString: '127.0.0.1:7778?m=arena-2',
    maxPlayers: 16,
    recentPlayers: { encounterType: 'Opponent', teams: () => [xuids.slice(8, 12), xuids.slice(12, 16)] },
  });
  // Players arrive a few at a time: every arrival changes everyone's currentPlayers, and the
  // engine folds those changes into one PUT per player where it can.
  for (let i = 0; i < 16; i++) {
    emit('playerJoined', { matchId: i < 6 ? 'arena-1' : 'arena-2', xuid: xuids[i < 6 ? i : i + 2]! });
    if (i % 3 === 2) await wait(400);
  }
  if (emulator) emulator.failNext('429', 1, 2); // one injected throttle, to show Retry-After at work
  await wait(1000);
  emit('playerLeft', { matchId: 'arena-1', xuid: xuids[1]! });
  emit('playerJoined', { matchId: 'arena-1', xuid: xuids[6]! });
  if (emulator) emulator.failNext('500'); // and one server error, to show backoff
  emit('playerLeft', { matchId: 'arena-2', xuid: xuids[9]! });
  await wait(1500);
  console.log(`${clock()}  -- arena-1 goes invite-only and its host invites three friends`);
  emit('matchSettingsChanged', { matchId: 'arena-1', joinRestriction: 'InviteOnly' });
  const invited = await sync.getGroup('arena-1')!.invite(xuids[0]!, [xuids[20]!, xuids[21]!, xuids[22]!, xuids[21]!]);
  console.log(`${clock()}  -- invites: ${invited.sent.length} sent, ${invited.refused.length} refused`);
  await wait(1500);
  console.log(`${clock()}  -- arena-2 ends: its players leave and recent players are reported`);
  emit('matchEnded', { matchId: 'arena-2' });
  await sync.flush();
  await wait(500);
}

async function readBack(): Promise<{ xuid: string; group: string; players: string; restriction: string }[]> {
  const rows = [];
  for (const xuid of xuids) {
    const activity = await client.getActivity(xuid);
    if (activity) rows.push({ xuid, group: activity.groupId ?? '', players: `${activity.currentPlayers}/${activity.maxPlayers}`, restriction: activity.joinRestriction ?? '' });
  }
  return rows;
}

let shuttingDown = false;
async function shutdown(signal: string): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  await sync.flush();
  // What friends see now, printed before the shutdown's DELETEs so the output reads in order.
  console.log('\nActivities read back with GET before shutdown:');
  console.table(await readBack());
  console.log(`\n${clock()}  -- ${signal}: leaving every match and deleting every activity`);
  unbind();
  const { undeleted } = await sync.close({ timeoutMs: 10_000 });
  const after = await readBack();
  const stats = sync.stats();
  const sent = Object.values(stats.requests).reduce((n, byStatus) => n + Object.values(byStatus).reduce((a, b) => a + b, 0), 0);
  console.log('\nSummary:');
  console.table({
    'matchmaker events received': counts.events,
    'requests the engine sent (PUT, DELETE, POST)': sent,
    'changes folded into a later write (coalesced)': stats.coalesced,
    'throttled (429/503 Retry-After)': stats.throttled,
    retries: stats.retries,
    'activities left after shutdown': after.length,
    'undeleted at close': undeleted.length,
    ...(emulator && { 'recent-player groups reported': emulator.core.recentPlayerGroups.length, 'invites delivered': emulator.core.invites.reduce((n, i) => n + i.invitedUsers.length, 0) }),
  });
  console.log('Requests by method and status:', JSON.stringify(stats.requests));
  if (emulator && process.env.MPA_DEMO_KEEP_OPEN) {
    // The live page shows what happened (requests, budgets, throttles) for as long as you look.
    console.log(`\nThe emulator stays up so you can look around: ${emulator.pageUrl ?? emulator.url} (Ctrl-C to stop)`);
    await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  }
  await emulator?.close();
  process.exitCode = undeleted.length === 0 && after.length === 0 ? 0 : 1;
}

const stop = (signal: string) =>
  shutdown(signal).catch((error: unknown) => {
    console.error('shutdown failed:', error);
    process.exitCode = 1;
  });
process.once('SIGINT', () => stop('SIGINT'));
process.once('SIGTERM', () => stop('SIGTERM'));
await scenario();
// The scripted lifecycle is over: stop the way an operator would, through the signal handler.
process.kill(process.pid, 'SIGINT');
