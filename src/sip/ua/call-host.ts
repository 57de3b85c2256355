// What the parts of the user agent share: the Locator that finds call targets, the methods
// we allow, and the services of the agent a call module (outgoing forking, answering) uses.
import type { Dialog } from '../core/dialog.ts';
import type { SipDestination, SipTransportName } from '../core/transport.ts';
import type { Call, EndReason, Fork } from './call.ts';

/** Methods we answer (RFC 3261 §20.5 Allow). */
export const ALLOWED_METHODS = 'INVITE, ACK, BYE, CANCEL, OPTIONS, INFO';

/** Finds where a call target can be reached: an overlay AOR, a GRUU, or a plain SIP URI. */
export interface Locator {
  /** `progress` hears each step (a lookup, a connection) for the call's timeline. */
  locate(target: string, progress?: (event: string) => void): Promise<Fork[]>;
}

export type CallEvent = 'ringing' | 'incoming' | 'answered' | 'ended' | 'dtmf';

/** `bob@example.com` → `sip:bob@example.com`; a URI with a scheme is kept. */
export function toSipUri(target: string): string {
  return /^(sips?|tel):/i.test(target) ? target : `sip:${target}`;
}

/** The user agent as its call modules see it. */
export interface CallHost {
  readonly aor: string;
  /** Calls by dialog ID (Call-ID, local tag, remote tag). */
  readonly dialogs: Map<string, Call>;
  contactFor(transport: SipTransportName): string;
  emit(call: Call, event: CallEvent, detail?: string): void;
  dtmfReceived(call: Call, digit: string, how: 'rfc4733' | 'info'): void;
  inDialogDestination(dialog: Dialog, fallback: SipDestination): SipDestination;
  sendBye(call: Call): void;
  end(call: Call, reason: EndReason): void;
  /** A timer owned by the call, cleared when it ends. */
  timer(call: Call, ms: number, fire: () => void): void;
}
