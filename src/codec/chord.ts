// CHORD-RELOAD's overlay-specific structures (RFC 6940 §10.7–§10.9): the Update body, the
// RouteQuery answer and the Leave data.
import { type Codec, Cursor, fixedBytes, readU8, readU32, vector, writeU8, writeU32 } from './cursor.ts';
import { NODE_ID_BYTES } from './constants.ts';
import type { NodeId } from './ids.ts';

const NodeIdField = fixedBytes(NODE_ID_BYTES, 'node_id');
const Predecessors = vector(NodeIdField, 2, 'predecessors');
const Successors = vector(NodeIdField, 2, 'successors');
const Fingers = vector(NodeIdField, 2, 'fingers');

export type ChordUpdate = { uptime: number } & (
  /** "I am ready to route": liveness to peers that are not neighbours. */
  | { type: 'peer_ready' }
  | { type: 'neighbors'; predecessors: NodeId[]; successors: NodeId[] }
  /** The whole routing table, fingers in ascending order. */
  | { type: 'full'; predecessors: NodeId[]; successors: NodeId[]; fingers: NodeId[] }
);

const UPDATE_TYPE = { peer_ready: 1, neighbors: 2, full: 3 } as const;

export const ChordUpdate: Codec<ChordUpdate> = {
  encodingLength(u) {
    if (u.type === 'peer_ready') return 5;
    const n = 5 + Predecessors.encodingLength(u.predecessors) + Successors.encodingLength(u.successors);
    return u.type === 'full' ? n + Fingers.encodingLength(u.fingers) : n;
  },
  encode(u, c) {
    writeU32(c, u.uptime);
    writeU8(c, UPDATE_TYPE[u.type]);
    if (u.type === 'peer_ready') return;
    Predecessors.encode(u.predecessors, c);
    Successors.encode(u.successors, c);
    if (u.type === 'full') Fingers.encode(u.fingers, c);
  },
  decode(c: Cursor): ChordUpdate {
    const uptime = readU32(c, 'uptime');
    const code = readU8(c, 'type');
    switch (code) {
      case UPDATE_TYPE.peer_ready:
        return { uptime, type: 'peer_ready' };
      case UPDATE_TYPE.neighbors:
        return { uptime, type: 'neighbors', predecessors: Predecessors.decode(c), successors: Successors.decode(c) };
      case UPDATE_TYPE.full:
        return { uptime, type: 'full', predecessors: Predecessors.decode(c), successors: Successors.decode(c), fingers: Fingers.decode(c) };
      default:
        return c.invalid('type', 'unknown_type', `ChordUpdateType ${code}`);
    }
  },
};

export interface ChordRouteQueryAns {
  nextPeer: NodeId;
}

export const ChordRouteQueryAns: Codec<ChordRouteQueryAns> = {
  encodingLength: () => NODE_ID_BYTES,
  encode: (r, c) => NodeIdField.encode(r.nextPeer, c),
  decode: (c) => ({ nextPeer: fixedBytes(NODE_ID_BYTES, 'next_peer').decode(c) }),
};

/** Carried in LeaveReq.overlay_specific_data (§10.9). */
export type ChordLeaveData =
  | { type: 'from_succ'; successors: NodeId[] }
  | { type: 'from_pred'; predecessors: NodeId[] };

export const ChordLeaveData: Codec<ChordLeaveData> = {
  encodingLength: (l) => 1 + (l.type === 'from_succ' ? Successors.encodingLength(l.successors) : Predecessors.encodingLength(l.predecessors)),
  encode(l, c) {
    if (l.type === 'from_succ') {
      writeU8(c, 1);
      Successors.encode(l.successors, c);
    } else {
      writeU8(c, 2);
      Predecessors.encode(l.predecessors, c);
    }
  },
  decode(c): ChordLeaveData {
    const code = readU8(c, 'type');
    if (code === 1) return { type: 'from_succ', successors: Successors.decode(c) };
    if (code === 2) return { type: 'from_pred', predecessors: Predecessors.decode(c) };
    return c.invalid('type', 'unknown_type', `ChordLeaveType ${code}`);
  },
};
