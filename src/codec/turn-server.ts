// TurnServer, the value of the TURN-SERVICE kind (RFC 6940 §9).
import { type Codec, readU8, writeU8 } from './cursor.ts';
import { IpAddressPort } from './ip-address-port.ts';

export interface TurnServer {
  iteration: number;
  serverAddress: IpAddressPort;
}

export const TurnServer: Codec<TurnServer> = {
  encodingLength: (t) => 1 + IpAddressPort.encodingLength(t.serverAddress),
  encode(t, c) {
    writeU8(c, t.iteration);
    IpAddressPort.encode(t.serverAddress, c);
  },
  decode(c) {
    const iteration = readU8(c, 'iteration');
    c.path.push('server_address');
    const serverAddress = IpAddressPort.decode(c);
    c.path.pop();
    return { iteration, serverAddress };
  },
};
