// Benchmarks (not tests): one JSON object per line,
//   {"bench":..., "metric":..., "value":..., "unit":..., "n":...}
import { createHash, generateKeyPairSync, sign, verify } from 'node:crypto';
import {
  type ForwardingHeader, type SecurityBlock, type SignerIdentity, Cursor, FRAGMENT_UNFRAGMENTED, HashAlgorithm, MessageCode, SignatureAlgorithm,
  SipRegistration, decode, decodeBodyAs, decodeForwardingHeader, decodeMessage, encodeBody, encodeMessage, nodeDestination,
  overlayHash, resourceDestination,
} from '../src/codec/index.ts';
import { sipRegistrationStore } from '../src/usage/sip/registration.ts';

function report(bench: string, metric: string, value: number, unit: string, n: number): void {
  process.stdout.write(`${JSON.stringify({ bench, metric, value: Math.round(value), unit, n })}\n`);
}

/** Runs `fn` `n` times after a warm-up and returns operations per second. */
function rate(n: number, fn: () => void): number {
  for (let i = 0; i < Math.min(n, 20000); i++) fn();
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return n / (Number(process.hrtime.bigint() - start) / 1e9);
}

// A device's real key and its SIP registration Store, signed once.
const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const spki = publicKey.export({ type: 'spki', format: 'der' });
const nodeId = new Uint8Array(createHash('sha256').update(spki).digest()).subarray(0, 16);
const identity: SignerIdentity = { type: 'cert_hash', hashAlg: HashAlgorithm.sha256, hash: new Uint8Array(createHash('sha256').update(spki).digest()) };
const signer = (data: Uint8Array) => ({
  hashAlgorithm: HashAlgorithm.sha256, signatureAlgorithm: SignatureAlgorithm.ecdsa, value: new Uint8Array(sign('sha256', data, privateKey)),
});
const store = sipRegistrationStore({ aor: '3b@building.example', nodeId, lifetimeS: 3600, storageTimeMs: 1700000000000n, identity, sign: signer });
const overlay = overlayHash('building.example');
const header: ForwardingHeader = {
  overlay, configurationSequence: 1, ttl: 100, fragment: FRAGMENT_UNFRAGMENTED, length: 0, transactionId: 0x0102030405060708n,
  maxResponseLength: 0, viaList: [nodeDestination(nodeId)], destinationList: [resourceDestination(store.resource)], options: [],
};
const security: SecurityBlock = { certificates: [], signature: { ...signer(new Uint8Array(8)), identity } };
const message = { header, contents: { code: MessageCode.store_req, body: encodeBody('store_req', store), extensions: [] }, security };
const wire = encodeMessage(message);

const N_HEADER = 2_000_000;
report('forwarding_header_decode', 'ops_per_s', rate(N_HEADER, () => decodeForwardingHeader(new Cursor(wire))), 'ops/s', N_HEADER);

// Encode the Store from its values (body, contents, header, security block), then decode it
// back down to the SipRegistration inside the stored dictionary entry.
const N_STORE = 300_000;
report('signed_store_sip_registration_encode_decode', 'ops_per_s', rate(N_STORE, () => {
  const bytes = encodeMessage({ header, contents: { code: MessageCode.store_req, body: encodeBody('store_req', store), extensions: [] }, security });
  const m = decodeMessage(bytes);
  const s = decodeBodyAs('store_req', m.contents.body);
  const v = s.kindData[0].values[0].value;
  if (v.model !== 'dictionary') throw new Error('unexpected model');
  decode(SipRegistration, v.value.value);
}), 'ops/s', N_STORE);

report('signed_store_bytes', 'size', wire.length, 'bytes', 1);

// For scale: the ECDSA P-256 work a real Store costs on top of the codec.
const N_SIGN = 2_000;
report('ecdsa_p256_sign', 'ops_per_s', rate(N_SIGN, () => sign('sha256', wire, privateKey)), 'ops/s', N_SIGN);
const sig = sign('sha256', wire, privateKey);
report('ecdsa_p256_verify', 'ops_per_s', rate(N_SIGN, () => verify('sha256', wire, publicKey, sig)), 'ops/s', N_SIGN);
