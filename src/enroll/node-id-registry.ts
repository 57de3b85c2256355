// Which Node-IDs each user holds (RFC 6940 §11.3): "The enrollment server SHOULD maintain a
// mapping of users to Node-IDs and if the same user returns ... return the same Node-IDs".
// Node-IDs are cryptographically random (RFC 4086) and chosen only after authentication.
// Kept as { "version": 1, "nodeIds": { "<user>": ["<32 hex>", ...] } }, rewritten atomically
// only when a user gets a Node-ID they did not have.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { type NodeId, NODE_ID_BYTES, fromHex, toHex } from '../codec/index.ts';
import { writeFileAtomic } from '../reload/security/index.ts';
import { ENROLLMENT_MAX_NODE_IDS, PUBLIC_FILE_MODE } from './constants.ts';

interface NodeIdsFile {
  version: 1;
  nodeIds: Record<string, string[]>;
}

export interface NodeIdRegistryInit {
  /** Most Node-IDs one user may hold; default ENROLLMENT_MAX_NODE_IDS (8). */
  maxPerUser?: number;
}

export class NodeIdRegistry {
  private readonly maxPerUser: number;
  private file: NodeIdsFile = { version: 1, nodeIds: {} };
  private readonly taken = new Set<string>();
  /** Assignments run one after another, so two requests of one user never race. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(private readonly path: string, init: NodeIdRegistryInit) {
    this.maxPerUser = init.maxPerUser ?? ENROLLMENT_MAX_NODE_IDS;
  }

  static async open(path: string, init: NodeIdRegistryInit = {}): Promise<NodeIdRegistry> {
    const r = new NodeIdRegistry(path, init);
    let text: string | undefined;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      if ((e as { code?: string }).code !== 'ENOENT') throw e;
    }
    if (text !== undefined) {
      const v = JSON.parse(text) as Partial<NodeIdsFile>;
      if (v?.version !== 1 || typeof v.nodeIds !== 'object' || v.nodeIds === null) throw new Error(`${path}: not a version 1 Node-ID file`);
      for (const [user, ids] of Object.entries(v.nodeIds)) {
        if (!Array.isArray(ids) || ids.some((h) => typeof h !== 'string' || !/^[0-9a-f]+$/.test(h) || h.length !== 2 * NODE_ID_BYTES)) {
          throw new Error(`${path}: bad Node-IDs of ${user}`);
        }
        for (const h of ids) r.taken.add(h);
      }
      r.file = v as NodeIdsFile;
    }
    return r;
  }

  /** Largest `count` that `assign` accepts. */
  get limit(): number {
    return this.maxPerUser;
  }

  /** The Node-IDs `user` already holds, without assigning any. */
  held(user: string): NodeId[] {
    return (Object.hasOwn(this.file.nodeIds, user) ? this.file.nodeIds[user] : []).map(fromHex);
  }

  /**
   * The user's first `count` Node-IDs, new random ones added (and persisted before this
   * resolves) when the user holds fewer. Throws a RangeError for a count over the limit.
   */
  assign(user: string, count: number): Promise<NodeId[]> {
    if (!Number.isInteger(count) || count < 1 || count > this.maxPerUser) return Promise.reject(new RangeError(`${count} Node-IDs requested, 1..${this.maxPerUser} allowed`));
    const run = this.queue.then(() => this.assignNow(user, count));
    this.queue = run.catch(() => {});
    return run;
  }

  private async assignNow(user: string, count: number): Promise<NodeId[]> {
    const held = Object.hasOwn(this.file.nodeIds, user) ? this.file.nodeIds[user] : [];
    if (held.length < count) {
      const added: string[] = [];
      while (held.length + added.length < count) {
        const hex = toHex(randomBytes(NODE_ID_BYTES));
        // 128 random bits do not collide in practice; a collision would give two users one ring place.
        if (!this.taken.has(hex) && !added.includes(hex)) added.push(hex);
      }
      const next: NodeIdsFile = { version: 1, nodeIds: { ...this.file.nodeIds, [user]: [...held, ...added] } };
      await writeFileAtomic(this.path, `${JSON.stringify(next, null, 2)}\n`, { mode: PUBLIC_FILE_MODE, overwrite: true });
      this.file = next;
      for (const h of added) this.taken.add(h);
    }
    return this.file.nodeIds[user].slice(0, count).map(fromHex);
  }
}
