// Find (RFC 6940 §7.4.4): for each Kind, the Resource-ID we hold data of that is closest to
// the requested one, going clockwise from it; empty when we hold none.
import { type FindAns, type FindReq, ringDistance } from '../../../codec/index.ts';
import type { StorageEnv } from '../storage-env.ts';

export function answerFind(env: StorageEnv, req: FindReq): { name: 'find_ans'; body: FindAns } {
  const results = req.kinds.map((kind) => {
    let closest: Uint8Array = new Uint8Array(0);
    let best: bigint | undefined;
    for (const r of env.store.all()) {
      // Only what we answer for: replicas belong to the peer responsible for them.
      const k = r.kinds.get(kind);
      if (!k || env.store.live(k).length === 0 || !env.topology.isResponsible(r.id)) continue;
      const d = ringDistance(req.resource, r.id);
      if (best === undefined || d < best) { best = d; closest = r.id; }
    }
    return { kind, closest };
  });
  return { name: 'find_ans', body: { results } };
}
