// Message bodies by message code (RFC 6940 §6.3.3, §14.8), with CHORD-RELOAD (§10) as the
// topology plug-in: Update carries a ChordUpdate and RouteQueryAns a ChordRouteQueryAns.
import { MessageCode } from './codes.ts';
import { type Codec, decode, encode, InvalidEncoding } from './cursor.ts';
import { ChordRouteQueryAns, ChordUpdate } from './chord.ts';
import { BASE_DATA_MODELS } from './kinds.ts';
import type { DataModels } from './stored-data.ts';
import { AppAttach } from './bodies/app-attach.ts';
import { AttachReqAns } from './bodies/attach.ts';
import { ConfigUpdateReq } from './bodies/config-update.ts';
import { ErrorResponse } from './bodies/error.ts';
import { type FetchAns, type FetchReq, fetchAns, fetchReq } from './bodies/fetch.ts';
import { FindAns, FindReq } from './bodies/find.ts';
import { PingAns, PingReq } from './bodies/ping.ts';
import { ProbeAns, ProbeReq } from './bodies/probe.ts';
import { type StatAns, statAns } from './bodies/stat.ts';
import { type StoreReq, StoreAns, storeReq } from './bodies/store.ts';
import { Empty, JoinAns, JoinReq, LeaveReq, RouteQueryReq } from './bodies/topology.ts';

/** The body structure of each method this node speaks. */
export interface Bodies {
  probe_req: ProbeReq; probe_ans: ProbeAns;
  attach_req: AttachReqAns; attach_ans: AttachReqAns;
  store_req: StoreReq; store_ans: StoreAns;
  fetch_req: FetchReq; fetch_ans: FetchAns;
  find_req: FindReq; find_ans: FindAns;
  join_req: JoinReq; join_ans: JoinAns;
  leave_req: LeaveReq; leave_ans: EmptyBody;
  update_req: ChordUpdate; update_ans: EmptyBody;
  route_query_req: RouteQueryReq; route_query_ans: ChordRouteQueryAns;
  ping_req: PingReq; ping_ans: PingAns;
  stat_req: FetchReq; stat_ans: StatAns;
  app_attach_req: AppAttach; app_attach_ans: AppAttach;
  config_update_req: ConfigUpdateReq; config_update_ans: EmptyBody;
  error: ErrorResponse;
}
export type BodyName = keyof Bodies;
type EmptyBody = Record<string, never>;
type BodyCodecs = { [K in BodyName]: Codec<Bodies[K]> };

export interface BodyContext {
  /** Data model by Kind-ID: the base kinds plus those of the overlay configuration. */
  models: DataModels;
}

const cache = new WeakMap<DataModels, BodyCodecs>();

/** The codec of every body, built once per set of kind definitions. */
export function bodyCodecs(models: DataModels = BASE_DATA_MODELS): BodyCodecs {
  let codecs = cache.get(models);
  if (codecs) return codecs;
  const fetch = fetchReq(models);
  codecs = {
    probe_req: ProbeReq, probe_ans: ProbeAns,
    attach_req: AttachReqAns, attach_ans: AttachReqAns,
    store_req: storeReq(models), store_ans: StoreAns,
    fetch_req: fetch, fetch_ans: fetchAns(models),
    find_req: FindReq, find_ans: FindAns,
    join_req: JoinReq, join_ans: JoinAns,
    leave_req: LeaveReq, leave_ans: Empty,
    update_req: ChordUpdate, update_ans: Empty,
    route_query_req: RouteQueryReq, route_query_ans: ChordRouteQueryAns,
    ping_req: PingReq, ping_ans: PingAns,
    stat_req: fetch, stat_ans: statAns(models),
    app_attach_req: AppAttach, app_attach_ans: AppAttach,
    config_update_req: ConfigUpdateReq, config_update_ans: Empty,
    error: ErrorResponse,
  };
  cache.set(models, codecs);
  return codecs;
}

const NAME_BY_CODE = new Map<number, BodyName>();
for (const [name, code] of Object.entries(MessageCode)) {
  if (name in bodyCodecs()) NAME_BY_CODE.set(code, name as BodyName);
}

/** The body name of a message code this node can parse, or undefined. */
export function bodyNameOf(code: number): BodyName | undefined {
  return NAME_BY_CODE.get(code);
}

export function encodeBody<K extends BodyName>(name: K, body: Bodies[K], models?: DataModels): Uint8Array {
  return encode(bodyCodecs(models)[name] as Codec<Bodies[K]>, body);
}

export function decodeBodyAs<K extends BodyName>(name: K, bytes: Uint8Array, models?: DataModels): Bodies[K] {
  return decode(bodyCodecs(models)[name] as Codec<Bodies[K]>, bytes, name);
}

/** Decodes a body by its message code; unknown codes are an `unknown_type` error. */
export function decodeBody(code: number, bytes: Uint8Array, models?: DataModels): { name: BodyName; body: Bodies[BodyName] } {
  const name = NAME_BY_CODE.get(code);
  if (name === undefined) {
    const known = Object.entries(MessageCode).find(([, v]) => v === code)?.[0];
    throw new InvalidEncoding('message_code', 'unknown_type', known ? `${known} has no body structure here` : `0x${code.toString(16)}`);
  }
  return { name, body: decodeBodyAs(name, bytes, models) };
}
