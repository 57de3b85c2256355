// The SIP message parser, serializer and value parsers (RFC 3261 §7, §18.3, §19.1, §20, §25):
// round trips, torture cases in the style of RFC 4475, a table of hostile inputs each expecting
// a specific SipParseError, stream framing at every byte boundary, and properties that random
// or mutated bytes only ever raise SipParseError.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { type SipMessage, type SipRequest, type SipResponse, SipHeaders } from '../src/sip/core/message.ts';
import { type ParseLimits, SipParseError, SipStreamFramer, parseMessage } from '../src/sip/core/parse.ts';
import { serialize } from '../src/sip/core/serialize.ts';
import {
  type NameAddr, type SipUri, type Via, formatNameAddr, formatUri, formatVia, parseCSeq, parseNameAddr, parseUri, parseVia,
} from '../src/sip/core/uri.ts';

// ---- samples ----

const SDP = [
  'v=0', 'o=door3b 2890844526 2890844526 IN IP4 192.0.2.10', 's=-', 'c=IN IP4 192.0.2.10', 't=0 0',
  'm=audio 49170 RTP/AVP 0 8 101', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000', 'a=sendrecv', '',
].join('\r\n');

/** The mandatory fields of §8.1.1 for an OPTIONS request, one per line. */
const MANDATORY = [
  'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK74bf9',
  'Max-Forwards: 70',
  'From: <sip:door@building.example>;tag=9fxced76sl',
  'To: <sip:flat3b@building.example>',
  'Call-ID: 3848276298220188511@192.0.2.10',
  'CSeq: 1 OPTIONS',
];

function crlf(lines: readonly string[]): string {
  return lines.join('\r\n');
}

const INVITE = crlf([
  'INVITE sip:flat3b@building.example SIP/2.0',
  'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport',
  'Max-Forwards: 70',
  'To: "Flat 3B" <sip:flat3b@building.example>',
  'From: "Door" <sip:door@building.example>;tag=1928301774',
  'Call-ID: a84b4c76e66710@192.0.2.10',
  'CSeq: 314159 INVITE',
  'Contact: <sip:door@192.0.2.10:5060>',
  'Allow: INVITE, ACK, CANCEL, BYE',
  'Content-Type: application/sdp',
  `Content-Length: ${Buffer.byteLength(SDP)}`,
  '',
  SDP,
]);

const OK = crlf([
  'SIP/2.0 200 OK',
  'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport=5060;received=192.0.2.10',
  'To: "Flat 3B" <sip:flat3b@building.example>;tag=a6c85cf',
  'From: "Door" <sip:door@building.example>;tag=1928301774',
  'Call-ID: a84b4c76e66710@192.0.2.10',
  'CSeq: 314159 INVITE',
  'Content-Length: 0',
  '',
  '',
]);

/** An OPTIONS request: the mandatory fields, then `extra` header lines, then `body`. */
function options(extra: readonly string[] = [], body = '', startLine = 'OPTIONS sip:flat3b@building.example SIP/2.0'): string {
  return `${crlf([startLine, ...MANDATORY, ...extra])}\r\n\r\n${body}`;
}

function parse(text: string | Uint8Array, limits?: ParseLimits): SipMessage {
  return parseMessage(typeof text === 'string' ? Buffer.from(text, 'utf8') : text, limits);
}

function request(text: string): SipRequest {
  const m = parse(text);
  assert.equal(m.type, 'request');
  return m as SipRequest;
}

function response(text: string): SipResponse {
  const m = parse(text);
  assert.equal(m.type, 'response');
  return m as SipResponse;
}

function entries(m: SipMessage): [string, string][] {
  return [...m.headers.entries()].map((e) => [e.name, e.value]);
}

function utf8(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('utf8');
}

/** Runs `run`; a SipParseError is returned, anything else fails the test. */
function typed(run: () => unknown, label: string): SipParseError | undefined {
  try {
    run();
    return undefined;
  } catch (e) {
    if (e instanceof SipParseError) return e;
    throw new Error(`${label}: untyped ${(e as Error)?.name ?? typeof e}: ${(e as Error)?.message ?? String(e)}`, { cause: e });
  }
}

// ---- round trips ----

test('an INVITE with SDP parses into its start line, headers and body', () => {
  const m = request(INVITE);
  assert.equal(m.method, 'INVITE');
  assert.equal(m.uri, 'sip:flat3b@building.example');
  assert.equal(m.headers.get('call-id'), 'a84b4c76e66710@192.0.2.10');
  assert.deepEqual(m.headers.all('Allow'), ['INVITE', 'ACK', 'CANCEL', 'BYE']);
  assert.equal(utf8(m.body), SDP);
});

test('parse, serialize, parse gives the same message', () => {
  for (const text of [INVITE, OK, options(['Subject: lunch', 'Content-Length: 5'], 'hello')]) {
    const first = parse(text);
    const again = parse(serialize(first));
    assert.deepEqual(again, first);
  }
});

test('a serialized response is byte for byte the canonical text', () => {
  assert.equal(serialize(response(OK)).toString(), OK);
});

test('serialize writes Content-Length from the body, replacing a stale one in place', () => {
  const headers = new SipHeaders([['Via', 'SIP/2.0/TCP h;branch=z9hG4bK1'], ['Content-Length', '999'], ['Subject', 's'], ['l', '5']]);
  const out = serialize({ type: 'request', method: 'MESSAGE', uri: 'sip:x@y', headers, body: Buffer.from('héllo') }).toString();
  assert.equal(out, 'MESSAGE sip:x@y SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nContent-Length: 6\r\nSubject: s\r\n\r\nhéllo');
  const none = serialize({ type: 'response', status: 180, reason: 'Ringing', headers: new SipHeaders(), body: new Uint8Array(0) });
  assert.equal(none.toString(), 'SIP/2.0 180 Ringing\r\nContent-Length: 0\r\n\r\n');
});

test('serialize refuses a header value with a line break, which would forge fields', () => {
  const headers = new SipHeaders([['Subject', 'hi\r\nVia: SIP/2.0/UDP evil']]);
  assert.throws(() => serialize({ type: 'response', status: 200, reason: 'OK', headers, body: new Uint8Array(0) }), /line break/);
});

// ---- torture cases (RFC 4475 style) ----

test('compact header names mean their long forms (§7.3.3)', () => {
  const m = request(crlf([
    'OPTIONS sip:flat3b@building.example SIP/2.0',
    'v: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK1',
    'f: <sip:door@building.example>;tag=1',
    't: <sip:flat3b@building.example>',
    'i: compact@192.0.2.10',
    'CSeq: 1 OPTIONS',
    'm: <sip:door@192.0.2.10>',
    's: compact subject',
    'k: path',
    'c: text/plain',
    'l: 2',
    '',
    'hi',
  ]));
  assert.deepEqual(entries(m).map(([n]) => n), ['Via', 'From', 'To', 'Call-ID', 'CSeq', 'Contact', 'Subject', 'Supported', 'Content-Type', 'Content-Length']);
  assert.equal(m.headers.get('Call-ID'), 'compact@192.0.2.10');
  assert.equal(m.headers.get('i'), 'compact@192.0.2.10');
  assert.equal(utf8(m.body), 'hi');
});

test('header names are case-insensitive and whitespace may surround the colon (§7.3.1)', () => {
  const m = request(crlf([
    'OPTIONS sip:flat3b@building.example SIP/2.0',
    'vIa: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK1',
    'FROM  :<sip:door@building.example>;tag=1',
    'to\t:   <sip:flat3b@building.example>',
    'call-id:x@y',
    'cseq: 1 OPTIONS',
    'subject            :lunch',
    '',
    '',
  ]));
  assert.deepEqual(entries(m), [
    ['Via', 'SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK1'], ['From', '<sip:door@building.example>;tag=1'],
    ['To', '<sip:flat3b@building.example>'], ['Call-ID', 'x@y'], ['CSeq', '1 OPTIONS'], ['Subject', 'lunch'],
  ]);
});

test('folded lines are unfolded to one SP (§7.3.1)', () => {
  const m = request(crlf([
    'OPTIONS sip:flat3b@building.example SIP/2.0',
    'Via: SIP/2.0/UDP',
    '    192.0.2.10;branch=z9hG4bK1',
    ...MANDATORY.slice(1),
    'Subject: I know you\'re there,   ',
    '         pick up the phone',
    '\tand talk to me!',
    'NewFangledHeader:   newfangled value',
    ' continued newfangled value',
    '',
    '',
  ]));
  assert.equal(m.headers.get('Via'), 'SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK1');
  assert.equal(m.headers.get('Subject'), 'I know you\'re there, pick up the phone and talk to me!');
  assert.equal(m.headers.get('newfangledheader'), 'newfangled value continued newfangled value');
});

test('comma-joined Via, Contact and Route split into one entry each, not inside quotes or <>', () => {
  const m = request(options([
    'Via: SIP/2.0/TCP p1.example;branch=z9hG4bKa, SIP/2.0/UDP p2.example;branch=z9hG4bKb,',
    '  SIP/2.0/TLS [2001:db8::1]:5061;branch=z9hG4bKc',
    'Contact: "Doe, John" <sip:john@x.example;a=b,c>;q=0.5, <sip:k@y.example;lr>',
    'Route: <sip:p1.example;lr>,<sip:p2.example;lr>',
    'Warning: 370 devnull "Choose a bigger pipe, please"',
    'Date: Sat, 13 Nov 2010 23:29:00 GMT',
  ]));
  assert.deepEqual(m.headers.all('Via').slice(1), [
    'SIP/2.0/TCP p1.example;branch=z9hG4bKa', 'SIP/2.0/UDP p2.example;branch=z9hG4bKb', 'SIP/2.0/TLS [2001:db8::1]:5061;branch=z9hG4bKc',
  ]);
  assert.deepEqual(m.headers.all('Contact'), ['"Doe, John" <sip:john@x.example;a=b,c>;q=0.5', '<sip:k@y.example;lr>']);
  assert.deepEqual(m.headers.all('Route'), ['<sip:p1.example;lr>', '<sip:p2.example;lr>']);
  assert.deepEqual(m.headers.all('Warning'), ['370 devnull "Choose a bigger pipe, please"']);
  // Date is not a list (§7.3.1): its comma stays.
  assert.deepEqual(m.headers.all('Date'), ['Sat, 13 Nov 2010 23:29:00 GMT']);
});

test('unknown headers are kept with the name as received', () => {
  const m = request(options(['X-Door-Event: opened', 'UnknownHeaderWithUnusualValue: ;;,,;;,;', 'Empty-Header:']));
  assert.equal(m.headers.get('X-DOOR-EVENT'), 'opened');
  assert.ok(entries(m).some(([n]) => n === 'X-Door-Event'));
  assert.ok(m.headers.all('UnknownHeaderWithUnusualValue').length > 0);
  assert.deepEqual(m.headers.all('empty-header'), ['']);
});

test('escaped URIs keep their text in the message and decode in parseUri (§19.1.2)', () => {
  const m = request(options([], '', 'OPTIONS sip:%61lice@building.example;transport=TCP SIP/2.0'));
  assert.equal(m.uri, 'sip:%61lice@building.example;transport=TCP');
  const uri = parseUri(m.uri);
  assert.equal(uri.user, 'alice');
  assert.equal(uri.params.get('transport'), 'TCP');
  const semi = parseUri('sip:user;par=u%40example.net@example.com');
  assert.equal(semi.user, 'user;par=u@example.net');
  assert.equal(semi.host, 'example.com');
  assert.equal(parseUri('sip:%E2%82%AC@x').user, '€');
  assert.equal(parseUri('sip:x;na%6De=v%20w').params.get('name'), 'v w');
});

test('IPv6 references in URIs and Via (§19.1.1, §20.42)', () => {
  const uri = parseUri('sip:[2001:db8::10]:5070;transport=tcp');
  assert.equal(uri.host, '[2001:db8::10]');
  assert.equal(uri.port, 5070);
  const via = parseVia('SIP/2.0/UDP [2001:db8::9:1]:5060;branch=z9hG4bKas3;received=2001:db8::9:255;rport');
  assert.deepEqual(via, {
    protocol: 'SIP/2.0', transport: 'UDP', host: '[2001:db8::9:1]', port: 5060,
    params: new Map([['branch', 'z9hG4bKas3'], ['received', '2001:db8::9:255'], ['rport', null]]),
  });
});

test('Via tolerates LWS around "/", ":" and ";" (§25.1 SLASH, COLON, SEMI)', () => {
  const via = parseVia('SIP / 2.0 / tcp   door.example : 5060 ; BRANCH = z9hG4bK1 ;rport');
  assert.equal(via.protocol, 'SIP/2.0');
  assert.equal(via.transport, 'TCP');
  assert.equal(via.host, 'door.example');
  assert.equal(via.port, 5060);
  assert.equal(via.params.get('branch'), 'z9hG4bK1');
  assert.equal(via.params.get('rport'), null);
  assert.equal(formatVia(via), 'SIP/2.0/TCP door.example:5060;branch=z9hG4bK1;rport');
});

test('display names: quoted with escapes, token runs, or absent (§20.10, §25.1)', () => {
  const m = request(options(['Reply-To: "Bob \\"the builder\\" \\\\ B\u00f6b" <sip:bob@x.example>;x=y']));
  assert.deepEqual(parseNameAddr(m.headers.get('Reply-To') as string), {
    displayName: 'Bob "the builder" \\ B\u00f6b', uri: 'sip:bob@x.example', params: new Map([['x', 'y']]),
  });
  assert.deepEqual(parseNameAddr('Alice   Smith <sip:alice@x>;TAG=1'), { displayName: 'Alice   Smith', uri: 'sip:alice@x', params: new Map([['tag', '1']]) });
  assert.deepEqual(parseNameAddr('<sip:x;lr>'), { uri: 'sip:x;lr', params: new Map() });
  assert.deepEqual(parseNameAddr('"" <sip:x>'), { displayName: '', uri: 'sip:x', params: new Map() });
  assert.deepEqual(
    parseNameAddr('<sip:door@x>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";expires=60'),
    { uri: 'sip:door@x', params: new Map([['+sip.instance', '"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"'], ['expires', '60']]) },
  );
});

test('in a bare addr-spec the parameters after the URI are header parameters (§20.10)', () => {
  assert.deepEqual(parseNameAddr('sip:door@building.example;tag=887s'), { uri: 'sip:door@building.example', params: new Map([['tag', '887s']]) });
  assert.equal(formatNameAddr(parseNameAddr('sip:door@building.example;tag=887s')), '<sip:door@building.example>;tag=887s');
});

test('tel: and other schemes are kept opaque', () => {
  assert.deepEqual(parseUri('TEL:+1-201-555-0123;phone-context=x'), {
    scheme: 'tel', host: '+1-201-555-0123;phone-context=x', params: new Map(), headers: new Map(),
  });
  assert.equal(formatUri(parseUri('urn:service:sos')), 'urn:service:sos');
  assert.equal(request(options([], '', 'OPTIONS tel:+15551234 SIP/2.0')).uri, 'tel:+15551234');
});

test('CSeq number and method (§20.16)', () => {
  assert.deepEqual(parseCSeq('  0004711 \t INVITE '), { seq: 4711, method: 'INVITE' });
  assert.deepEqual(parseCSeq('2147483647 ACK'), { seq: 2147483647, method: 'ACK' });
  for (const bad of ['2147483648 ACK', '1', 'INVITE', '1INVITE', '1 INV ITE', '-1 BYE', '99999999999999999999 BYE', '']) {
    assert.throws(() => parseCSeq(bad), SipParseError, bad);
  }
});

test('LF-only and mixed line ends are accepted', () => {
  const lf = request(options(['Subject: a,', ' b'], 'body').replace(/\r\n/g, '\n'));
  assert.equal(lf.headers.get('Subject'), 'a, b');
  assert.equal(utf8(lf.body), 'body');
  const mixed = request(`${crlf(['OPTIONS sip:x@y SIP/2.0', ...MANDATORY])}\n\r\nbody`);
  assert.equal(utf8(mixed.body), 'body');
});

test('leading CRLFs before the start line are skipped (§7.5)', () => {
  assert.equal(request(`\r\n\r\n\n${options()}`).method, 'OPTIONS');
});

test('responses: reason phrases may be empty or UTF-8 (§7.2)', () => {
  const rest = crlf(MANDATORY.filter((l) => !l.startsWith('Max-Forwards')));
  assert.equal(response(`SIP/2.0 200 \r\n${rest}\r\n\r\n`).reason, '');
  assert.equal(response(`SIP/2.0 200\r\n${rest}\r\n\r\n`).reason, '');
  const r = response(`sip/2.0 486 Occupé, rappelez plus tard\r\n${rest}\r\n\r\n`);
  assert.equal(r.status, 486);
  assert.equal(r.reason, 'Occupé, rappelez plus tard');
});

test('Max-Forwards may be missing; Content-Length may be missing on a datagram (§18.3)', () => {
  const m = request(crlf(['OPTIONS sip:x@y SIP/2.0', ...MANDATORY.filter((l) => !l.startsWith('Max-Forwards')), '', 'rest of the datagram']));
  assert.equal(m.headers.get('Max-Forwards'), undefined);
  assert.equal(utf8(m.body), 'rest of the datagram');
});

test('a datagram body longer than Content-Length is truncated to it (§18.3)', () => {
  assert.equal(utf8(request(options(['Content-Length: 3'], 'abcdef')).body), 'abc');
  assert.equal(request(options(['Content-Length: 0'], 'junk')).body.length, 0);
  // Repeats that agree are accepted.
  assert.equal(utf8(request(options(['Content-Length: 2', 'l: 02'], 'abc')).body), 'ab');
});

test('the body is a copy: reusing the input buffer does not change a parsed message', () => {
  const bytes = Buffer.from(options(['Content-Length: 4'], 'abcd'));
  const m = parse(bytes);
  bytes.fill(0x41);
  assert.equal(utf8(m.body), 'abcd');
});

// ---- hostile input ----

interface Hostile {
  name: string;
  input: string | Uint8Array;
  status: number;
  /** Whether the error carries the request read so far, so a 400 (or 413, 505) can be sent. */
  partial: boolean;
  limits?: ParseLimits;
}

const without = (name: string): string[] => MANDATORY.filter((l) => !l.startsWith(`${name}:`));
const startLine = 'OPTIONS sip:flat3b@building.example SIP/2.0';

const HOSTILE: Hostile[] = [
  { name: 'empty datagram', input: '', status: 400, partial: false },
  { name: 'only line breaks', input: '\r\n\r\n', status: 400, partial: false },
  { name: 'not a start line', input: 'HELLO\r\n\r\n', status: 400, partial: false },
  { name: 'HTTP request', input: 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', status: 400, partial: false },
  { name: 'two spaces in the request line', input: options([], '', 'OPTIONS  sip:x@y SIP/2.0'), status: 400, partial: false },
  { name: 'trailing space in the request line', input: options([], '', 'OPTIONS sip:x@y SIP/2.0 '), status: 400, partial: false },
  { name: 'method with a non-token character', input: options([], '', 'OPT@ONS sip:x@y SIP/2.0'), status: 400, partial: false },
  { name: 'Request-URI without a scheme', input: options([], '', 'OPTIONS flat3b SIP/2.0'), status: 400, partial: true },
  { name: 'Request-URI in angle brackets', input: options([], '', 'OPTIONS <sip:x@y> SIP/2.0'), status: 400, partial: true },
  { name: 'SIP Request-URI without a host', input: options([], '', 'OPTIONS sip:x@ SIP/2.0'), status: 400, partial: true },
  { name: 'SIP Request-URI with a bad escape', input: options([], '', 'OPTIONS sip:%zz@y SIP/2.0'), status: 400, partial: true },
  { name: 'SIP Request-URI with a repeated parameter', input: options([], '', 'OPTIONS sip:y;lr;lr SIP/2.0'), status: 400, partial: true },
  { name: 'missing version', input: options([], '', 'OPTIONS sip:x@y'), status: 400, partial: false },
  { name: 'SIP/7.0 request', input: options([], '', 'OPTIONS sip:x@y SIP/7.0'), status: 505, partial: true },
  { name: 'SIP/2.00 request', input: options([], '', 'OPTIONS sip:x@y SIP/2.00'), status: 505, partial: true },
  { name: 'non-SIP version in a request', input: options([], '', 'OPTIONS sip:x@y HTTP/1.1'), status: 400, partial: false },
  { name: 'SIP/3.0 response', input: options([], '', 'SIP/3.0 200 OK'), status: 505, partial: false },
  { name: 'status code 99', input: options([], '', 'SIP/2.0 099 Low'), status: 400, partial: false },
  { name: 'status code 700', input: options([], '', 'SIP/2.0 700 High'), status: 400, partial: false },
  { name: 'four-digit status code', input: options([], '', 'SIP/2.0 2000 OK'), status: 400, partial: false },
  { name: 'letters as status code', input: options([], '', 'SIP/2.0 2x0 OK'), status: 400, partial: false },
  { name: 'control character in reason', input: options([], '', 'SIP/2.0 200 O\x01K'), status: 400, partial: false },
  { name: 'header line without colon', input: options(['Subject lunch']), status: 400, partial: true },
  { name: 'space inside a header name', input: options(['Sub ject: lunch']), status: 400, partial: true },
  { name: 'continuation right after the start line', input: `${startLine}\r\n folded\r\n${crlf(MANDATORY)}\r\n\r\n`, status: 400, partial: true },
  { name: 'header field over maxHeaderBytes', input: options([`X-Long: ${'a'.repeat(9000)}`]), status: 400, partial: true },
  { name: 'folded header field over maxHeaderBytes', input: options(['X-Long: a', ...Array.from({ length: 50 }, () => ` ${'b'.repeat(200)}`)]), status: 400, partial: true, limits: { maxHeaderBytes: 4096 } },
  { name: 'non-ASCII header field over maxHeaderBytes in bytes', input: options([`Subject: ${'é'.repeat(60)}`]), status: 400, partial: true, limits: { maxHeaderBytes: 100 } },
  { name: 'more than maxHeaders fields', input: `${startLine}\r\n${Array.from({ length: 200 }, (_, i) => `X-H: ${i}`).join('\r\n')}\r\n${crlf(MANDATORY)}\r\n\r\n`, status: 413, partial: true },
  { name: 'a list joined past maxHeaders', input: options([`Allow: ${Array.from({ length: 20 }, () => 'INFO').join(',')}`]), status: 413, partial: true, limits: { maxHeaders: 16 } },
  { name: 'no empty line after the headers', input: crlf([startLine, ...MANDATORY]), status: 400, partial: false },
  { name: 'datagram over maxMessageBytes', input: options([], 'x'.repeat(70_000)), status: 413, partial: true },
  { name: 'header section over maxMessageBytes', input: `${startLine}\r\n${'X-H: 1\r\n'.repeat(10_000)}`, status: 413, partial: false },
  { name: 'missing Via', input: options([]).replace(/^Via:.*\r\n/m, ''), status: 400, partial: true },
  ...['From', 'To', 'Call-ID', 'CSeq'].map((h) => ({ name: `missing ${h}`, input: `${crlf([startLine, ...without(h)])}\r\n\r\n`, status: 400, partial: true })),
  { name: 'two To fields', input: options(['To: <sip:other@x>']), status: 400, partial: true },
  { name: 'two Call-ID fields', input: options(['i: other']), status: 400, partial: true },
  { name: 'CSeq without method', input: `${crlf([startLine, ...without('CSeq'), 'CSeq: 1'])}\r\n\r\n`, status: 400, partial: true },
  { name: 'CSeq not a number', input: `${crlf([startLine, ...without('CSeq'), 'CSeq: one OPTIONS'])}\r\n\r\n`, status: 400, partial: true },
  { name: 'CSeq number 2**31', input: `${crlf([startLine, ...without('CSeq'), 'CSeq: 2147483648 OPTIONS'])}\r\n\r\n`, status: 400, partial: true },
  { name: 'CSeq method differs from the request method', input: `${crlf([startLine, ...without('CSeq'), 'CSeq: 1 INVITE'])}\r\n\r\n`, status: 400, partial: true },
  { name: 'From that is no name-addr', input: `${crlf([startLine, ...without('From'), 'From: <<<>'])}\r\n\r\n`, status: 400, partial: true },
  { name: 'Via that is no Via', input: `${crlf([startLine, ...without('Via'), 'Via: nonsense'])}\r\n\r\n`, status: 400, partial: true },
  { name: 'Via with a port out of range', input: `${crlf([startLine, ...without('Via'), 'Via: SIP/2.0/UDP h:65536;branch=z9hG4bK1'])}\r\n\r\n`, status: 400, partial: true },
  { name: 'Call-ID with a space', input: `${crlf([startLine, ...without('Call-ID'), 'Call-ID: a b'])}\r\n\r\n`, status: 400, partial: true },
  { name: 'Max-Forwards not a number', input: `${crlf([startLine, ...without('Max-Forwards'), 'Max-Forwards: seventy'])}\r\n\r\n`, status: 400, partial: true },
  { name: 'body shorter than Content-Length', input: options(['Content-Length: 10'], 'abc'), status: 400, partial: true },
  { name: 'Content-Length not a number', input: options(['Content-Length: ten'], 'abc'), status: 400, partial: true },
  { name: 'negative Content-Length', input: options(['Content-Length: -1'], 'abc'), status: 400, partial: true },
  { name: 'Content-Length with a fraction', input: options(['Content-Length: 1.5'], 'abc'), status: 400, partial: true },
  { name: 'conflicting Content-Length fields', input: options(['Content-Length: 1', 'l: 2'], 'abc'), status: 400, partial: true },
  { name: 'comma-joined Content-Length', input: options(['Content-Length: 1, 2'], 'abc'), status: 400, partial: true },
  { name: 'NUL in a header value', input: options(['Subject: a\0b']), status: 400, partial: true },
  { name: 'NUL in the start line', input: options([], '', 'OPTIONS sip:x\0@y SIP/2.0'), status: 400, partial: false },
  { name: 'bare CR inside a header line', input: options(['Subject: a\rVia: SIP/2.0/UDP evil;branch=z9hG4bK2']), status: 400, partial: true },
  { name: 'binary junk', input: Uint8Array.from([0xff, 0xfe, 0x00, 0x01, 0x80, 0x0d, 0x0a, 0x0d, 0x0a, 0x13]), status: 400, partial: false },
  { name: 'a RELOAD frame', input: Uint8Array.from([0x80, 0x00, 0x00, 0x10, 0xd2, 0x45, 0x4c, 0x4f]), status: 400, partial: false },
];

for (const c of HOSTILE) {
  test(`hostile datagram: ${c.name} → ${c.status}`, () => {
    const error = typed(() => parse(c.input, c.limits), c.name);
    assert.ok(error, `${c.name}: parsed`);
    assert.equal(error.status, c.status, `${c.name}: ${error.message}`);
    assert.equal(error.partial !== undefined, c.partial, `${c.name}: partial ${error.partial ? 'present' : 'missing'} (${error.message})`);
    if (error.partial) {
      // Whatever the mandatory fields that are there, the request line came through.
      assert.equal(error.partial.method, 'OPTIONS');
      assert.ok(error.partial.uri);
    }
  });
}

test('a 400 answerable from partial: Via, From, To, Call-ID and CSeq are all there', () => {
  const error = typed(() => parse(options(['Content-Length: 99'], 'short')), 'short body');
  assert.ok(error?.partial);
  for (const name of ['Via', 'From', 'To', 'Call-ID', 'CSeq']) assert.ok(error.partial.headers.has(name), name);
});

test('past maxHeaders the fields needed to answer are still collected', () => {
  const flood = Array.from({ length: 200 }, (_, i) => `X-H: ${i}`);
  const error = typed(() => parse(`${crlf([startLine, ...flood, ...MANDATORY])}\r\n\r\n`), 'flood');
  assert.equal(error?.status, 413);
  const headers = error?.partial?.headers as SipHeaders;
  assert.ok(headers.size <= 256);
  for (const name of ['Via', 'From', 'To', 'Call-ID', 'CSeq']) assert.ok(headers.has(name), name);
});

// ---- stream framing ----

interface Framed {
  messages: SipMessage[];
  keepalives: number;
  errors: SipParseError[];
  framer: SipStreamFramer;
}

function frame(chunks: readonly Uint8Array[], limits?: ParseLimits, label = 'stream'): Framed {
  const framer = new SipStreamFramer(limits);
  const out: Framed = { messages: [], keepalives: 0, errors: [], framer };
  framer.onMessage = (m) => out.messages.push(m);
  framer.onKeepalive = () => out.keepalives++;
  framer.onError = (e) => out.errors.push(e);
  const max = limits?.maxMessageBytes ?? 65_535;
  for (const chunk of chunks) {
    typed(() => framer.push(chunk), label);
    assert.ok(framer.bufferedBytes <= max, `${label}: ${framer.bufferedBytes} bytes buffered`);
  }
  return out;
}

function summary(m: SipMessage): string {
  return m.type === 'request' ? `${m.method} ${utf8(m.body)}` : `${m.status} ${utf8(m.body)}`;
}

const STREAM_TEXT = `\r\n${INVITE}\r\n\r\n${OK}${options(['Content-Length: 5'], 'hello')}`;
const STREAM = Buffer.from(STREAM_TEXT);
const STREAM_EXPECTED = [`INVITE ${SDP}`, '200 ', 'OPTIONS hello'];

test('stream: several messages and a keepalive in one chunk', () => {
  const r = frame([STREAM]);
  assert.deepEqual(r.messages.map(summary), STREAM_EXPECTED);
  assert.equal(r.keepalives, 1);
  assert.deepEqual(r.errors, []);
  assert.equal(r.framer.bufferedBytes, 0);
});

test('stream: split at every byte boundary', () => {
  for (let cut = 0; cut <= STREAM.length; cut++) {
    const r = frame([STREAM.subarray(0, cut), STREAM.subarray(cut)]);
    assert.deepEqual(r.messages.map(summary), STREAM_EXPECTED, `cut at ${cut}`);
    assert.equal(r.keepalives, 1, `cut at ${cut}`);
    assert.deepEqual(r.errors, [], `cut at ${cut}`);
  }
});

test('stream: one byte at a time', () => {
  const r = frame(Array.from(STREAM, (b) => Uint8Array.of(b)));
  assert.deepEqual(r.messages.map(summary), STREAM_EXPECTED);
  assert.equal(r.keepalives, 1);
});

test('stream: a chunk that finishes a buffered message and carries the next ones whole', () => {
  const first = Buffer.from(INVITE);
  const r = frame([first.subarray(0, 100), Buffer.concat([first.subarray(100), first, first, Buffer.from('\r\n\r\n')])]);
  assert.equal(r.messages.length, 3);
  assert.equal(r.keepalives, 1);
  assert.equal(r.framer.bufferedBytes, 0);
});

test('stream: CRLFCRLF is a keepalive ping; a single CRLF is skipped (RFC 5626 §3.5.1, §7.5)', () => {
  assert.equal(frame([Buffer.from('\r\n\r\n')]).keepalives, 1);
  assert.equal(frame([Buffer.from('\r\n\r\n\r\n\r\n')]).keepalives, 2);
  assert.equal(frame([Buffer.from('\r\n'), Buffer.from('\r'), Buffer.from('\n')]).keepalives, 1);
  const single = frame([Buffer.from(`\r\n${OK}`)]);
  assert.equal(single.keepalives, 0);
  assert.equal(single.messages.length, 1);
});

test('stream: Content-Length is mandatory (§18.3) and a 400 is answerable', () => {
  const r = frame([Buffer.from(options())]);
  assert.equal(r.messages.length, 0);
  assert.equal(r.errors.length, 1);
  assert.equal(r.errors[0].status, 400);
  assert.ok(r.errors[0].partial?.headers.has('Via'));
});

test('stream: a huge Content-Length fails at once, before any body is buffered', () => {
  const r = frame([Buffer.from(options(['Content-Length: 99999999999'], 'abc'))]);
  assert.equal(r.errors[0]?.status, 413);
  assert.ok(r.errors[0].partial);
  assert.equal(r.framer.bufferedBytes, 0);
  assert.equal(frame([Buffer.from(options([`Content-Length: ${'9'.repeat(400)}`]))]).errors[0]?.status, 413);
});

test('stream: a header section that never ends is cut at maxMessageBytes, even a byte at a time', () => {
  const limits = { maxMessageBytes: 2048 };
  const endless = Buffer.from(`${startLine}\r\n${'X-H: 1\r\n'.repeat(400)}`);
  const whole = frame([endless], limits);
  assert.equal(whole.errors[0]?.status, 413);
  const bytes = frame(Array.from(endless, (b) => Uint8Array.of(b)), limits);
  assert.equal(bytes.errors.length, 1);
  assert.equal(bytes.errors[0].status, 413);
});

test('stream: a message of exactly maxMessageBytes passes, one byte more fails', () => {
  const text = options(['Content-Length: 10'], '0123456789');
  const size = Buffer.byteLength(text);
  assert.equal(frame([Buffer.from(text)], { maxMessageBytes: size }).messages.length, 1);
  assert.equal(frame([Buffer.from(text)], { maxMessageBytes: size - 1 }).errors[0]?.status, 413);
  assert.equal(typed(() => parse(text, { maxMessageBytes: size - 1 }), 'datagram')?.status, 413);
});

test('stream: after an error the framer stops', () => {
  const r = frame([Buffer.from(options(['Content-Length: x'])), Buffer.from(OK), Buffer.from('\r\n\r\n')]);
  assert.equal(r.errors.length, 1);
  assert.equal(r.messages.length, 0);
  assert.equal(r.keepalives, 0);
  assert.equal(r.framer.error, r.errors[0]);
});

test('stream: a message handler that throws leaves the framer in step with the stream', () => {
  const framer = new SipStreamFramer();
  const got: string[] = [];
  framer.onMessage = (m) => {
    got.push(summary(m));
    if (got.length === 1) throw new Error('handler bug');
  };
  const first = Buffer.from(INVITE);
  framer.push(first.subarray(0, 300));
  assert.throws(() => framer.push(first.subarray(300)), /handler bug/);
  framer.push(Buffer.from(OK));
  assert.deepEqual(got, [`INVITE ${SDP}`, '200 ']);
  assert.equal(framer.bufferedBytes, 0);
});

test('stream: the reassembly buffer grows by doubling, so byte-sized chunks cost linear time', () => {
  const body = 'x'.repeat(60_000);
  const text = Buffer.from(options([`Content-Length: ${body.length}`], body));
  const started = process.hrtime.bigint();
  const framer = new SipStreamFramer();
  let got = 0;
  framer.onMessage = () => got++;
  for (let i = 0; i < text.length; i++) framer.push(text.subarray(i, i + 1));
  assert.equal(got, 1);
  // Quadratic copying of 60 kB would take seconds; linear takes milliseconds.
  assert.ok(Number(process.hrtime.bigint() - started) / 1e6 < 2000);
});

// ---- properties ----

/** Bytes that steer a mutation into the parser's interesting branches. */
const SPICE = [':', ',', ';', '"', '\\', '<', '>', '\r\n', '\n', ' ', '\t', '\r\n ', '\0', '%', '=', '@', '[', ']', '\r\n\r\n', '\u00e9', 'SIP/2.0', 'l: 9'];

type Mutation = { at: number; kind: 'delete' | 'insert' | 'replace'; len: number; text: string };

const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  at: fc.nat(),
  kind: fc.constantFrom('delete', 'insert', 'replace'),
  len: fc.integer({ min: 1, max: 8 }),
  text: fc.oneof(fc.constantFrom(...SPICE), fc.string({ unit: 'binary', maxLength: 4 })),
}) as fc.Arbitrary<Mutation>;

function mutate(base: Buffer, mutations: readonly Mutation[]): Buffer {
  let bytes = base;
  for (const m of mutations) {
    const at = bytes.length === 0 ? 0 : m.at % bytes.length;
    const text = Buffer.from(m.text, 'utf8');
    if (m.kind === 'delete') bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + m.len)]);
    else if (m.kind === 'insert') bytes = Buffer.concat([bytes.subarray(0, at), text, bytes.subarray(at)]);
    else bytes = Buffer.concat([bytes.subarray(0, at), text, bytes.subarray(at + m.len)]);
  }
  return bytes;
}

/** A parsed message survives serialize and parses back to the same fields and body. */
function checkReparse(m: SipMessage, label: string): void {
  const again = parseMessage(serialize(m));
  assert.deepEqual(entries(again).filter(([n]) => n !== 'Content-Length'), entries(m).filter(([n]) => n !== 'Content-Length'), label);
  assert.deepEqual(Buffer.from(again.body), Buffer.from(m.body), label);
}

const BASES = [INVITE, OK, options(['Contact: "A, b" <sip:a@b>;q=1, <sip:c@[::1]:5070>', 'Subject: x,', '  y'], 'hi')].map((t) => Buffer.from(t));

test('property: random bytes only ever raise SipParseError', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
    typed(() => parseMessage(bytes), 'random datagram');
    frame([bytes], undefined, 'random stream');
  }), { numRuns: 3000 * 15 });
});

test('property: random text with SIP-like structure only ever raises SipParseError', () => {
  const line = fc.array(fc.oneof(fc.constantFrom(...SPICE, 'Via', 'From', 'To', 'CSeq', 'Call-ID', 'Content-Length', 'INVITE', 'sip:'), fc.string({ maxLength: 6 })), { maxLength: 12 })
    .map((parts) => parts.join(''));
  fc.assert(fc.property(fc.array(line, { maxLength: 12 }), (lines) => {
    const bytes = Buffer.from(lines.join('\r\n'));
    typed(() => parseMessage(bytes), 'structured datagram');
    frame([bytes], undefined, 'structured stream');
  }), { numRuns: 3000 * 15 });
});

test('property: mutated valid messages parse or raise SipParseError, and what parses survives serialize', () => {
  fc.assert(fc.property(fc.constantFrom(...BASES), fc.array(mutationArb, { minLength: 1, maxLength: 4 }), fc.array(fc.integer({ min: 1, max: 97 }), { maxLength: 5 }), (base, mutations, cuts) => {
    const bytes = mutate(base, mutations);
    let message: SipMessage | undefined;
    typed(() => { message = parseMessage(bytes); }, 'mutated datagram');
    if (message) checkReparse(message, 'mutated datagram');
    const chunks: Uint8Array[] = [];
    for (let at = 0, i = 0; at < bytes.length; i++) {
      const n = cuts.length === 0 ? bytes.length : cuts[i % cuts.length];
      chunks.push(bytes.subarray(at, at + n));
      at += n;
    }
    const r = frame(chunks, undefined, 'mutated stream');
    for (const m of r.messages) checkReparse(m, 'mutated stream');
  }), { numRuns: 4000 * 15 });
});

test('property: a stream of valid messages frames the same however it is cut', () => {
  fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 20 }), (cuts) => {
    const chunks: Uint8Array[] = [];
    for (let at = 0, i = 0; at < STREAM.length; i++) {
      chunks.push(STREAM.subarray(at, at + cuts[i % cuts.length]));
      at += cuts[i % cuts.length];
    }
    const r = frame(chunks);
    assert.deepEqual(r.messages.map(summary), STREAM_EXPECTED);
    assert.equal(r.keepalives, 1);
  }), { numRuns: 500 * 15 });
});

test('property: value parsers only ever raise SipParseError', () => {
  const text = fc.oneof(
    fc.string({ maxLength: 60 }),
    fc.array(fc.constantFrom(...SPICE, 'sip:', 'sips:', 'a', '1', 'SIP/2.0/UDP', '5060', 'tag', '"'), { maxLength: 16 }).map((p) => p.join('')),
  );
  fc.assert(fc.property(text, (s) => {
    typed(() => parseUri(s), 'parseUri');
    typed(() => parseNameAddr(s), 'parseNameAddr');
    typed(() => parseVia(s), 'parseVia');
    typed(() => parseCSeq(s), 'parseCSeq');
  }), { numRuns: 5000 * 15 });
});

// ---- value round trips ----

const lowerAlnum = 'abcdefghijklmnopqrstuvwxyz0123456789';
const labelArb = fc.string({ unit: fc.constantFrom(...lowerAlnum), minLength: 1, maxLength: 8 });
const hostArb = fc.oneof(
  fc.array(labelArb, { minLength: 1, maxLength: 3 }).map((l) => l.join('.')),
  fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.')),
  fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }).map((g) => `[${g.map((n) => n.toString(16)).join(':')}]`),
);
const portArb = fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined });
const anyText = fc.string({ unit: 'grapheme', maxLength: 12 });
const tokenArb = fc.string({ unit: fc.constantFrom(...`${lowerAlnum}-.!%*_+\`'~`), minLength: 1, maxLength: 10 });

const uriArb: fc.Arbitrary<SipUri> = fc.record({
  scheme: fc.constantFrom('sip', 'sips'),
  user: fc.option(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }), { nil: undefined }),
  password: fc.option(anyText, { nil: undefined }),
  host: hostArb,
  port: portArb,
  params: fc.uniqueArray(fc.tuple(fc.string({ unit: fc.constantFrom(...lowerAlnum, '-', '_'), minLength: 1, maxLength: 8 }), fc.option(anyText, { nil: null })), { selector: (p) => p[0], maxLength: 4 })
    .map((p) => new Map(p)),
  headers: fc.uniqueArray(fc.tuple(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 6 }), anyText), { selector: (p) => p[0], maxLength: 3 })
    .map((h) => new Map(h)),
}).map((u) => {
  const uri: SipUri = { scheme: u.scheme, host: u.host, params: u.params, headers: u.headers };
  if (u.user !== undefined) {
    uri.user = u.user;
    if (u.password !== undefined) uri.password = u.password;
  }
  if (u.port !== undefined) uri.port = u.port;
  return uri;
});

/** gen-value (§25.1): a token, or a quoted-string made from any text. */
const genValueArb = fc.oneof(tokenArb, anyText.filter((s) => !/[\r\n]/.test(s)).map((s) => `"${s.replace(/["\\]/g, '\\$&')}"`));
const headerParamsArb = fc.uniqueArray(fc.tuple(tokenArb, fc.option(genValueArb, { nil: null })), { selector: (p) => p[0], maxLength: 4 })
  .map((p) => new Map(p));

test('property: parseUri(formatUri(u)) is u', () => {
  fc.assert(fc.property(uriArb, (uri) => {
    assert.deepEqual(parseUri(formatUri(uri)), uri);
  }), { numRuns: 2000 * 15 });
});

test('property: parseNameAddr(formatNameAddr(v)) is v', () => {
  const arb: fc.Arbitrary<NameAddr> = fc.record({
    displayName: fc.option(anyText.filter((s) => !/[\r\n]/.test(s)), { nil: undefined }),
    uri: uriArb.map(formatUri),
    params: headerParamsArb,
  }).map((v) => (v.displayName === undefined ? { uri: v.uri, params: v.params } : { displayName: v.displayName, uri: v.uri, params: v.params }));
  fc.assert(fc.property(arb, (value) => {
    assert.deepEqual(parseNameAddr(formatNameAddr(value)), value);
  }), { numRuns: 2000 * 15 });
});

test('property: parseVia(formatVia(v)) is v', () => {
  const arb: fc.Arbitrary<Via> = fc.record({
    protocol: fc.constantFrom('SIP/2.0', 'SIP/3.0'),
    transport: fc.constantFrom('UDP', 'TCP', 'TLS', 'SCTP', 'WS'),
    host: hostArb,
    port: portArb,
    params: headerParamsArb,
  }).map((v) => {
    const via: Via = { protocol: v.protocol, transport: v.transport, host: v.host, params: v.params };
    if (v.port !== undefined) via.port = v.port;
    return via;
  });
  fc.assert(fc.property(arb, (via) => {
    assert.deepEqual(parseVia(formatVia(via)), via);
  }), { numRuns: 2000 * 15 });
});
