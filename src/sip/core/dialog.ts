// Dialogs (RFC 3261 §12): the peer-to-peer relationship an INVITE's 2xx (or 1xx with a To
// tag) sets up, and the requests sent within it.
import { randomBytes } from 'node:crypto';
import { type SipRequest, type SipResponse, SipHeaders } from './message.ts';
import { formatNameAddr, parseCSeq, parseNameAddr } from './uri.ts';

export function newTag(): string {
  return randomBytes(6).toString('hex');
}

export function newCallId(host: string): string {
  return `${randomBytes(10).toString('hex')}@${host}`;
}

export function tagOf(nameAddr: string | undefined): string | undefined {
  if (!nameAddr) return undefined;
  try {
    return parseNameAddr(nameAddr).params.get('tag') ?? undefined;
  } catch {
    return undefined;
  }
}

export interface DialogInit {
  callId: string;
  localTag: string;
  remoteTag: string;
  /** Our From (UAC) or To (UAS) header value without its tag. */
  localUri: string;
  remoteUri: string;
  /** The peer's Contact URI: where requests in the dialog go (§12.1.1, §12.1.2). */
  remoteTarget: string;
  /** Record-Route URIs in the order our requests must visit them. */
  routeSet: string[];
  localSeq: number;
  remoteSeq: number | undefined;
  secure: boolean;
}

export type DialogState = 'early' | 'confirmed' | 'terminated';

export class Dialog {
  state: DialogState;
  readonly callId: string;
  readonly localTag: string;
  readonly remoteTag: string;
  readonly localUri: string;
  readonly remoteUri: string;
  remoteTarget: string;
  readonly routeSet: string[];
  localSeq: number;
  remoteSeq: number | undefined;
  readonly secure: boolean;

  constructor(init: DialogInit, state: DialogState) {
    this.callId = init.callId;
    this.localTag = init.localTag;
    this.remoteTag = init.remoteTag;
    this.localUri = init.localUri;
    this.remoteUri = init.remoteUri;
    this.remoteTarget = init.remoteTarget;
    this.routeSet = init.routeSet;
    this.localSeq = init.localSeq;
    this.remoteSeq = init.remoteSeq;
    this.secure = init.secure;
    this.state = state;
  }

  get id(): string {
    return dialogId(this.callId, this.localTag, this.remoteTag);
  }

  /**
   * §12.1.2: the UAC's dialog from a response with a To tag: route set from Record-Route in
   * reverse order, remote target from Contact, local sequence from the INVITE's CSeq.
   */
  static asUac(invite: SipRequest, response: SipResponse): Dialog | undefined {
    const remoteTag = tagOf(response.headers.get('To'));
    const localTag = tagOf(invite.headers.get('From'));
    const contact = response.headers.get('Contact');
    if (!remoteTag || !localTag) return undefined;
    return new Dialog({
      callId: invite.headers.get('Call-ID') ?? '',
      localTag, remoteTag,
      localUri: withoutTag(invite.headers.get('From') ?? ''),
      remoteUri: withoutTag(response.headers.get('To') ?? ''),
      remoteTarget: contact ? uriOf(contact) : invite.uri,
      routeSet: response.headers.all('Record-Route').map(uriOf).reverse(),
      localSeq: parseCSeq(invite.headers.get('CSeq') ?? '1 INVITE').seq,
      remoteSeq: undefined,
      secure: invite.uri.toLowerCase().startsWith('sips:'),
    }, response.status < 200 ? 'early' : 'confirmed');
  }

  /**
   * §12.1.1: the UAS's dialog from the INVITE it answers: route set from Record-Route in order,
   * remote target from Contact, remote sequence from CSeq.
   */
  static asUas(invite: SipRequest, localTag: string, state: DialogState): Dialog {
    const contact = invite.headers.get('Contact');
    return new Dialog({
      callId: invite.headers.get('Call-ID') ?? '',
      localTag,
      remoteTag: tagOf(invite.headers.get('From')) ?? '',
      localUri: withoutTag(invite.headers.get('To') ?? ''),
      remoteUri: withoutTag(invite.headers.get('From') ?? ''),
      remoteTarget: contact ? uriOf(contact) : '',
      routeSet: invite.headers.all('Record-Route').map(uriOf),
      // §12.2.2 "the local sequence number … MUST be set to a random value" is not required;
      // starting low keeps traces readable.
      localSeq: 0,
      remoteSeq: parseCSeq(invite.headers.get('CSeq') ?? '0 INVITE').seq,
      secure: invite.uri.toLowerCase().startsWith('sips:'),
    }, state);
  }

  /**
   * §12.2.1.1: a request within the dialog. With an empty route set or a loose-routing first
   * hop (`;lr`) the Request-URI is the remote target and every route becomes a Route header;
   * with a strict router first, the Request-URI is that router and the remote target goes last.
   */
  request(method: string, body?: { type: string; bytes: Uint8Array }, cseq?: number): SipRequest {
    if (cseq === undefined && method !== 'ACK' && method !== 'CANCEL') this.localSeq++;
    const headers = new SipHeaders();
    let uri = this.remoteTarget;
    const routes = [...this.routeSet];
    if (routes.length > 0 && !/;\s*lr\b/i.test(routes[0])) {
      uri = routes.shift()!.replace(/;.*$/, '');
      routes.push(this.remoteTarget);
    }
    for (const r of routes) headers.add('Route', `<${r}>`);
    headers.add('Max-Forwards', '70');
    headers.add('From', `${this.localUri};tag=${this.localTag}`);
    headers.add('To', `${this.remoteUri};tag=${this.remoteTag}`);
    headers.add('Call-ID', this.callId);
    headers.add('CSeq', `${cseq ?? this.localSeq} ${method}`);
    if (body) headers.add('Content-Type', body.type);
    return { type: 'request', method, uri, headers, body: body?.bytes ?? new Uint8Array(0) };
  }

  /** §12.2.2: a request whose CSeq is lower than the remote sequence is out of order (500). */
  acceptsRemoteSeq(seq: number, method: string): boolean {
    if (method === 'ACK' || method === 'CANCEL') return true;
    if (this.remoteSeq !== undefined && seq <= this.remoteSeq) return false;
    this.remoteSeq = seq;
    return true;
  }
}

export function dialogId(callId: string, localTag: string, remoteTag: string): string {
  return `${callId}\u0000${localTag}\u0000${remoteTag}`;
}

/** The URI inside a name-addr or addr-spec header value. */
export function uriOf(value: string): string {
  try {
    return parseNameAddr(value).uri;
  } catch {
    return value.replace(/^.*<|>.*$/g, '').trim();
  }
}

function withoutTag(value: string): string {
  try {
    const na = parseNameAddr(value);
    na.params.delete('tag');
    return formatNameAddr(na);
  } catch {
    return value.replace(/;\s*tag=[^;]*/i, '');
  }
}
