// `p2psip run` while the overlay is not built yet: the device makes its key and Node-ID,
// and shows the first message it will send, the signed Store of its SIP registration.
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import {
  type DecodedMessage, FRAGMENT_UNFRAGMENTED, HashAlgorithm, MessageCode, NODE_ID_BYTES, SignatureAlgorithm, type SignerIdentity,
  decodeMessage, encodeBody, encodeMessageWithContents, encode, MessageContents, messageSignatureInput, overlayHash, resourceDestination,
} from './codec/index.ts';
import { describeMessage } from './decode/describe.ts';
import { sipRegistrationStore } from './usage/sip/registration.ts';

/** The embedded default configuration: a new overlay, this device its first node. */
export const DEFAULT_CONFIG = {
  overlay: 'building.example',
  aor: 'door@building.example',
  registrationLifetimeS: 3600,
} as const;

export function previewFirstStore(config = DEFAULT_CONFIG): DecodedMessage {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  // Self-signed mode (§11.3.1): Node-ID = high-order bytes of a digest of the SPKI.
  const nodeId = new Uint8Array(createHash('sha256').update(spki).digest()).subarray(0, NODE_ID_BYTES);
  // The certificate comes with the overlay's security layer; until then the identity names
  // the hash of the public key it will certify.
  const identity: SignerIdentity = { type: 'cert_hash', hashAlg: HashAlgorithm.sha256, hash: new Uint8Array(createHash('sha256').update(spki).digest()) };
  const signer = (data: Uint8Array) => ({
    hashAlgorithm: HashAlgorithm.sha256,
    signatureAlgorithm: SignatureAlgorithm.ecdsa,
    value: new Uint8Array(sign('sha256', data, privateKey)),
  });
  const store = sipRegistrationStore({
    aor: config.aor, nodeId, lifetimeS: config.registrationLifetimeS, storageTimeMs: BigInt(Date.now()), identity, sign: signer,
  });
  const overlay = overlayHash(config.overlay);
  const transactionId = BigInt.asUintN(64, BigInt(`0x${createHash('sha1').update(nodeId).digest('hex').slice(0, 16)}`) ^ BigInt(Date.now()));
  const contents = encode(MessageContents, { code: MessageCode.store_req, body: encodeBody('store_req', store), extensions: [] });
  const bytes = encodeMessageWithContents(
    {
      overlay, configurationSequence: 0, ttl: 100, fragment: FRAGMENT_UNFRAGMENTED, length: 0, transactionId, maxResponseLength: 0,
      viaList: [], destinationList: [resourceDestination(store.resource)], options: [],
    },
    contents,
    { certificates: [], signature: { ...signer(messageSignatureInput(overlay, transactionId, contents, identity)), identity } },
  );
  return decodeMessage(bytes);
}

export function runPreview(print: (line: string) => void): void {
  print(`p2psip: overlay "${DEFAULT_CONFIG.overlay}", device ${DEFAULT_CONFIG.aor}`);
  print('p2psip: the overlay peer is not built yet; the registration this device will store:');
  print(JSON.stringify(describeMessage(previewFirstStore()), null, 2));
}
