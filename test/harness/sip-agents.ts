// SIP user agents for tests, on real UDP and TCP sockets on 127.0.0.1: `startAgent` wires a
// transport, transaction layer and UA with short timers and fake media legs and records what
// happens; `agents` starts several and closes them when the test ends.
import type { SipRequest, SipResponse } from '../../src/sip/core/message.ts';
import { TransactionLayer } from '../../src/sip/core/transaction-layer.ts';
import { SipTransport } from '../../src/sip/core/transport.ts';
import type { Call } from '../../src/sip/ua/call.ts';
import type { MediaFactory, MediaLeg } from '../../src/sip/ua/media-leg.ts';
import { type CallEvent, type Locator, type UserAgentInit, UserAgent } from '../../src/sip/ua/user-agent.ts';
import { plainSipTarget } from '../../src/usage/sip/locator.ts';
import { systemClock } from '../../src/util/clock.ts';
import { silentLogger } from '../../src/util/log.ts';
import { sleep } from './wait.ts';

export const HOST = '127.0.0.1';
/** T1 of 50 ms: Timer B/F/H/L/M at 3.2 s; retransmissions at 50, 100, 200 ms … */
const TIMERS = { t1Ms: 50, t2Ms: 400, t4Ms: 100 };

/** A MediaLeg without sockets: SDP is a fixed text, and it records what the UA did with it. */
export class FakeMediaLeg implements MediaLeg {
  onDtmf: (digit: string) => void = () => {};
  readonly canSendEvents = false;
  started = false;
  closed = false;
  offer(): string { return 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=fake offer\r\n'; }
  answer(offer: string): string { return `v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=fake answer to ${offer.length} bytes\r\n`; }
  accept(): void {}
  start(): void { this.started = true; }
  sendDtmf(): boolean { return false; }
  status(): object { return { fake: true }; }
  close(): void { this.closed = true; }
}

/** A factory of fake legs that keeps every leg it made. */
export function fakeMedia(): { factory: MediaFactory; legs: FakeMediaLeg[] } {
  const legs: FakeMediaLeg[] = [];
  const factory: MediaFactory = async () => {
    const leg = new FakeMediaLeg();
    legs.push(leg);
    return leg;
  };
  return { factory, legs };
}

export interface Agent {
  readonly name: string;
  readonly transport: SipTransport;
  readonly transactions: TransactionLayer;
  readonly ua: UserAgent;
  readonly media: FakeMediaLeg[];
  /** Every call event, in order. */
  readonly events: { call: Call; event: CallEvent; detail?: string }[];
  /** Every message the transport handed up, in order, with the time it arrived. */
  readonly received: { message: SipRequest | SipResponse; at: number; transport: string }[];
  /** Called with each message before the transaction layer sees it. */
  beforeReceive: (message: SipRequest | SipResponse) => void;
  /** `sip:<name>@127.0.0.1:<port>`, with `;transport=tcp` when asked. */
  uri(tcp?: boolean): string;
  close(): Promise<void>;
}

export interface AgentOptions extends UserAgentInit {
  locator?: Locator;
  media?: MediaFactory;
}

const plainLocator: Locator = {
  async locate(target) {
    const fork = plainSipTarget(target, () => false);
    if (!fork) throw new Error(`not a plain SIP target: ${target}`);
    return [fork];
  },
};

/**
 * A transport, transaction layer and UA wired the way src/run/sip-agent.ts wires them. The UA's
 * no-answer and ring timeouts are 10 s unless `opts` says otherwise.
 */
export async function startAgent(name: string, opts: AgentOptions = {}): Promise<Agent> {
  const transport = new SipTransport({ log: silentLogger }, { host: HOST, port: 0 });
  await transport.start();
  const transactions = new TransactionLayer({ clock: systemClock, log: silentLogger, transport }, { timers: TIMERS });
  const received: Agent['received'] = [];
  let agent: Agent | undefined;
  transport.onMessage = (message, source) => {
    received.push({ message, at: performance.now(), transport: source.transport });
    agent?.beforeReceive(message);
    transactions.receive(message, source);
  };
  const fake = fakeMedia();
  const { locator = plainLocator, media = fake.factory, ...init } = opts;
  const ua = new UserAgent(
    { clock: systemClock, log: silentLogger, transport, transactions, locator, media },
    { aor: `${name}@${HOST}`, noAnswerMs: 10_000, ringTimeoutMs: 10_000, ...init },
  );
  const events: Agent['events'] = [];
  ua.onCallEvent = (call, event, detail) => events.push({ call, event, detail });
  let closed = false;
  agent = {
    name, transport, transactions, ua, media: fake.legs, events, received, beforeReceive: () => {},
    uri: (tcp) => `sip:${name}@${HOST}:${transport.port}${tcp ? ';transport=tcp' : ''}`,
    async close() {
      if (closed) return;
      closed = true;
      ua.close();
      // The BYEs and CANCELs of calls just ended reach the wire before the sockets close.
      await sleep(30);
      transactions.close();
      transport.close();
    },
  };
  return agent;
}

/** Starts agents and closes every one of them when the test ends, however it ends. */
export async function agents(t: { after(fn: () => Promise<void>): void }, ...specs: [string, AgentOptions?][]): Promise<Agent[]> {
  const started: Agent[] = [];
  t.after(async () => { await Promise.all(started.map((a) => a.close())); });
  for (const [name, opts] of specs) started.push(await startAgent(name, opts));
  return started;
}
