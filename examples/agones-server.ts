/**
 * A game server on Agones, without a cluster: it marks itself Ready, the matchmaker allocates it
 * for a match (players and settings handed over in the allocation), players come and go, the
 * match turns invite-only, ends, and the server shuts down. mpa-sync/agones keeps every
 * player's Multiplayer Activity true from what Agones knows, against the local Agones SDK
 * server of mpa-sync/testing and the built-in emulator, both on 127.0.0.1.
 *
 *   npm run example:agones                                        (in a clone)
 *   npx tsx node_modules/mpa-sync/examples/agones-server.ts        (installed: needs @google-cloud/agones-sdk and tsx)
 *
 * In a pod, delete the two local servers: the sidecar is on localhost:$AGONES_SDK_GRPC_PORT,
 * and the client is an MpaClient with xboxServiceAuth (docs/production.md).
 */
import agonesSdk from '@google-cloud/agones-sdk';
import { publishGameServerActivity } from 'mpa-sync/agones';
import { ActivitySync, MpaClient, type SyncEvent } from 'mpa-sync';
import { startEmulator } from 'mpa-sync/emulator';
import { startLocalAgonesSdk } from 'mpa-sync/testing';

// The package's types declare an ES default export; from ESM, Node hands over the class itself.
const AgonesSDK = agonesSdk as unknown as typeof agonesSdk.default;

/** `AgonesSDK.close()` leaves the alpha and beta channels open: close them too, or node waits for them. */
function closeAgonesSdk(sdk: InstanceType<typeof AgonesSDK>): void {
  sdk.close();
  const channels = sdk as unknown as { alpha: { client: { close(): void } }; beta: { client: { close(): void } } };
  channels.alpha.client.close();
  channels.beta.client.close();
}

const [ALICE, BOB, CARO] = ['2533274800000001', '2533274800000002', '2533274800000003'];

/** Runs the whole story; returns what is left on the service at the end (nothing, if all went well). */
export async function runAgonesServer(log: (line: string) => void = console.log): Promise<{ undeleted: number; leftOnService: number; requests: number }> {
  const emulator = await startEmulator({ port: 0, host: '127.0.0.1' });
  // Agones runs the SDK server beside your container; here it is the local one, on loopback.
  const agones = await startLocalAgonesSdk({
    gameServer: { name: 'arena-7f3k', state: 'Scheduled', address: '203.0.113.7', ports: [{ name: 'game', port: 7777 }], lists: { players: { capacity: 8 } } },
  });
  process.env.AGONES_SDK_GRPC_PORT = String(agones.port);
  const sdk = new AgonesSDK();
  let requests = 0;
  try {
    await sdk.connect();
    const sync = new ActivitySync({ client: new MpaClient({ titleId: 1234567890, baseUrl: emulator.url, authorization: () => 'XBL3.0 x=1;example' }) });
    const short = (xuid: string) => `…${xuid.slice(-4)}`;
    sync.on('request', (e: SyncEvent<'request'>) => {
      requests++;
      log(`    ${e.method.padEnd(6)} ${short(e.xuid)}  ${e.status}  ${e.reason}`);
    });
    sync.on('error', (e) => log(`    !! ${e.error.code}: ${e.error.message}`));
    const show = () => {
      for (const a of emulator.activities()) log(`    ${short(a.xuid)}: ${a.currentPlayers}/${a.maxPlayers} ${a.joinRestriction} ${a.connectionString} group ${a.groupId}`);
      if (emulator.activities().length === 0) log('    (no activity)');
    };

    // The one call. In a pod, add signals: ['SIGTERM'] so that a terminating pod cleans up too.
    const mpa = publishGameServerActivity(sdk, { sync, port: 'game' });

    log(`mpa-sync on Agones: GameServer ${agones.gameServer().name}, local SDK server ${agones.address}, emulator ${emulator.url}`);
    await sdk.ready();
    await mpa.applied((gs) => gs.state === 'Ready');
    log('1. Ready: waiting for an allocation, no activity yet');

    // What a GameServerAllocation from the matchmaker does: metadata and a list action.
    agones.allocate({ annotations: { 'mpa-sync/group-id': 'match-42', 'mpa-sync/join-restriction': 'Followed' }, lists: { players: { addValues: [ALICE, BOB] } } });
    await mpa.applied((gs) => gs.state === 'Allocated');
    await sync.flush();
    log('2. Allocated for match-42 with two players:');
    show();

    log('3. A friend drops in (addPlayer appends to the players List; the group follows):');
    await mpa.addPlayer(CARO);
    await mpa.applied((gs) => gs.lists.players?.values.includes(CARO) ?? false);
    await sync.flush();
    show();

    log('4. The matchmaker closes the match for the final round (annotation mpa-sync/join-restriction):');
    agones.setAnnotation('mpa-sync/join-restriction', 'InviteOnly');
    await mpa.applied((gs) => gs.annotations['mpa-sync/join-restriction'] === 'InviteOnly');
    await sync.flush();
    show();

    log('5. Bob leaves:');
    await mpa.removePlayer(BOB);
    await mpa.applied((gs) => !(gs.lists.players?.values.includes(BOB) ?? true));
    await sync.flush();
    show();

    log('6. The match ends: SDK.Shutdown(); the adapter deletes every activity and closes the sync');
    await sdk.shutdown();
    const { undeleted } = await mpa.closed;
    show();
    log(`done: ${requests} requests, ${undeleted.length} activities possibly left (undeleted), ${emulator.activities().length} on the service`);
    return { undeleted: undeleted.length, leftOnService: emulator.activities().length, requests };
  } finally {
    closeAgonesSdk(sdk);
    await agones.close();
    await emulator.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runAgonesServer().then(
    ({ leftOnService, undeleted }) => process.exit(leftOnService === 0 && undeleted === 0 ? 0 : 1),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
