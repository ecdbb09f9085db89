/**
 * The room lifecycle of a Node multiplayer framework in the style of Colyseus (onCreate /
 * onJoin / onLeave / onDispose), written against a minimal interface so that it needs no
 * framework install. Run it: `npx tsx examples/colyseus-room.ts`.
 */
import { ActivitySync, MpaClient, startEmulator, type MatchGroup } from 'mpa-sync';

/** What this example needs from a framework's client object. */
export interface RoomClient {
  sessionId: string;
  /** Set by your auth hook: the player's Xbox user id. */
  auth: { xuid: string };
}

/** A room in the Colyseus style, keeping its players' MPA true. */
export class ArenaRoom {
  maxClients = 8;
  private group!: MatchGroup;

  constructor(
    readonly roomId: string,
    private readonly sync: ActivitySync,
    private readonly publicAddress: string,
  ) {}

  onCreate(options: { mode: string }): void {
    this.group = this.sync.group({
      groupId: this.roomId,
      connectionString: `${this.publicAddress}?room=${this.roomId}&mode=${options.mode}`,
      maxPlayers: this.maxClients,
      joinRestriction: 'Followed',
      recentPlayers: { encounterType: 'Opponent' },
    });
  }

  onJoin(client: RoomClient): void {
    this.group.join(client.auth.xuid);
  }

  onLeave(client: RoomClient): void {
    this.group.leave(client.auth.xuid);
  }

  /** The room locks when the match starts: friends can no longer join without an invite. */
  lock(): void {
    this.group.update({ joinRestriction: 'InviteOnly' });
  }

  async onDispose(): Promise<void> {
    await this.group.close();
  }
}

// Run directly: one room's life against the built-in emulator.
if (import.meta.url === `file://${process.argv[1]}`) {
  const emulator = await startEmulator({ port: 0, host: '127.0.0.1' });
  const sync = new ActivitySync({ client: new MpaClient({ titleId: 1234567890, baseUrl: emulator.url, authorization: () => 'XBL3.0 x=1;demo' }) });
  const room = new ArenaRoom('room-1', sync, '127.0.0.1:2567');
  room.onCreate({ mode: 'duel' });
  const alice = { sessionId: 'a', auth: { xuid: '2533274800000001' } };
  const bob = { sessionId: 'b', auth: { xuid: '2533274800000002' } };
  room.onJoin(alice);
  room.onJoin(bob);
  room.lock();
  await sync.flush();
  console.log('while playing:', emulator.activities().map((a) => `${a.xuid} ${a.currentPlayers}/${a.maxPlayers} ${a.joinRestriction}`));
  room.onLeave(bob);
  await room.onDispose();
  console.log('after dispose:', emulator.activities().length, 'activities;', emulator.core.recentPlayerGroups.length, 'recent-player group reported');
  await sync.close();
  await emulator.close();
}
