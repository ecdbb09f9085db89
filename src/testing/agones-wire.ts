/**
 * Writes an Agones `GameServer` message in protobuf wire format by hand. The message classes
 * the npm client ships (google-protobuf 4) cannot serialize the GameServer's map fields
 * (labels, annotations, counters, lists) on the sending side (protobuf-javascript issue 249),
 * so a server built on them must write those entries itself; writing the whole message here
 * keeps one encoder for all of it. Field numbers are those of Agones' `sdk.proto`.
 */
import type { LocalGameServer } from './agones-model.js';

const encoder = new TextEncoder();

/** A growable protobuf writer: just the wire types the GameServer message uses. */
class ProtoWriter {
  readonly #bytes: number[] = [];

  #varint(value: bigint): void {
    // Negative int32/int64 values are written as their 64-bit two's complement, as protobuf does.
    let v = BigInt.asUintN(64, value);
    while (v >= 0x80n) {
      this.#bytes.push(Number((v & 0x7fn) | 0x80n));
      v >>= 7n;
    }
    this.#bytes.push(Number(v));
  }

  #tag(field: number, wireType: 0 | 2): void {
    this.#varint(BigInt((field << 3) | wireType));
  }

  /** An integer field (int32, int64, bool); proto3 leaves zero values out. */
  int(field: number, value: number | boolean): this {
    const n = typeof value === 'boolean' ? (value ? 1 : 0) : Math.trunc(value);
    if (n !== 0) {
      this.#tag(field, 0);
      this.#varint(BigInt(n));
    }
    return this;
  }

  /** A string field; proto3 leaves empty strings out, except inside map entries and repeated fields (`always`). */
  string(field: number, value: string, always = false): this {
    if (value === '' && !always) return this;
    return this.bytes(field, encoder.encode(value));
  }

  bytes(field: number, value: Uint8Array): this {
    this.#tag(field, 2);
    this.#varint(BigInt(value.length));
    for (const b of value) this.#bytes.push(b);
    return this;
  }

  /** An embedded message (always written, even when empty: presence matters for messages). */
  message(field: number, build: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    build(inner);
    return this.bytes(field, inner.finish());
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.#bytes);
  }
}

/** A `map<string, string>` field: one entry message (key = 1, value = 2) per pair. */
function stringMap(w: ProtoWriter, field: number, map: Readonly<Record<string, string>>): void {
  for (const [key, value] of Object.entries(map)) w.message(field, (e) => e.string(1, key, true).string(2, value, true));
}

/** The GameServer as the SDK server sends it (GetGameServer, WatchGameServer). */
export function encodeGameServer(gs: LocalGameServer): Uint8Array {
  const w = new ProtoWriter();
  w.message(1, (m) => {
    m.string(1, gs.name).string(2, gs.namespace).string(3, gs.uid).string(4, gs.resourceVersion);
    m.int(5, gs.generation).int(6, gs.creationTimestamp).int(7, gs.deletionTimestamp);
    stringMap(m, 8, gs.annotations);
    stringMap(m, 9, gs.labels);
  });
  w.message(2, (spec) =>
    spec.message(1, (h) => h.int(1, gs.health.disabled).int(2, gs.health.periodSeconds).int(3, gs.health.failureThreshold).int(4, gs.health.initialDelaySeconds)),
  );
  w.message(3, (s) => {
    s.string(1, gs.state).string(2, gs.address);
    for (const port of gs.ports) s.message(3, (p) => p.string(1, port.name).int(2, port.port));
    if (gs.players) {
      const players = gs.players;
      s.message(4, (p) => {
        p.int(1, players.count).int(2, players.capacity);
        for (const id of players.ids) p.string(3, id, true);
      });
    }
    for (const [name, counter] of Object.entries(gs.counters ?? {})) {
      s.message(5, (e) => e.string(1, name, true).message(2, (c) => c.int(1, counter.count).int(2, counter.capacity)));
    }
    for (const [name, list] of Object.entries(gs.lists ?? {})) {
      s.message(6, (e) =>
        e.string(1, name, true).message(2, (l) => {
          l.int(1, list.capacity);
          for (const value of list.values) l.string(2, value, true);
        }),
      );
    }
    for (const address of gs.addresses) s.message(7, (a) => a.string(1, address.type).string(2, address.address));
  });
  return w.finish();
}
