// Access control policies (RFC 6940 §7.3): who may write a value of a Kind at a Resource-ID.
// "Hashes to the Resource-ID" uses the overlay's hash, for CHORD-RELOAD the 128-bit SHA-1
// prefix of resourceId() (§10.2).
import { type NodeId, type ResourceId, type StoredDataValue, ErrorCode, idEquals, resourceId } from '../../codec/index.ts';
import { ReloadError } from '../errors.ts';
import type { DataSigner } from '../types.ts';
import { DEFAULT_MAX_NODE_MULTIPLE } from './constants.ts';
import type { KindDefinition } from './kind.ts';

/**
 * The Resource Name of NODE-MULTIPLE entry i: Node-ID ‖ i.
 * [AMBIG] §7.3.4 and §9 do not give the width of i. We write one byte: TURN-SERVICE's
 * TurnServer.iteration, which carries the same d, is a uint8, and so is turn-density in
 * the configuration grammar (xsd:unsignedByte, §11.1.1).
 */
export function nodeMultipleName(nodeId: NodeId, i: number): Uint8Array {
  if (!Number.isInteger(i) || i < 0 || i > 255) throw new RangeError(`NODE-MULTIPLE index ${i}`);
  const name = new Uint8Array(nodeId.length + 1);
  name.set(nodeId);
  name[nodeId.length] = i;
  return name;
}

/** Throws Error_Forbidden unless `signer` may write `value` of `kind` at `resource`. */
export function checkAccess(kind: KindDefinition, resource: ResourceId, value: StoredDataValue, signer: DataSigner): void {
  const forbid = (why: string): never => {
    throw new ReloadError(ErrorCode.Error_Forbidden, `${kind.accessControl}: ${why}`);
  };
  const userMatches = (): boolean => signer.userName !== undefined && idEquals(resourceId(signer.userName), resource);
  switch (kind.accessControl) {
    // §7.3.1: "the signer's certificate has a user name which hashes ... to the Resource-ID".
    case 'USER-MATCH':
      if (!userMatches()) forbid('the signer\'s user name does not hash to the Resource-ID');
      return;
    // §7.3.2: the Node-ID named by the signer identity hashes to the Resource-ID.
    case 'NODE-MATCH':
      if (!idEquals(resourceId(signer.nodeId), resource)) forbid('the signer\'s Node-ID does not hash to the Resource-ID');
      return;
    // §7.3.3: dictionary only; user name hashes to the Resource-ID and the key is the Node-ID.
    case 'USER-NODE-MATCH':
      if (value.model !== 'dictionary') return forbid('not a dictionary entry');
      if (!userMatches()) forbid('the signer\'s user name does not hash to the Resource-ID');
      if (!idEquals(value.key, signer.nodeId)) forbid('the dictionary key is not the signer\'s Node-ID');
      return;
    // §7.3.4: H(Node-ID ‖ i) == Resource-ID for some i up to max-node-multiple.
    case 'NODE-MULTIPLE': {
      const max = kind.maxNodeMultiple ?? DEFAULT_MAX_NODE_MULTIPLE;
      for (let i = 0; i <= Math.min(max, 255); i++) if (idEquals(resourceId(nodeMultipleName(signer.nodeId, i)), resource)) return;
      forbid(`no i <= ${max} with H(Node-ID ‖ i) equal to the Resource-ID`);
    }
  }
}
