// AppAttachReq and AppAttachAns (RFC 6940 §6.5.2): one structure for both directions.
import { type Codec, readAscii, readU16, writeAscii, writeU16 } from '../cursor.ts';
import { type IceCandidate, IceCandidateVector } from '../ice-candidate.ts';

export interface AppAttach {
  ufrag: string;
  password: string;
  /** Application-ID: 5060 SIP, 5061 SIPS (§14.5). */
  application: number;
  role: string;
  candidates: IceCandidate[];
}

export const AppAttach: Codec<AppAttach> = {
  encodingLength: (a) => 2 + a.ufrag.length + a.password.length + 2 + 1 + a.role.length + IceCandidateVector.encodingLength(a.candidates),
  encode(a, c) {
    writeAscii(c, 1, a.ufrag, 'ufrag');
    writeAscii(c, 1, a.password, 'password');
    writeU16(c, a.application);
    writeAscii(c, 1, a.role, 'role');
    IceCandidateVector.encode(a.candidates, c);
  },
  decode: (c) => ({
    ufrag: readAscii(c, 1, 'ufrag'),
    password: readAscii(c, 1, 'password'),
    application: readU16(c, 'application'),
    role: readAscii(c, 1, 'role'),
    candidates: IceCandidateVector.decode(c),
  }),
};
