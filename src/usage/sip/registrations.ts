// This device's registrations (RFC 7904 §3): for each of its AORs one SIP-REGISTRATION
// dictionary entry keyed by its own Node-ID, either a route to it or a forwarding uri. The
// StoredData lifetime is the registration's expiry (§3.1), so each entry is stored again
// before it runs out; a failed Store is retried with backoff, and its error kept for status.
// Several devices of one AOR need nothing from each other: their keys differ (§3.2).
import {
  type Destination, ErrorCode, KindId, SipRegistration, encode, nodeDestination, resourceId,
} from '../../codec/index.ts';
import type { OverlayConfiguration } from '../../reload/config/index.ts';
import { ReloadError } from '../../reload/errors.ts';
import type { DataClient } from '../../reload/storage/index.ts';
import type { MessageSecurity } from '../../reload/types.ts';
import type { Clock, TimerHandle } from '../../util/clock.ts';
import type { Logger } from '../../util/log.ts';
import { AdmissibleDomains } from './admissible-domains.ts';
import { aorOf, parseAorAddress } from './aor.ts';
import {
  DEFAULT_CONTACT_PREFS, MAX_REGISTERED_AORS, REGISTRATION_LIFETIME_S, REGISTRATION_REFRESH_FRACTION, REGISTRATION_RETRY_JITTER,
  REGISTRATION_RETRY_MAX_MS, REGISTRATION_RETRY_MIN_MS,
} from './constants.ts';
import { destinationListProblem, gruuParameter, isGruu, parseGruu } from './gruu.ts';

export interface AorRegistrationsComponents {
  clock: Clock;
  log: Logger;
  /** Stores our entries (RFC 6940 §7.4.1). */
  data: Pick<DataClient, 'store'>;
  /** Our Node-ID, the dictionary key (§7), and our certificate's user name, the only AOR USER-NODE-MATCH lets us write. */
  security: Pick<MessageSecurity, 'nodeId' | 'userName'>;
  /** The overlay configuration in force, for the storer's own domain check (§3.3 SHOULD). */
  configuration(): OverlayConfiguration;
  /** Uniform numbers in [0, 1) for retry jitter; default Math.random. */
  random?: () => number;
}

export interface AorRegistrationsInit {
  /** Lifetime of an entry, s; default REGISTRATION_LIFETIME_S (600). */
  lifetimeS?: number;
  /** Fraction of the lifetime after which an entry is stored again; default REGISTRATION_REFRESH_FRACTION (0.8). */
  refreshFraction?: number;
  /** First retry wait, ms, doubling per failure; default REGISTRATION_RETRY_MIN_MS (1 s). */
  retryMinMs?: number;
  /** Longest retry wait, ms; default REGISTRATION_RETRY_MAX_MS (5 min). */
  retryMaxMs?: number;
  /** AORs held at most; default MAX_REGISTERED_AORS (8). */
  maxAors?: number;
  /** Hears every state change; never called after close(). */
  onChange?: (status: AorRegistrationStatus) => void;
}

export interface RegisterOptions {
  /** RFC 3840 contact preferences (§3.2); default DEFAULT_CONTACT_PREFS, "(sip.schemes=SIP)". */
  contactPrefs?: string;
  /** Lifetime, s; default the instance's. */
  lifetimeS?: number;
  /** Where callers connect; default this node alone, the trivial destination list (§3.1). */
  destinationList?: Destination[];
}

export type AorRegistrationState =
  /** Known, not yet stored. */
  | 'new'
  /** A Store is in flight. */
  | 'storing'
  /** Stored; a refresh is scheduled before it expires. */
  | 'registered'
  /** The last Store failed; another is scheduled after a backoff. */
  | 'retrying'
  /** remove() is storing the nonexistent value. */
  | 'removing'
  /** Terminal. */
  | 'removed';

const EDGES: Record<AorRegistrationState, readonly AorRegistrationState[]> = {
  new: ['storing', 'removing'],
  storing: ['registered', 'retrying', 'removing'],
  registered: ['storing', 'removing'],
  retrying: ['storing', 'removing'],
  removing: ['removed'],
  removed: [],
};

export interface AorRegistrationStatus {
  aor: string;
  /** A route to us, or forwarding to another AOR or a GRUU (§3.1). */
  entry: 'route' | 'uri';
  /** The forwarding target, or the destination list as a GRUU parameter. */
  target: string;
  state: AorRegistrationState;
  lifetimeS: number;
  /** Until the last stored entry lapses, ms; undefined when none was stored. */
  expiresInMs: number | undefined;
  /** Until the next Store, ms; undefined when none is scheduled. */
  nextAttemptInMs: number | undefined;
  /** Failed Stores since the last success. */
  failures: number;
  /** The last failure; `code` is the RELOAD error code when the overlay answered with one. */
  lastError: { message: string; code: number | undefined } | undefined;
}

export type AorRegistrationErrorReason =
  /** The AOR is not our certificate's user name: USER-NODE-MATCH would refuse every Store (§3.3). */
  | 'not_our_aor'
  | 'too_many_aors'
  | 'bad_target'
  | 'bad_lifetime'
  | 'closed';

export class AorRegistrationError extends Error {
  override readonly name = 'AorRegistrationError';
  constructor(readonly reason: AorRegistrationErrorReason, message: string) {
    super(`${reason}: ${message}`);
  }
}

interface Registration {
  aor: string;
  value: SipRegistration;
  lifetimeS: number;
  state: AorRegistrationState;
  expiresAtMs: number | undefined;
  nextAttemptAtMs: number | undefined;
  failures: number;
  lastError: AorRegistrationStatus['lastError'];
  timer: TimerHandle | undefined;
  /** Stores of this AOR run one after another, in the order asked. */
  chain: Promise<void>;
}

export class AorRegistrations {
  private readonly entries = new Map<string, Registration>();
  private readonly lifetimeS: number;
  private readonly refreshFraction: number;
  private readonly retryMinMs: number;
  private readonly retryMaxMs: number;
  private readonly maxAors: number;
  private readonly random: () => number;
  private closed = false;

  constructor(private readonly components: AorRegistrationsComponents, private readonly init: AorRegistrationsInit = {}) {
    this.lifetimeS = checkLifetime(init.lifetimeS ?? REGISTRATION_LIFETIME_S);
    this.refreshFraction = init.refreshFraction ?? REGISTRATION_REFRESH_FRACTION;
    if (!(this.refreshFraction > 0 && this.refreshFraction < 1)) throw new RangeError(`refreshFraction ${this.refreshFraction} is not in (0, 1)`);
    this.retryMinMs = init.retryMinMs ?? REGISTRATION_RETRY_MIN_MS;
    this.retryMaxMs = Math.max(this.retryMinMs, init.retryMaxMs ?? REGISTRATION_RETRY_MAX_MS);
    this.maxAors = init.maxAors ?? MAX_REGISTERED_AORS;
    this.random = components.random ?? Math.random;
  }

  /**
   * Registers `aor` with a route entry (§3.1) and keeps it stored until remove() or close().
   * Resolves after the first Store with the status: `registered`, or `retrying` with the
   * error. Rejects (AorError, AorRegistrationError) only for what no retry could fix.
   */
  async register(aor: string, options: RegisterOptions = {}): Promise<AorRegistrationStatus> {
    const destinationList = options.destinationList ?? [nodeDestination(this.components.security.nodeId)];
    const problem = destinationListProblem(destinationList);
    if (problem) throw new AorRegistrationError('bad_target', problem);
    return this.put(aor, { type: 'route', contactPrefs: options.contactPrefs ?? DEFAULT_CONTACT_PREFS, destinationList }, options.lifetimeS);
  }

  /**
   * Forwards `aor` to `toAor`, another AOR or a GRUU (§3.1: "in order to contact me,
   * dereference this AOR"), replacing this device's route entry for `aor`.
   */
  async forward(aor: string, toAor: string, options: { lifetimeS?: number } = {}): Promise<AorRegistrationStatus> {
    let uri: string;
    try {
      if (isGruu(toAor)) {
        parseGruu(toAor);
        uri = toAor;
      } else {
        uri = aorOf(toAor);
      }
    } catch (e) {
      throw new AorRegistrationError('bad_target', (e as Error).message);
    }
    if (uri === aorOf(aor)) throw new AorRegistrationError('bad_target', `${uri} forwarded to itself`);
    return this.put(aor, { type: 'uri', uri }, options.lifetimeS);
  }

  /**
   * Removes our entry for `aor`: RFC 6940 §7.4.1.3, "values are Removed by storing
   * 'nonexistent' values in their place", with a lifetime "at least as long as the remainder
   * of the lifetime of the value it is replacing". An AOR not held here is removed all the
   * same, e.g. an entry left by this device before a restart. Rejects if the Store fails.
   */
  async remove(aor: string): Promise<void> {
    if (this.closed) throw new AorRegistrationError('closed', 'closed');
    const name = this.ownAor(aor);
    const entry = this.entries.get(name);
    let lifetimeS = this.lifetimeS;
    if (entry) {
      this.entries.delete(name);
      this.components.clock.clearTimeout(entry.timer);
      entry.nextAttemptAtMs = undefined;
      this.transition(entry, 'removing');
      await entry.chain;
      const left = entry.expiresAtMs === undefined ? 0 : Math.ceil((entry.expiresAtMs - this.components.clock.now()) / 1000);
      lifetimeS = Math.max(lifetimeS, entry.lifetimeS, left);
    }
    const { nodeId } = this.components.security;
    await this.components.data.store(resourceId(name), KindId.SIP_REGISTRATION, [
      { model: 'dictionary', key: nodeId, value: { exists: false, value: new Uint8Array(0) } },
    ], { lifetimeS });
    if (entry) {
      entry.expiresAtMs = undefined;
      this.transition(entry, 'removed');
    }
  }

  status(): AorRegistrationStatus[] {
    return [...this.entries.values()].map((e) => this.statusOf(e));
  }

  /** Stops refreshing; entries stay stored until they expire. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const e of this.entries.values()) this.components.clock.clearTimeout(e.timer);
    this.entries.clear();
  }

  private put(aor: string, value: SipRegistration, lifetime: number | undefined): Promise<AorRegistrationStatus> {
    if (this.closed) throw new AorRegistrationError('closed', 'closed');
    const name = this.ownAor(aor);
    const lifetimeS = checkLifetime(lifetime ?? this.lifetimeS);
    let entry = this.entries.get(name);
    if (!entry) {
      if (this.entries.size >= this.maxAors) throw new AorRegistrationError('too_many_aors', `${this.maxAors} AORs registered already`);
      entry = {
        aor: name, value, lifetimeS, state: 'new', expiresAtMs: undefined, nextAttemptAtMs: undefined, failures: 0, lastError: undefined,
        timer: undefined, chain: Promise.resolve(),
      };
      this.entries.set(name, entry);
    }
    entry.value = value;
    entry.lifetimeS = lifetimeS;
    const e = entry;
    return this.enqueue(e).then(() => this.statusOf(e));
  }

  /** The AOR as stored, refused unless it is our certificate's user name (§3.3, RFC 6940 §7.3.3). */
  private ownAor(aor: string): string {
    const name = aorOf(aor);
    if (name !== this.components.security.userName) {
      throw new AorRegistrationError('not_our_aor', `${name} is not this certificate's user name ${this.components.security.userName}`);
    }
    return name;
  }

  private enqueue(entry: Registration): Promise<void> {
    entry.chain = entry.chain.then(() => this.attempt(entry));
    return entry.chain;
  }

  /** One Store of the entry; never rejects: a failure schedules the next attempt. */
  private async attempt(entry: Registration): Promise<void> {
    if (this.closed || entry.state === 'removing' || entry.state === 'removed') return;
    const { clock, data, security } = this.components;
    clock.clearTimeout(entry.timer);
    entry.nextAttemptAtMs = undefined;
    this.transition(entry, 'storing');
    const sentAtMs = clock.now();
    const lifetimeS = entry.lifetimeS;
    try {
      // §3.3: "Before issuing a Store request to the overlay, any Peer SHOULD verify that the
      // AOR of the request is a valid Resource Name with respect to its domain name and the
      // namespaces defined in the overlay configuration document". Checked on every attempt:
      // a ConfigUpdate may admit the domain later.
      const domains = AdmissibleDomains.of(this.components.configuration());
      const domain = parseAorAddress(entry.aor).domain;
      if (!domains.admits(domain)) {
        throw new ReloadError(ErrorCode.Error_Forbidden, `domain ${domain} is not admitted by the overlay configuration (${domains}); not sent`);
      }
      await data.store(resourceId(entry.aor), KindId.SIP_REGISTRATION, [
        { model: 'dictionary', key: security.nodeId, value: { exists: true, value: encode(SipRegistration, entry.value) } },
      ], { lifetimeS });
    } catch (e) {
      if (this.closed || entry.state !== 'storing') return;
      entry.failures++;
      entry.lastError = { message: (e as Error).message, code: e instanceof ReloadError ? e.code : undefined };
      const waitMs = this.backoffMs(entry.failures);
      this.components.log.warn('registration not stored', { aor: entry.aor, failures: entry.failures, retryInMs: waitMs, error: entry.lastError.message });
      this.transition(entry, 'retrying');
      this.schedule(entry, waitMs);
      return;
    }
    if (this.closed || entry.state !== 'storing') return;
    // The lifetime counts from the storing peer's receipt (RFC 6940 §7.4.1); counting from
    // our send errs early.
    entry.expiresAtMs = sentAtMs + lifetimeS * 1000;
    entry.failures = 0;
    entry.lastError = undefined;
    this.transition(entry, 'registered');
    this.schedule(entry, lifetimeS * 1000 * this.refreshFraction);
  }

  private schedule(entry: Registration, delayMs: number): void {
    const { clock } = this.components;
    entry.nextAttemptAtMs = clock.now() + delayMs;
    entry.timer = clock.setTimeout(() => {
      entry.timer = undefined;
      void this.enqueue(entry);
    }, delayMs);
  }

  private backoffMs(failures: number): number {
    const base = Math.min(this.retryMaxMs, this.retryMinMs * 2 ** Math.min(failures - 1, 30));
    return Math.round(base * (1 - REGISTRATION_RETRY_JITTER * this.random()));
  }

  private transition(entry: Registration, to: AorRegistrationState): void {
    if (!EDGES[entry.state].includes(to)) throw new Error(`registration of ${entry.aor}: ${entry.state} → ${to}`);
    entry.state = to;
    if (!this.closed) this.init.onChange?.(this.statusOf(entry));
  }

  private statusOf(e: Registration): AorRegistrationStatus {
    const now = this.components.clock.now();
    return {
      aor: e.aor,
      entry: e.value.type === 'uri' ? 'uri' : 'route',
      target: e.value.type === 'uri' ? e.value.uri : e.value.type === 'route' ? gruuParameter(e.value.destinationList) : '',
      state: e.state,
      lifetimeS: e.lifetimeS,
      expiresInMs: e.expiresAtMs === undefined ? undefined : Math.max(0, e.expiresAtMs - now),
      nextAttemptInMs: e.nextAttemptAtMs === undefined ? undefined : Math.max(0, e.nextAttemptAtMs - now),
      failures: e.failures,
      lastError: e.lastError,
    };
  }
}

/** StoredData.lifetime is a uint32 of seconds (RFC 6940 §7); 0 would store an expired value. */
function checkLifetime(s: number): number {
  if (!Number.isInteger(s) || s < 1 || s > 0xffffffff) throw new AorRegistrationError('bad_lifetime', `lifetime ${s} s`);
  return s;
}
