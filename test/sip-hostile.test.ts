// Hostile input against a running user agent over real sockets on 127.0.0.1: a table of
// malformed SIP sent as raw UDP datagrams and over raw TCP connections, each either answered
// with the status parse.ts assigns it (400, 413, 505; RFC 3261 §8.2, §21.4.1) or dropped with
// nothing sent back; a malformed ACK is never answered (§17.2.3). Afterwards the UA still
// answers OPTIONS and completes a call, and random bytes never stop it doing so.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import fc from 'fast-check';
import { SIP_MAX_HEADERS, SIP_MAX_HEADER_BYTES, SIP_MAX_MESSAGE_BYTES } from '../src/sip/core/constants.ts';
import type { SipMessage, SipResponse } from '../src/sip/core/message.ts';
import { SipStreamFramer, parseMessage } from '../src/sip/core/parse.ts';
import { SIP_UA_NO_ANSWER_MS, SIP_UA_RING_TIMEOUT_MS } from '../src/sip/ua/constants.ts';
import { type Agent, HOST, startAgent } from './harness/sip-agents.ts';
import { sleep, until } from './harness/wait.ts';

/** How long "nothing comes back" is waited for. */
const QUIET_MS = 300;
/** How long an expected response may take. */
const ANSWER_MS = 2000;

/** The UAs here run with the default no-answer and ring timeouts, not the harness's short ones. */
const UA_TIMEOUTS = { noAnswerMs: SIP_UA_NO_ANSWER_MS, ringTimeoutMs: SIP_UA_RING_TIMEOUT_MS };

/** A raw UDP socket on 127.0.0.1 keeping every datagram it receives. */
class RawUdp {
  readonly received: Buffer[] = [];
  private constructor(private readonly socket: UdpSocket) {
    socket.on('message', (bytes) => this.received.push(bytes));
  }

  static async open(): Promise<RawUdp> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, HOST, resolve));
    return new RawUdp(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(bytes: Uint8Array, port: number): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(bytes, port, HOST, (e) => (e ? reject(e) : resolve())));
  }

  /** The first response whose Call-ID is `callId`, parsed. */
  response(callId: string): SipResponse | undefined {
    for (const bytes of this.received) {
      try {
        const m = parseMessage(bytes);
        if (m.type === 'response' && m.headers.get('Call-ID') === callId) return m;
      } catch { /* not ours to judge */ }
    }
    return undefined;
  }

  close(): void {
    this.socket.close();
  }
}

/** A raw TCP connection to the UA, framing what comes back as SIP. */
class RawTcp {
  readonly responses: SipMessage[] = [];
  closed = false;
  private constructor(readonly socket: Socket) {
    const framer = new SipStreamFramer();
    framer.onMessage = (m) => this.responses.push(m);
    socket.on('data', (chunk) => framer.push(chunk));
    socket.on('error', () => {});
    socket.on('close', () => { this.closed = true; });
  }

  static open(port: number): Promise<RawTcp> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: HOST, port }, () => resolve(new RawTcp(socket)));
      socket.once('error', reject);
    });
  }

  write(bytes: string | Uint8Array): void {
    this.socket.write(bytes);
  }

  close(): void {
    this.socket.destroy();
  }
}

let seq = 0;

interface Fields {
  method: string;
  /** Replaces the whole request line. */
  startLine?: string;
  via?: string;
  callId: string;
  cseq?: string;
  /** Header lines left out, by name. */
  omit?: string[];
  /** Extra header lines, added after the standard ones. */
  extra?: string[];
  contentLength?: string | null;
  body?: string;
}

/** A request with every mandatory header field (§8.1.1) unless told otherwise. */
function request(transport: 'UDP' | 'TCP', port: number, f: Fields): string {
  const lines = [
    f.startLine ?? `${f.method} sip:door@${HOST} SIP/2.0`,
    `Via: ${f.via ?? `SIP/2.0/${transport} ${HOST}:${port};branch=z9hG4bK-hostile-${f.callId};rport`}`,
    'Max-Forwards: 70',
    `From: <sip:mallory@${HOST}>;tag=m${f.callId}`,
    `To: <sip:door@${HOST}>`,
    `Call-ID: ${f.callId}`,
    `CSeq: ${f.cseq ?? `1 ${f.method}`}`,
  ].filter((line) => !(f.omit ?? []).some((name) => line.startsWith(`${name}:`)));
  lines.push(...(f.extra ?? []));
  const body = f.body ?? '';
  if (f.contentLength !== null) lines.push(`Content-Length: ${f.contentLength ?? Buffer.byteLength(body)}`);
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

type Expect = number | 'dropped';

interface Row {
  name: string;
  expect: Expect;
  /** The bytes to send, given the raw socket's port and a fresh Call-ID. */
  bytes: (port: number, callId: string) => string | Uint8Array;
}

const FILLERS = Array.from({ length: SIP_MAX_HEADERS + 1 }, (_, i) => `X-Filler-${i}: ${i}`);
/** A STUN Binding request (RFC 5389 §6), the UDP keepalive of RFC 5626 §4.4.1. */
const STUN = Buffer.from('000100002112a442' + 'a1b2c3d4e5f60718293a4b5c', 'hex');
const JUNK = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 151 + 7) & 0xff));

const udpRows: Row[] = [
  // Start lines (§7.1, §25.1): nothing that is not a request line can be answered.
  { name: 'start line of a single token', expect: 'dropped', bytes: (p, id) => request('UDP', p, { method: 'OPTIONS', callId: id, startLine: 'OPTIONS' }) },
  { name: 'request line with an extra element', expect: 'dropped', bytes: (p, id) => request('UDP', p, { method: 'OPTIONS', callId: id, startLine: `OPTIONS sip:door@${HOST} SIP/2.0 please` }) },
  { name: 'request line with two spaces', expect: 'dropped', bytes: (p, id) => request('UDP', p, { method: 'OPTIONS', callId: id, startLine: `OPTIONS  sip:door@${HOST} SIP/2.0` }) },
  { name: 'method that is not a token', expect: 'dropped', bytes: (p, id) => request('UDP', p, { method: 'OPT<IONS', callId: id, cseq: '1 OPTIONS' }) },
  { name: 'HTTP instead of SIP', expect: 'dropped', bytes: (p, id) => request('UDP', p, { method: 'GET', callId: id, startLine: 'GET / HTTP/1.1' }) },
  { name: 'Request-URI without a scheme', expect: 400, bytes: (p, id) => request('UDP', p, { method: 'OPTIONS', callId: id, startLine: 'OPTIONS door SIP/2.0' }) },
  // §21.5.6: a well-formed version we do not speak.
  { name: 'SIP/3.0 request', expect: 505, bytes: (p, id) => request('UDP', p, { method: 'OPTIONS', callId: id, startLine: `OPTIONS sip:door@${HOST} SIP/3.0` }) },
  { name: 'SIP/2.1 INVITE', expect: 505, bytes: (p, id) => request('UDP', p, { method: 'INVITE', callId: id, startLine: `INVITE sip:door@${HOST} SIP/2.1`, body: 'v=0\r\n' }) },
  { name: 'version that is not SIP-Version', expect: 'dropped', bytes: (p, id) => request('UDP', p, { method: 'OPTIONS', callId: id, startLine: `OPTIONS sip:door@${HOST} SIP/two` }) },
  // Limits (parse.ts): an overlong field is 400, too many fields 413.
  { name: `header field over ${SIP_MAX_HEADER_BYTES} bytes`, expect: 400, bytes: (p, id) => request('UDP', p, { method: 'OPTIONS', callId: id, extra: [`Subject: ${'x'.repeat(SIP_MAX_HEADER_BYTES)}`] }) },
  { name: `more than ${SIP_MAX_HEADERS} header fields`, expect: 413, bytes: (p, id) => request('UDP', p, { method: 'OPTIONS', callId: id, extra: FILLERS }) },
  // §8.1.1: the mandatory fields. Without any one of them no response can be built (§8.2.6.2).
  ...['Via', 'From', 'To', 'Call-ID', 'CSeq'].map((name): Row => ({
    name: `missing ${name}`, expect: 'dropped', bytes: (p, id) => request('UDP', p, { method: 'OPTIONS', callId: id, omit: [name] }),
  })),
  // One of each single-valued field (§7.3.1); the answer copies the first, so it parses.
  { name: 'two Call-ID fields', expect: 400, bytes: (p, id) => request('UDP', p, { method: 'OPTIONS', callId: id, extra: [`Call-ID: other-${id}`] }) },
  { name: 'CSeq method other than the request method (§8.1.1.5)', expect: 400, bytes: (p, id) => request('UDP', p, { method: 'OPTIONS', callId: id, cseq: '1 INVITE' }) },
  // An answer the client could not match to its transaction (§17.1.3) or parse is not sent.
  { name: 'CSeq without a number', expect: 'dropped', bytes: (p, id) => request('UDP', p, { method: 'OPTIONS', callId: id, cseq: 'one OPTIONS' }) },
  { name: 'Via that is no Via', expect: 'dropped', bytes: (p, id) => request('UDP', p, { method: 'OPTIONS', callId: id, via: 'over there' }) },
  { name: 'From that is no name-addr', expect: 'dropped', bytes: (p, id) => request('UDP', p, { method: 'OPTIONS', callId: id, extra: [] }).replace(/^From: .*$/m, 'From: mallory') },
  { name: 'Max-Forwards not a number', expect: 400, bytes: (p, id) => request('UDP', p, { method: 'OPTIONS', callId: id, extra: ['Max-Forwards: many'] }) },
  { name: 'header line without a colon', expect: 400, bytes: (p, id) => request('UDP', p, { method: 'OPTIONS', callId: id, extra: ['Subject hello'] }) },
  // §18.3: "If the transport packet ends before the end of the message body, this is considered an error."
  { name: 'Content-Length longer than the datagram', expect: 400, bytes: (p, id) => request('UDP', p, { method: 'INVITE', callId: id, body: 'v=0\r\n', contentLength: '500' }) },
  { name: 'Content-Length not a number', expect: 400, bytes: (p, id) => request('UDP', p, { method: 'OPTIONS', callId: id, contentLength: 'ten' }) },
  { name: 'negative Content-Length', expect: 400, bytes: (p, id) => request('UDP', p, { method: 'OPTIONS', callId: id, contentLength: '-1' }) },
  { name: 'two Content-Lengths that disagree', expect: 400, bytes: (p, id) => request('UDP', p, { method: 'OPTIONS', callId: id, extra: ['Content-Length: 3'] }) },
  // Bytes that are no SIP at all.
  { name: 'binary junk', expect: 'dropped', bytes: () => JUNK },
  { name: 'a STUN binding request', expect: 'dropped', bytes: () => STUN },
  { name: 'no empty line after the headers', expect: 'dropped', bytes: (p, id) => request('UDP', p, { method: 'OPTIONS', callId: id }).replace(/\r\n\r\n$/, '\r\n') },
  { name: 'NUL in the start line', expect: 'dropped', bytes: (p, id) => request('UDP', p, { method: 'OPTIONS', callId: id, startLine: `OPTIONS sip:door\0@${HOST} SIP/2.0` }) },
  { name: 'NUL in a header value', expect: 400, bytes: (p, id) => request('UDP', p, { method: 'OPTIONS', callId: id, extra: ['Subject: a\0b'] }) },
  { name: 'bare CR inside a header line', expect: 400, bytes: (p, id) => request('UDP', p, { method: 'OPTIONS', callId: id, extra: ['Subject: a\rInjected: b'] }) },
  // Responses are never answered, however broken (§18.1.2: they are dropped or matched).
  { name: 'response with a status code that is not a number', expect: 'dropped', bytes: (p, id) => `SIP/2.0 2x0 OK\r\nVia: SIP/2.0/UDP ${HOST}:${p};branch=z9hG4bK-${id}\r\nCall-ID: ${id}\r\n\r\n` },
  { name: 'response with garbage header lines', expect: 'dropped', bytes: (p, id) => `SIP/2.0 200 OK\r\n\u00ff\u00fe garbage\r\n:::\r\nCall-ID: ${id}\r\n\r\n` },
  { name: 'response with status 999', expect: 'dropped', bytes: (p, id) => `SIP/2.0 999 Whatever\r\nVia: SIP/2.0/UDP ${HOST}:${p};branch=z9hG4bK-${id}\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: ${id}\r\nCSeq: 1 INVITE\r\n\r\n` },
  // §17.2.3 / §8.2: an ACK is never answered, so a malformed one is dropped in silence.
  { name: 'ACK with a CSeq method other than ACK', expect: 'dropped', bytes: (p, id) => request('UDP', p, { method: 'ACK', callId: id, cseq: '1 INVITE' }) },
  { name: 'ACK with SIP/3.0', expect: 'dropped', bytes: (p, id) => request('UDP', p, { method: 'ACK', callId: id, startLine: `ACK sip:door@${HOST} SIP/3.0` }) },
  { name: 'ACK with a Content-Length longer than the datagram', expect: 'dropped', bytes: (p, id) => request('UDP', p, { method: 'ACK', callId: id, contentLength: '99' }) },
  { name: `ACK with more than ${SIP_MAX_HEADERS} header fields`, expect: 'dropped', bytes: (p, id) => request('UDP', p, { method: 'ACK', callId: id, extra: FILLERS }) },
];

describe('hostile SIP against a running UA', { timeout: 60_000 }, () => {
  let door: Agent;
  let caller: Agent;
  before(async () => {
    door = await startAgent('door', UA_TIMEOUTS);
    caller = await startAgent('caller', UA_TIMEOUTS);
  });
  after(async () => {
    await door.close();
    await caller.close();
  });

  /** Sends one row's bytes from a fresh raw socket and checks what came back. */
  async function udpRow(row: Row): Promise<void> {
    const raw = await RawUdp.open();
    try {
      const callId = `hostile-${++seq}`;
      const parseErrors = door.transport.counters.parseErrors;
      const transactions = door.transactions.size;
      await raw.send(Buffer.from(row.bytes(raw.port, callId)), door.transport.port);
      if (row.expect === 'dropped') {
        await sleep(QUIET_MS);
        assert.deepEqual(raw.received.map((b) => b.toString('latin1').split('\r\n')[0]), [], 'nothing is sent back');
        assert.equal(door.transport.counters.parseErrors, parseErrors + 1, 'the datagram was seen and refused as malformed');
      } else {
        const r = await until('a response', () => raw.response(callId), ANSWER_MS);
        assert.equal(r.status, row.expect);
        assert.match(r.headers.get('Via') ?? '', new RegExp(`branch=z9hG4bK-hostile-${callId}`), 'the Via is copied (§8.2.6.2)');
        assert.match(r.headers.get('From') ?? '', new RegExp(`tag=m${callId}`));
        assert.match(r.headers.get('To') ?? '', /^<sip:door@127\.0\.0\.1>;tag=\w+$/, '§8.2.6.2: the UAS adds a To tag');
        await sleep(50);
        assert.equal(raw.received.length, 1, 'exactly one response');
      }
      assert.equal(door.transactions.size, transactions, 'no transaction was created');
      assert.equal(door.ua.all().length, 0, 'no call was created');
    } finally {
      raw.close();
    }
  }

  for (const row of udpRows) {
    test(`UDP: ${row.name} → ${row.expect}`, () => udpRow(row));
  }

  test('UDP: a well-formed response that matches no transaction is ignored', async () => {
    const raw = await RawUdp.open();
    try {
      const strays = door.transactions.counters.strayResponses;
      await raw.send(Buffer.from(`SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP ${HOST}:${raw.port};branch=z9hG4bK-nobody\r\nFrom: <sip:a@${HOST}>;tag=1\r\nTo: <sip:b@${HOST}>;tag=2\r\nCall-ID: stray-1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n`), door.transport.port);
      await sleep(QUIET_MS);
      assert.equal(raw.received.length, 0);
      assert.equal(door.transactions.counters.strayResponses, strays + 1);
    } finally {
      raw.close();
    }
  });

  test('UDP: the 400 goes back to the source address and port when the Via asks for rport (RFC 3581 §4, §18.2.2)', async () => {
    const raw = await RawUdp.open();
    try {
      const callId = `hostile-${++seq}`;
      // The sent-by names another host and port, as it does behind a NAT.
      const via = `SIP/2.0/UDP 192.0.2.10:5099;branch=z9hG4bK-hostile-${callId};rport`;
      await raw.send(Buffer.from(request('UDP', raw.port, { method: 'OPTIONS', callId, via, cseq: '1 INVITE' })), door.transport.port);
      const r = await until('a 400 at the source port', () => raw.response(callId), ANSWER_MS);
      assert.equal(r.status, 400);
      assert.match(r.headers.get('Via') ?? '', new RegExp(`received=${HOST.replace(/\./g, '\\.')}`));
      assert.match(r.headers.get('Via') ?? '', new RegExp(`rport=${raw.port}`));
    } finally {
      raw.close();
    }
  });

  interface TcpRow {
    name: string;
    /** A status, or 'dropped' when nothing comes back. */
    expect: Expect;
    bytes: (port: number, callId: string) => string | Uint8Array;
  }

  const tcpRows: TcpRow[] = [
    { name: 'SIP/3.0 request', expect: 505, bytes: (p, id) => request('TCP', p, { method: 'OPTIONS', callId: id, startLine: `OPTIONS sip:door@${HOST} SIP/3.0` }) },
    { name: 'CSeq method other than the request method', expect: 400, bytes: (p, id) => request('TCP', p, { method: 'INVITE', callId: id, cseq: '1 OPTIONS', body: 'v=0\r\n' }) },
    // §18.3: "The Content-Length header field MUST be used with stream oriented transports."
    { name: 'no Content-Length on a stream', expect: 400, bytes: (p, id) => request('TCP', p, { method: 'OPTIONS', callId: id, contentLength: null }) },
    { name: 'Content-Length not a number', expect: 400, bytes: (p, id) => request('TCP', p, { method: 'OPTIONS', callId: id, contentLength: '1e3' }) },
    { name: `Content-Length announcing more than ${SIP_MAX_MESSAGE_BYTES} bytes`, expect: 413, bytes: (p, id) => request('TCP', p, { method: 'INVITE', callId: id, contentLength: String(SIP_MAX_MESSAGE_BYTES + 1) }) },
    { name: `header field over ${SIP_MAX_HEADER_BYTES} bytes`, expect: 400, bytes: (p, id) => request('TCP', p, { method: 'OPTIONS', callId: id, extra: [`Subject: ${'x'.repeat(SIP_MAX_HEADER_BYTES)}`] }) },
    { name: `header section without an end in ${SIP_MAX_MESSAGE_BYTES} bytes`, expect: 'dropped', bytes: (p, id) => request('TCP', p, { method: 'OPTIONS', callId: id }).replace(/\r\n\r\n$/, `\r\nSubject: ${'y'.repeat(SIP_MAX_MESSAGE_BYTES)}`) },
    { name: 'binary junk with an empty line', expect: 'dropped', bytes: () => Buffer.concat([JUNK, Buffer.from('\r\n\r\n')]) },
    { name: 'NUL in the start line', expect: 'dropped', bytes: (p, id) => request('TCP', p, { method: 'OPTIONS', callId: id, startLine: 'OPTIONS sip:\0 SIP/2.0' }) },
    { name: 'malformed ACK', expect: 'dropped', bytes: (p, id) => request('TCP', p, { method: 'ACK', callId: id, cseq: '1 BYE' }) },
    { name: 'garbage response', expect: 'dropped', bytes: (_, id) => `SIP/2.0 OK fine\r\nCall-ID: ${id}\r\nContent-Length: 0\r\n\r\n` },
  ];

  for (const row of tcpRows) {
    // A stream cannot be resynchronised after a framing or parse error: the UA always closes it.
    test(`TCP: ${row.name} → ${row.expect}, connection closed`, async () => {
      const raw = await RawTcp.open(door.transport.port);
      try {
        const callId = `hostile-${++seq}`;
        const parseErrors = door.transport.counters.parseErrors;
        raw.write(row.bytes(raw.socket.localPort!, callId));
        await until('the UA closes the connection', () => raw.closed, ANSWER_MS);
        assert.equal(door.transport.counters.parseErrors, parseErrors + 1);
        if (row.expect === 'dropped') {
          assert.equal(raw.responses.length, 0, 'nothing is sent back');
        } else {
          assert.equal(raw.responses.length, 1, 'exactly one response, then the close');
          const r = raw.responses[0] as SipResponse;
          assert.equal(r.status, row.expect);
          assert.equal(r.headers.get('Call-ID'), callId);
        }
        assert.equal(door.ua.all().length, 0, 'no call was created');
      } finally {
        raw.close();
      }
    });
  }

  test('TCP: a Content-Length longer than what was sent makes the UA wait, not answer; the rest completes the request', async () => {
    const raw = await RawTcp.open(door.transport.port);
    try {
      const callId = `hostile-${++seq}`;
      const whole = request('TCP', raw.socket.localPort!, { method: 'OPTIONS', callId, body: 'twelve bytes' });
      raw.write(whole.slice(0, -5));
      await sleep(QUIET_MS);
      assert.equal(raw.responses.length, 0, 'a stream message is not judged before its last byte');
      assert.equal(raw.closed, false);
      raw.write(whole.slice(-5));
      await until('200 to the completed OPTIONS', () => raw.responses.length === 1, ANSWER_MS);
      assert.equal((raw.responses[0] as SipResponse).status, 200);
    } finally {
      raw.close();
    }
  });

  test('TCP: requests before the malformed one are answered; the 400 is the last thing on the connection', async () => {
    const raw = await RawTcp.open(door.transport.port);
    try {
      const port = raw.socket.localPort!;
      const good = `hostile-${++seq}`;
      const bad = `hostile-${++seq}`;
      const after = `hostile-${++seq}`;
      raw.write(request('TCP', port, { method: 'OPTIONS', callId: good }));
      await until('200 to the first OPTIONS', () => raw.responses.length === 1, ANSWER_MS);
      raw.write(request('TCP', port, { method: 'OPTIONS', callId: bad, cseq: '2 BYE' }) + request('TCP', port, { method: 'OPTIONS', callId: after }));
      await until('the connection closed', () => raw.closed, ANSWER_MS);
      assert.deepEqual(raw.responses.map((r) => [(r as SipResponse).status, r.headers.get('Call-ID')]), [[200, good], [400, bad]]);
    } finally {
      raw.close();
    }
  });

  test('after all that, OPTIONS is answered 200 over UDP and TCP', async () => {
    const raw = await RawUdp.open();
    const tcp = await RawTcp.open(door.transport.port);
    try {
      const callId = `hostile-${++seq}`;
      await raw.send(Buffer.from(request('UDP', raw.port, { method: 'OPTIONS', callId })), door.transport.port);
      assert.equal((await until('200 over UDP', () => raw.response(callId), ANSWER_MS)).status, 200);
      tcp.write(request('TCP', tcp.socket.localPort!, { method: 'OPTIONS', callId: `${callId}-tcp` }));
      await until('200 over TCP', () => tcp.responses.length === 1, ANSWER_MS);
      assert.equal((tcp.responses[0] as SipResponse).status, 200);
      assert.equal(tcp.closed, false, 'a good request keeps the connection open');
    } finally {
      raw.close();
      tcp.close();
    }
  });

  test('after all that, a full call works: INVITE → 180 → 200 → ACK → BYE', async () => {
    const out = caller.ua.call(`sip:door@${HOST}:${door.transport.port}`);
    const inc = await until('ringing at the door', () => door.events.find((e) => e.event === 'incoming')?.call);
    await until('ringing at the caller', () => out.state === 'ringing');
    door.ua.answer(inc.id);
    await until('active at the caller', () => out.state === 'active');
    await until('ACK at the door', () => inc.timeline.some((e) => e.event === 'ACK received'));
    caller.ua.hangup(out.id);
    await until('ended at the door', () => inc.ended);
    assert.equal(inc.endReason, 'hangup-remote');
    assert.equal(out.endReason, 'hangup-local');
    await until('200 to the BYE', () => out.timeline.some((e) => /^200 OK to BYE/.test(e.event)));
  });

  test('random bytes on the UDP port never stop the next OPTIONS from being answered (fast-check)', async () => {
    const raw = await RawUdp.open();
    try {
      const valid = (id: string): Buffer => Buffer.from(request('UDP', raw.port, { method: 'OPTIONS', callId: id, body: 'x' }));
      // Pure noise, and a valid OPTIONS with a few bytes overwritten (reaching deeper into the parser).
      const noise = fc.uint8Array({ minLength: 1, maxLength: 1400 });
      const mutated = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }).map((edits) => {
        const bytes = valid('fuzzed');
        for (const [at, b] of edits) bytes[at % bytes.length] = b;
        return new Uint8Array(bytes);
      });
      await fc.assert(fc.asyncProperty(fc.oneof(noise, mutated), async (bytes) => {
        await raw.send(bytes, door.transport.port);
        const probe = `probe-${++seq}`;
        await raw.send(valid(probe), door.transport.port);
        const r = await until('200 to the probe', () => raw.response(probe), ANSWER_MS);
        assert.equal(r.status, 200);
      }), { numRuns: 200 });
    } finally {
      raw.close();
    }
    assert.equal(door.ua.all().filter((c) => !c.ended).length, 0, 'no call is left half set up');
  });
});
