// Join, Leave and RouteQuery (RFC 6940 §6.4.2): generic shells whose overlay_specific_data
// the topology plug-in fills (see ../chord.ts).
import { type Codec, readBoolean, readOpaque, writeOpaque, writeU8, fixedBytes } from '../cursor.ts';
import { NODE_ID_BYTES } from '../constants.ts';
import { Destination } from '../destination.ts';
import type { NodeId } from '../ids.ts';

export interface JoinReq {
  joiningPeerId: NodeId;
  overlaySpecificData: Uint8Array;
}
export interface JoinAns {
  overlaySpecificData: Uint8Array;
}
export interface LeaveReq {
  leavingPeerId: NodeId;
  overlaySpecificData: Uint8Array;
}
export interface RouteQueryReq {
  sendUpdate: boolean;
  destination: Destination;
  overlaySpecificData: Uint8Array;
}

export const NodeIdCodec = fixedBytes(NODE_ID_BYTES, 'node_id');

function peerAndData(idName: string): Codec<{ id: NodeId; data: Uint8Array }> {
  const id = fixedBytes(NODE_ID_BYTES, idName);
  return {
    encodingLength: (v) => NODE_ID_BYTES + 2 + v.data.length,
    encode(v, c) {
      id.encode(v.id, c);
      writeOpaque(c, 2, v.data, 'overlay_specific_data');
    },
    decode: (c) => ({ id: id.decode(c), data: readOpaque(c, 2, 'overlay_specific_data') }),
  };
}

const joining = peerAndData('joining_peer_id');
const leaving = peerAndData('leaving_peer_id');

export const JoinReq: Codec<JoinReq> = {
  encodingLength: (j) => joining.encodingLength({ id: j.joiningPeerId, data: j.overlaySpecificData }),
  encode: (j, c) => joining.encode({ id: j.joiningPeerId, data: j.overlaySpecificData }, c),
  decode(c) {
    const v = joining.decode(c);
    return { joiningPeerId: v.id, overlaySpecificData: v.data };
  },
};

export const LeaveReq: Codec<LeaveReq> = {
  encodingLength: (l) => leaving.encodingLength({ id: l.leavingPeerId, data: l.overlaySpecificData }),
  encode: (l, c) => leaving.encode({ id: l.leavingPeerId, data: l.overlaySpecificData }, c),
  decode(c) {
    const v = leaving.decode(c);
    return { leavingPeerId: v.id, overlaySpecificData: v.data };
  },
};

export const JoinAns: Codec<JoinAns> = {
  encodingLength: (j) => 2 + j.overlaySpecificData.length,
  encode: (j, c) => writeOpaque(c, 2, j.overlaySpecificData, 'overlay_specific_data'),
  decode: (c) => ({ overlaySpecificData: readOpaque(c, 2, 'overlay_specific_data') }),
};

export const RouteQueryReq: Codec<RouteQueryReq> = {
  encodingLength: (r) => 1 + Destination.encodingLength(r.destination) + 2 + r.overlaySpecificData.length,
  encode(r, c) {
    writeU8(c, r.sendUpdate ? 1 : 0);
    Destination.encode(r.destination, c);
    writeOpaque(c, 2, r.overlaySpecificData, 'overlay_specific_data');
  },
  decode(c) {
    const sendUpdate = readBoolean(c, 'send_update');
    c.path.push('destination');
    const destination = Destination.decode(c);
    c.path.pop();
    return { sendUpdate, destination, overlaySpecificData: readOpaque(c, 2, 'overlay_specific_data') };
  },
};

/** LeaveAns, UpdateAns and ConfigUpdateAns are empty structures. */
export const Empty: Codec<Record<string, never>> = {
  encodingLength: () => 0,
  encode: () => {},
  decode: () => ({}),
};
