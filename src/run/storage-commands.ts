// Control commands for the overlay's data: `store` and `fetch` (RFC 6940 §7.4.1, §7.4.2),
// with resources named the way the access control policies want them (§7.3).
import {
  type ResourceId, type StoredDataSpecifier, type StoredDataValue, ARRAY_APPEND_INDEX, fromHex, resourceId, toHex,
} from '../codec/index.ts';
import { type DataClient, type KindDefinition, type KindRegistry, nodeMultipleName } from '../reload/storage/index.ts';
import type { MessageSecurity } from '../reload/types.ts';

export interface StorageCommandEnv {
  client: DataClient;
  kinds: KindRegistry;
  security: MessageSecurity;
}

export const STORE_USAGE = 'store <kind> <resource> <value|hex:..|-> [key=HEX] [index=N] [lifetime=S]';
export const FETCH_USAGE = 'fetch <kind> <resource> [key=HEX] [index=A-B]';

/**
 * A resource as the policies name it: `user` (our user name, USER-MATCH), `node` (our Node-ID,
 * NODE-MATCH), `node+I` (Node-ID ‖ i, NODE-MULTIPLE), `id:HEX` (a Resource-ID), else a name.
 */
export function resourceOf(spec: string, security: MessageSecurity): ResourceId {
  if (spec === 'user') return resourceId(security.userName);
  if (spec === 'node') return resourceId(security.nodeId);
  const multiple = /^node\+(\d+)$/.exec(spec);
  if (multiple) return resourceId(nodeMultipleName(security.nodeId, Number(multiple[1])));
  if (spec.startsWith('id:')) return fromHex(spec.slice(3));
  return resourceId(spec);
}

function kindOf(kinds: KindRegistry, spec: string | undefined): KindDefinition {
  const kind = spec === undefined ? undefined : /^\d+$/.test(spec) ? kinds.get(Number(spec)) : kinds.byName(spec);
  if (!kind) throw new Error(`unknown kind "${spec ?? ''}"; known: ${kinds.all().map((k) => k.name).join(', ')}`);
  return kind;
}

function options(args: string[]): Map<string, string> {
  return new Map(args.map((a) => {
    const at = a.indexOf('=');
    if (at < 0) throw new Error(`expected name=value, got "${a}"`);
    return [a.slice(0, at), a.slice(at + 1)];
  }));
}

export async function storeCommand(env: StorageCommandEnv, [kindName, resource, text, ...rest]: string[]): Promise<unknown> {
  if (!resource || text === undefined) throw new Error(`usage: ${STORE_USAGE}`);
  const kind = kindOf(env.kinds, kindName);
  const opts = options(rest);
  // "-" stores a nonexistent value: how RELOAD removes one (§7.4.1.3).
  const data = { exists: text !== '-', value: text === '-' ? new Uint8Array(0) : text.startsWith('hex:') ? fromHex(text.slice(4)) : new TextEncoder().encode(text) };
  let value: StoredDataValue;
  if (kind.model === 'dictionary') value = { model: 'dictionary', key: opts.has('key') ? fromHex(opts.get('key')!) : env.security.nodeId, value: data };
  else if (kind.model === 'array') value = { model: 'array', index: opts.has('index') ? Number(opts.get('index')) : ARRAY_APPEND_INDEX, value: data };
  else value = { model: 'single', value: data };
  const id = resourceOf(resource, env.security);
  const started = performance.now();
  const answer = await env.client.store(id, kind.id, [value], { lifetimeS: opts.has('lifetime') ? Number(opts.get('lifetime')) : undefined });
  const k = answer.kindResponses[0];
  return { resource: toHex(id), kind: kind.name, generation: k?.generationCounter, replicas: k?.replicas.map(toHex) ?? [], rttMs: elapsed(started) };
}

export async function fetchCommand(env: StorageCommandEnv, [kindName, resource, ...rest]: string[]): Promise<unknown> {
  if (!resource) throw new Error(`usage: ${FETCH_USAGE}`);
  const kind = kindOf(env.kinds, kindName);
  const opts = options(rest);
  let spec: StoredDataSpecifier;
  if (kind.model === 'dictionary') spec = { kind: kind.id, generation: 0n, model: 'dictionary', keys: opts.has('key') ? [fromHex(opts.get('key')!)] : [] };
  else if (kind.model === 'array') {
    const [first, last] = (opts.get('index') ?? '0-4294967295').split('-').map(Number);
    spec = { kind: kind.id, generation: 0n, model: 'array', indices: [{ first: first | 0, last: (last ?? first) | 0 }] };
  } else spec = { kind: kind.id, generation: 0n, model: 'single' };
  const id = resourceOf(resource, env.security);
  const started = performance.now();
  const [k] = await env.client.fetch(id, [spec]);
  return {
    resource: toHex(id), kind: kind.name, generation: k.generation, discarded: k.discarded, rttMs: elapsed(started),
    values: k.values.map(({ data, signer }) => {
      const v = data.value;
      if (v.model === 'unknown') return { raw: toHex(v.raw) };
      return {
        ...(v.model === 'array' ? { index: v.index } : v.model === 'dictionary' ? { key: toHex(v.key) } : {}),
        exists: v.value.exists, value: toHex(v.value.value), text: new TextDecoder().decode(v.value.value),
        storageTime: data.storageTime, lifetime: data.lifetime, signer: signer ? toHex(signer.nodeId) : null,
      };
    }),
  };
}

/** Milliseconds since `started`, to the microsecond: the benchmarks read it. */
function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 1000) / 1000;
}
