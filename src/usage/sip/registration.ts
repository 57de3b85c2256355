// Building the SIP-REGISTRATION Store of RFC 7904 §3: a dictionary entry keyed by this
// node's Node-ID, holding a route to this node, under the Resource-ID of the AOR.
import {
  type NodeId, type SignerIdentity, type Signature, type StoreReq, type StoredData, type StoredDataValue,
  KindId, SipRegistration, encode, nodeDestination, resourceId, storedDataSignatureInput,
} from '../../codec/index.ts';

export interface RegistrationInit {
  /** user@domain, without the sip: scheme (RFC 7904 §2). */
  aor: string;
  nodeId: NodeId;
  /** Registration expiry: the StoredData lifetime, seconds. */
  lifetimeS: number;
  storageTimeMs: bigint;
  /** RFC 3840 feature predicate, e.g. "(sip.schemes=SIP)". */
  contactPrefs?: string;
  identity: SignerIdentity;
  /** Signs the bytes of §7.1 and says with which algorithm. */
  sign(data: Uint8Array): Pick<Signature, 'hashAlgorithm' | 'signatureAlgorithm' | 'value'>;
}

/** The StoreReq that registers `aor` at this node (replica_number 0, generation 0). */
export function sipRegistrationStore(init: RegistrationInit): StoreReq {
  const resource = resourceId(init.aor);
  const registration = encode(SipRegistration, {
    type: 'route',
    contactPrefs: init.contactPrefs ?? '(sip.schemes=SIP)',
    destinationList: [nodeDestination(init.nodeId)],
  });
  const value: StoredDataValue = { model: 'dictionary', key: init.nodeId, value: { exists: true, value: registration } };
  const signed = init.sign(storedDataSignatureInput(resource, KindId.SIP_REGISTRATION, init.storageTimeMs, value, init.identity));
  const stored: StoredData = {
    storageTime: init.storageTimeMs,
    lifetime: init.lifetimeS,
    value,
    signature: { ...signed, identity: init.identity },
  };
  return { resource, replicaNumber: 0, kindData: [{ kind: KindId.SIP_REGISTRATION, generation: 0n, values: [stored] }] };
}
