// Store (RFC 6940 §7.4.1): every check of §7.4.1.1 before anything is written, the replica
// plausibility check of §10.4, and the answer with the replica set.
import {
  type StoreAns, type StoreReq, Cursor, ErrorCode, HashAlgorithm, SignatureAlgorithm, idEquals, inRange, toHex, writeU8, writeU32,
} from '../../../codec/index.ts';
import { ReloadError } from '../../errors.ts';
import type { DataSigner, RequestContext } from '../../types.ts';
import { checkAccess } from '../access-control.ts';
import { REPLICAS } from '../constants.ts';
import type { KindWrite } from '../data-store.ts';
import type { StorageEnv } from '../storage-env.ts';

export function answerStore(env: StorageEnv, req: StoreReq, ctx: RequestContext): { name: 'store_ans'; body: StoreAns } {
  // §7.4.1.2: unknown Kinds fail the request; error_info lists them (KindId <0..2^8-1>).
  const unknown = req.kindData.map((k) => k.kind).filter((id) => !env.kinds.get(id));
  if (unknown.length) throw new ReloadError(ErrorCode.Error_Unknown_Kind, unknownKindsInfo(unknown));
  // §7.4.1.1: "The same Kind-ID MUST NOT be used twice in a given store request."
  if (new Set(req.kindData.map((k) => k.kind)).size !== req.kindData.length) {
    throw new ReloadError(ErrorCode.Error_Invalid_Message, 'a Kind-ID appears twice');
  }
  const replica = req.replicaNumber > 0;
  const sender = ctx.signer[0];
  if (!sender) throw new ReloadError(ErrorCode.Error_Forbidden, 'unsigned store');
  if (!replica && !env.topology.isResponsible(req.resource)) {
    // §7.4.1.1: "The peer MUST check that it is responsible for the resource if the replica
    // number is zero; if it is not, the peer must reject the request."
    throw new ReloadError(ErrorCode.Error_Forbidden, 'not responsible for this Resource-ID');
  }
  if (replica) checkReplicaSender(env, req.resource, sender);

  const bucket = ctx.message.security.certificates;
  const writes: KindWrite[] = req.kindData.map((k) => {
    const kind = env.kinds.get(k.kind)!;
    // §7.4.1.1: "Replica Stores MUST NOT use a generation counter of 0."
    if (replica && k.generation === 0n) throw new ReloadError(ErrorCode.Error_Invalid_Message, 'replica store with generation 0');
    const values = k.values.map((data) => {
      const s = data.signature;
      // §7.4.1.1: identity "none" or algorithm {0, 0} belongs to synthesized answers only.
      if (!s || s.identity.type === 'none' || (s.hashAlgorithm === HashAlgorithm.none && s.signatureAlgorithm === SignatureAlgorithm.anonymous)) {
        throw new ReloadError(ErrorCode.Error_Forbidden, 'unsigned stored data');
      }
      let signer: DataSigner;
      try {
        signer = env.security.verifyData(req.resource, k.kind, data, bucket);
      } catch (e) {
        throw new ReloadError(ErrorCode.Error_Forbidden, `stored data signature: ${(e as Error).message}`);
      }
      checkAccess(kind, req.resource, data.value, signer);
      // The usage's own rules (e.g. RFC 7904 §3.3). Replicas are checked too, and told they
      // are replicas: a holder of one answers for the value once it becomes responsible.
      env.kinds.storeCheck(k.kind)?.({ resource: req.resource, kind, value: data.value, signer, replica });
      // §7.3: in an original store the StoreReq's signer must conform to the policy too. We
      // ask for more: it must be the node that signed the data, which then conforms.
      if (!replica && !ctx.signer.some((id) => idEquals(id, signer.nodeId))) {
        throw new ReloadError(ErrorCode.Error_Forbidden, 'the request is not signed by the data\'s signer');
      }
      return { data, signer };
    });
    return { kind, generation: k.generation, values };
  });

  const generations = env.store.store(req.resource, writes, replica);
  if (env.topology.isResponsible(req.resource)) env.changed(req.resource);
  const replicas = replica ? [] : env.topology.successors().slice(0, REPLICAS).map((id) => id.slice());
  return { name: 'store_ans', body: { kindResponses: generations.map((g) => ({ kind: g.kind, generationCounter: g.generation, replicas })) } };
}

/**
 * §7.4.1.1: replica Stores "MUST come from nodes which are either in the known replica set
 * for a given resource or which are closer than some node in the replica set", and §10.4:
 * we check the resource is one we expect to hold. We accept a neighbour's replica of a
 * resource in the range of our REPLICAS nearest predecessors or our own; the handover
 * of §10.5 step 6 and §10.9 comes from our successor or predecessor and passes too.
 */
function checkReplicaSender(env: StorageEnv, resource: Uint8Array, sender: Uint8Array): void {
  const preds = env.topology.predecessors();
  const succs = env.topology.successors();
  const neighbour = [...preds, ...succs].some((id) => idEquals(id, sender));
  if (!neighbour) throw new ReloadError(ErrorCode.Error_Forbidden, `replica from ${toHex(sender).slice(0, 8)}, not a neighbour`);
  const farthest = preds[Math.min(REPLICAS, preds.length - 1)];
  if (preds.length > REPLICAS && farthest && !env.topology.isResponsible(resource) && !inRange(farthest, resource, env.security.nodeId)) {
    throw new ReloadError(ErrorCode.Error_Forbidden, 'not in the replica set of this Resource-ID');
  }
}

/** error_info of Error_Unknown_Kind: `KindId unknown_kinds<0..2^8-1>` (§7.4.1.2). */
export function unknownKindsInfo(kinds: number[]): Uint8Array {
  const list = kinds.slice(0, 63);
  const c = Cursor.alloc(1 + 4 * list.length);
  writeU8(c, 4 * list.length);
  for (const k of list) writeU32(c, k);
  return c.bytes;
}
