// AttachReqAns (RFC 6940 §6.5.1): the same structure asks for and answers a connection.
import { type Codec, readAscii, readBoolean, writeAscii, writeU8 } from '../cursor.ts';
import { type IceCandidate, IceCandidateVector } from '../ice-candidate.ts';

export interface AttachReqAns {
  ufrag: string;
  password: string;
  /** RFC 4145 setup role: "passive" in the request, "active" in the answer. */
  role: string;
  candidates: IceCandidate[];
  sendUpdate: boolean;
}

export const AttachReqAns: Codec<AttachReqAns> = {
  encodingLength: (a) => 3 + a.ufrag.length + a.password.length + a.role.length + IceCandidateVector.encodingLength(a.candidates) + 1,
  encode(a, c) {
    writeAscii(c, 1, a.ufrag, 'ufrag');
    writeAscii(c, 1, a.password, 'password');
    writeAscii(c, 1, a.role, 'role');
    IceCandidateVector.encode(a.candidates, c);
    writeU8(c, a.sendUpdate ? 1 : 0);
  },
  decode: (c) => ({
    ufrag: readAscii(c, 1, 'ufrag'),
    password: readAscii(c, 1, 'password'),
    role: readAscii(c, 1, 'role'),
    candidates: IceCandidateVector.decode(c),
    sendUpdate: readBoolean(c, 'send_update'),
  }),
};
