/**
 * A complete Colyseus 0.18 game server whose rooms publish their players' Xbox Multiplayer
 * Activity with `mpa-sync/colyseus`.
 *
 *   npx tsx examples/colyseus-server.ts          # serves ws://127.0.0.1:2567 against the built-in emulator
 *   npx tsx examples/colyseus-server.ts --demo   # ... and plays one short match with two @colyseus/sdk clients, then stops
 *
 * Against the real service: MPA_BASE_URL, MPA_TITLE_ID, MPA_AUTHORIZATION (see README).
 * Shutdown order (SIGINT/SIGTERM): Colyseus disposes every room first (each room's group closes:
 * its players' activities are deleted and recent players reported), then `sync.close()`.
 */
import { Room, Server, type Client } from '@colyseus/core';
import { WebSocketTransport } from '@colyseus/ws-transport';
import { ActivitySync, MpaClient } from 'mpa-sync';
import { startEmulator } from 'mpa-sync/emulator';
import { publishRoomActivity, type RoomActivity } from 'mpa-sync/colyseus';

/** What a player sends when joining. */
export interface ArenaJoinOptions {
  /**
   * Demo only: the player's xuid as the client claims it. In production take it from auth data
   * you verified (a static `onAuth` checking the player's Xbox token, @colyseus/auth), since
   * join options are whatever the client sends.
   */
  xuid?: string;
}

/**
 * The arena room, built around the process's ActivitySync. Colyseus constructs rooms itself, so
 * the sync reaches them through this factory's closure rather than a constructor argument.
 */
export function createArenaRoom(sync: ActivitySync, publicAddress: string): new () => Room {
  return class ArenaRoom extends Room {
    override maxClients = 8;
    mpa!: RoomActivity;

    override onCreate() {
      this.mpa = publishRoomActivity(this, {
        sync,
        connectionString: `${publicAddress}?roomId=${this.roomId}`,
        xuid: (_client: Client, options: ArenaJoinOptions | undefined, auth: { xuid?: string } | undefined) => auth?.xuid ?? options?.xuid,
        whenLocked: 'InviteOnly', // the match started: friends need an invite
        recentPlayers: { encounterType: 'Opponent' },
      });
      // A player starts the match: Colyseus's own lock(), not an override of it.
      this.onMessage('start', () => void this.lock());
    }

    override onAuth(client: Client, options: ArenaJoinOptions) {
      return this.mpa.authorize(client, options); // a bad xuid is refused here, with a clear message
    }

    // Colyseus waits for onDispose before it counts the room as gone, so a graceful shutdown
    // lets the group finish (last DELETEs, recent players) before sync.close() runs.
    override async onDispose() {
      await this.mpa.closed;
    }
  };
}

/** Starts the server on `port` (0: any free port); resolves with its URL and a stop function. */
export async function startArenaServer(options: { sync: ActivitySync; port?: number; publicAddress?: string }) {
  const server = new Server({ transport: new WebSocketTransport(), greet: false, gracefullyShutdown: false });
  server.define('arena', createArenaRoom(options.sync, options.publicAddress ?? '127.0.0.1:2567'));
  await server.listen(options.port ?? 2567, '127.0.0.1');
  const address = server.transport.server?.address();
  const port = typeof address === 'object' && address ? address.port : options.port ?? 2567;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    /** Stops the rooms first (their groups close), then the sync: the shutdown order that deletes every activity. */
    async stop() {
      await server.gracefullyShutdown(false);
      return options.sync.close({ timeoutMs: 10_000 });
    },
  };
}

// Run directly: the server against the built-in emulator (or the real service).
if (import.meta.url === `file://${process.argv[1]}`) {
  const real = process.env.MPA_BASE_URL;
  const emulator = real ? undefined : await startEmulator({ port: 0, host: '127.0.0.1' });
  const sync = new ActivitySync({
    client: new MpaClient({
      titleId: process.env.MPA_TITLE_ID ?? 1234567890,
      baseUrl: real ?? emulator!.url,
      authorization: () => process.env.MPA_AUTHORIZATION ?? 'XBL3.0 x=1;demo-token',
    }),
  });
  sync.on('request', (e) => console.log(`${e.method.padEnd(6)} ${e.xuid || '-'} ${e.status} ${e.reason} ${e.latencyMs} ms`));
  sync.on('error', (e) => console.warn(`!! ${e.groupId ?? ''} ${e.error.code}: ${e.error.message}`));
  const arena = await startArenaServer({ sync, port: process.argv.includes('--demo') ? 0 : 2567 });
  console.log(`colyseus listening on ${arena.url}`);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    const { undeleted } = await arena.stop();
    console.log(`stopped; activities left behind: ${undeleted.length}`);
    if (emulator) console.log(`emulator holds ${emulator.activities().length} activities`);
    await emulator?.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop().catch((e: unknown) => (console.error(e), process.exit(1))));
  process.once('SIGTERM', () => void stop().catch((e: unknown) => (console.error(e), process.exit(1))));

  if (process.argv.includes('--demo')) {
    const { Client: SdkClient } = await import('@colyseus/sdk');
    const alice = await new SdkClient(arena.url).joinOrCreate('arena', { xuid: '2533274800000001' });
    const bob = await new SdkClient(arena.url).joinById(alice.roomId, { xuid: '2533274800000002' });
    await sync.flush();
    console.log('while open:', emulator?.activities().map((a) => `${a.xuid} ${a.currentPlayers}/${a.maxPlayers} ${a.joinRestriction}`));
    alice.send('start');
    await new Promise((r) => setTimeout(r, 200));
    await sync.flush();
    console.log('started:   ', emulator?.activities().map((a) => `${a.xuid} ${a.currentPlayers}/${a.maxPlayers} ${a.joinRestriction}`));
    await bob.leave();
    process.kill(process.pid, 'SIGINT');
  }
}
