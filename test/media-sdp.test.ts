// SDP (RFC 4566) and offer/answer (RFC 3264) with the offers real peers send: baresip's
// (captured from baresip 1.0.0) and SIPp's built-in uac and uac_pcap scenarios.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  acceptAnswer, answerOffer, createOffer, parseSdp, rtpMaps, SdpError, serializeSdp, type AnswerResult, type NegotiatedMedia,
} from '../src/sip/media/sdp.ts';

const crlf = (lines: string[]): string => `${lines.join('\r\n')}\r\n`;

/** The SDP of an INVITE from baresip 1.0.0 (g711, opus, g722 modules loaded). */
const BARESIP_OFFER = crlf([
  'v=0',
  'o=- 1709900817 1534861231 IN IP4 192.0.2.2',
  's=-',
  'c=IN IP4 192.0.2.2',
  't=0 0',
  'a=tool:baresip 1.0.0',
  'm=audio 4096 RTP/AVP 0 8 96 9 101',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:96 opus/48000/2',
  'a=fmtp:96 stereo=1;sprop-stereo=1',
  'a=rtpmap:9 G722/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-15',
  'a=sendrecv',
  'a=label:1',
  'a=rtcp-rsize',
  'a=ssrc:3750589771 cname:sip:door@127.0.0.1',
  'a=minptime:20',
  'a=ptime:20',
]);

/** SIPp `-sd uac_pcap`, [local_ip] filled in; LF line ends as SIPp sends them from its XML. */
const SIPP_PCAP_OFFER = [
  'v=0',
  'o=user1 53655765 2353687637 IN IP4 10.0.0.5',
  's=-',
  'c=IN IP4 10.0.0.5',
  't=0 0',
  'm=audio 6000 RTP/AVP 8 101',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-11,16',
  '',
].join('\n');

/** SIPp `-sd uac`: PCMU only, no events. */
const SIPP_UAC_OFFER = crlf([
  'v=0',
  'o=user1 53655765 2353687637 IN IP4 10.0.0.5',
  's=-',
  'c=IN IP4 10.0.0.5',
  't=0 0',
  'm=audio 6000 RTP/AVP 0',
  'a=rtpmap:0 PCMU/8000',
]);

const LOCAL = { address: '192.0.2.10', port: 40000, sessionId: '42' };

function accepted(r: AnswerResult): { sdp: string; negotiated: NegotiatedMedia } {
  if (!r.ok) assert.fail(`refused: ${r.refusal.reason}: ${r.refusal.detail}`);
  return r;
}

test('createOffer: PCMU, PCMA and telephone-event 101 with fmtp 0-16', () => {
  const offer = createOffer(LOCAL);
  assert.equal(offer.sdp, crlf([
    'v=0',
    'o=- 42 42 IN IP4 192.0.2.10',
    's=-',
    'c=IN IP4 192.0.2.10',
    't=0 0',
    'm=audio 40000 RTP/AVP 0 8 101',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-16',
    'a=ptime:20',
    'a=sendrecv',
  ]));
  const v6 = createOffer({ address: 'fd00::2', port: 5004, telephoneEventPayloadType: null, codecs: ['PCMA'], direction: 'sendonly' });
  assert.match(v6.sdp, /^c=IN IP6 fd00::2\r$/m);
  assert.match(v6.sdp, /^m=audio 5004 RTP\/AVP 8\r$/m);
  assert.match(v6.sdp, /^a=sendonly\r$/m);
  assert.match(v6.sdp, /^o=- \d+ \d+ IN IP6 fd00::2\r$/m);
  assert.throws(() => createOffer({ ...LOCAL, telephoneEventPayloadType: 8 }), RangeError);
});

test('answerOffer: baresip — PCMU (its first choice) and its telephone-event 101', () => {
  const { sdp, negotiated } = accepted(answerOffer(BARESIP_OFFER, LOCAL));
  assert.deepEqual(negotiated, {
    codec: 'PCMU', payloadType: 0, telephoneEventPayloadType: 101,
    remote: { address: '192.0.2.2', port: 4096 }, remoteRtcp: { address: '192.0.2.2', port: 4097 },
    direction: 'sendrecv', ptimeMs: 20,
    receive: [{ payloadType: 0, format: 'PCMU' }, { payloadType: 101, format: 'telephone-event' }],
  });
  assert.equal(sdp, crlf([
    'v=0',
    'o=- 42 42 IN IP4 192.0.2.10',
    's=-',
    'c=IN IP4 192.0.2.10',
    't=0 0',
    'm=audio 40000 RTP/AVP 0 101',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-16',
    'a=ptime:20',
    'a=sendrecv',
  ]));
});

test('answerOffer: SIPp uac_pcap — PCMA and events 0-11,16 on LF-only lines', () => {
  const { sdp, negotiated } = accepted(answerOffer(SIPP_PCAP_OFFER, LOCAL));
  assert.equal(negotiated.codec, 'PCMA');
  assert.equal(negotiated.payloadType, 8);
  assert.equal(negotiated.telephoneEventPayloadType, 101);
  assert.deepEqual(negotiated.remote, { address: '10.0.0.5', port: 6000 });
  assert.match(sdp, /^m=audio 40000 RTP\/AVP 8 101\r$/m);
});

test('answerOffer: SIPp uac — PCMU without events; DTMF then has no payload type', () => {
  const { sdp, negotiated } = accepted(answerOffer(SIPP_UAC_OFFER, LOCAL));
  assert.equal(negotiated.codec, 'PCMU');
  assert.equal(negotiated.telephoneEventPayloadType, undefined);
  assert.match(sdp, /^m=audio 40000 RTP\/AVP 0\r$/m);
  assert.doesNotMatch(sdp, /telephone-event/);
});

test('answerOffer: static payload types need no rtpmap; the offerer\'s order decides', () => {
  const offer = crlf(['v=0', 'o=- 1 1 IN IP4 10.0.0.1', 's=-', 'c=IN IP4 10.0.0.1', 't=0 0', 'm=audio 5004 RTP/AVP 18 8 0']);
  const { negotiated } = accepted(answerOffer(offer, LOCAL));
  assert.equal(negotiated.codec, 'PCMA');
  assert.equal(negotiated.payloadType, 8);
  // Local preference restricts what is acceptable.
  const pcmuOnly = accepted(answerOffer(offer, { ...LOCAL, codecs: ['PCMU'] }));
  assert.equal(pcmuOnly.negotiated.codec, 'PCMU');
});

test('answerOffer: a dynamic PCMU mapping and a telephone-event type other than 101', () => {
  const offer = crlf([
    'v=0', 'o=- 1 1 IN IP4 10.0.0.1', 's=-', 'c=IN IP4 10.0.0.1', 't=0 0',
    'm=audio 5004 RTP/AVP 97 96 98',
    'a=rtpmap:97 pcmu/8000/1',
    'a=rtpmap:96 telephone-event/16000',
    'a=rtpmap:98 TELEPHONE-EVENT/8000',
  ]);
  const { sdp, negotiated } = accepted(answerOffer(offer, LOCAL));
  assert.equal(negotiated.codec, 'PCMU');
  assert.equal(negotiated.payloadType, 97);
  // Only the 8 kHz telephone-event is usable.
  assert.equal(negotiated.telephoneEventPayloadType, 98);
  assert.match(sdp, /^m=audio 40000 RTP\/AVP 97 98\r$/m);
  assert.match(sdp, /^a=rtpmap:97 PCMU\/8000\r$/m);
  assert.match(sdp, /^a=rtpmap:98 telephone-event\/8000\r$/m);
});

test('answerOffer: no common codec is a 488 with warning 305', () => {
  const offer = crlf(['v=0', 'o=- 1 1 IN IP4 10.0.0.1', 's=-', 'c=IN IP4 10.0.0.1', 't=0 0', 'm=audio 5004 RTP/AVP 9 96', 'a=rtpmap:96 opus/48000/2']);
  const r = answerOffer(offer, LOCAL);
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.refusal.status, 488);
  assert.equal(r.refusal.reason, 'no_common_codec');
  assert.equal(r.refusal.warning, 305);
});

test('answerOffer: video and SRTP streams are rejected with port 0, same m= count and order', () => {
  const offer = crlf([
    'v=0', 'o=- 1 1 IN IP4 10.0.0.1', 's=-', 't=0 0',
    'm=video 5006 RTP/AVP 96', 'c=IN IP4 10.0.0.1', 'a=rtpmap:96 H264/90000',
    'm=audio 5008 RTP/SAVP 0', 'c=IN IP4 10.0.0.1',
    'm=audio 5004 RTP/AVP 0 101', 'c=IN IP4 10.0.0.2', 'a=rtpmap:101 telephone-event/8000', 'a=rtcp:6001 IN IP4 10.0.0.3',
  ]);
  const { sdp, negotiated } = accepted(answerOffer(offer, LOCAL));
  const answer = parseSdp(sdp);
  assert.deepEqual(answer.media.map((m) => [m.media, m.port, m.proto]), [['video', 0, 'RTP/AVP'], ['audio', 0, 'RTP/SAVP'], ['audio', 40000, 'RTP/AVP']]);
  // Media-level c= (RFC 4566 §5.7) and a=rtcp (RFC 3605).
  assert.deepEqual(negotiated.remote, { address: '10.0.0.2', port: 5004 });
  assert.deepEqual(negotiated.remoteRtcp, { address: '10.0.0.3', port: 6001 });
});

test('answerOffer: refusals for no audio, a rejected audio stream, no c= line and junk', () => {
  const base = ['v=0', 'o=- 1 1 IN IP4 10.0.0.1', 's=-', 't=0 0'];
  const cases: [string, string][] = [
    [crlf([...base, 'm=video 5006 RTP/AVP 96']), 'no_audio'],
    [crlf([...base, 'c=IN IP4 10.0.0.1', 'm=audio 0 RTP/AVP 0']), 'no_audio'],
    [crlf([...base, 'm=audio 5004 RTP/AVP 0']), 'malformed'],
    [crlf([...base]), 'no_audio'],
    ['hello', 'malformed'],
    [crlf(['v=1', ...base.slice(1)]), 'malformed'],
  ];
  for (const [offer, reason] of cases) {
    const r = answerOffer(offer, LOCAL);
    assert.equal(r.ok, false, reason);
    if (!r.ok) {
      assert.equal(r.refusal.reason, reason, offer);
      assert.equal(r.refusal.status, 488);
    }
  }
});

test('answerOffer: directions (RFC 3264 §6.1) and old-style hold with c=0.0.0.0 (§8.4)', () => {
  const offer = (dir: string, addr = '10.0.0.1'): string =>
    crlf(['v=0', 'o=- 1 1 IN IP4 10.0.0.1', 's=-', `c=IN IP4 ${addr}`, 't=0 0', 'm=audio 5004 RTP/AVP 0', ...(dir ? [`a=${dir}`] : [])]);
  const dir = (text: string, local?: 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive'): [string, string | undefined] => {
    const r = accepted(answerOffer(text, local ? { ...LOCAL, direction: local } : LOCAL));
    return [r.negotiated.direction, /^a=(sendrecv|sendonly|recvonly|inactive)\r$/m.exec(r.sdp)?.[1]];
  };
  assert.deepEqual(dir(offer('')), ['sendrecv', 'sendrecv']);
  assert.deepEqual(dir(offer('sendonly')), ['recvonly', 'recvonly']);
  assert.deepEqual(dir(offer('recvonly')), ['sendonly', 'sendonly']);
  assert.deepEqual(dir(offer('inactive')), ['inactive', 'inactive']);
  assert.deepEqual(dir(offer('sendrecv', '0.0.0.0')), ['recvonly', 'recvonly']);
  assert.deepEqual(dir(offer('sendrecv'), 'sendonly'), ['sendonly', 'sendonly']);
  assert.deepEqual(dir(offer('recvonly'), 'recvonly'), ['inactive', 'inactive']);
  // Session-level direction applies when the media has none.
  const session = crlf(['v=0', 'o=- 1 1 IN IP4 10.0.0.1', 's=-', 'c=IN IP4 10.0.0.1', 't=0 0', 'a=sendonly', 'm=audio 5004 RTP/AVP 0']);
  assert.deepEqual(dir(session), ['recvonly', 'recvonly']);
});

test('acceptAnswer: our offer against baresip-like and SIPp-like answers', () => {
  const offer = createOffer(LOCAL);
  const answer = crlf([
    'v=0', 'o=- 9 9 IN IP4 10.0.0.7', 's=-', 'c=IN IP4 10.0.0.7', 't=0 0',
    'm=audio 7078 RTP/AVP 8 0 101', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-15', 'a=ptime:30',
  ]);
  const r = acceptAnswer(answer, offer);
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.equal(r.negotiated.codec, 'PCMA');
  assert.equal(r.negotiated.payloadType, 8);
  assert.equal(r.negotiated.telephoneEventPayloadType, 101);
  assert.equal(r.negotiated.ptimeMs, 30);
  assert.deepEqual(r.negotiated.remote, { address: '10.0.0.7', port: 7078 });
  assert.deepEqual(r.negotiated.receive?.map((f) => f.payloadType).sort((a, b) => a - b), [0, 8, 101]);
  // An answerer that picked its own event number: sent with its, received with both.
  const other = acceptAnswer(answer.replace(/101/g, '100'), offer.sdp);
  assert.ok(other.ok && other.negotiated.telephoneEventPayloadType === 100);
  if (other.ok) assert.deepEqual(other.negotiated.receive?.filter((f) => f.format === 'telephone-event').map((f) => f.payloadType), [101, 100]);
  // No events in the answer: none sent.
  const noEvents = acceptAnswer(crlf(['v=0', 'o=- 9 9 IN IP4 10.0.0.7', 's=-', 'c=IN IP4 10.0.0.7', 't=0 0', 'm=audio 7078 RTP/AVP 0']), offer);
  assert.ok(noEvents.ok && noEvents.negotiated.telephoneEventPayloadType === undefined);
});

test('acceptAnswer: rejected stream, wrong m= count, unknown codec', () => {
  const offer = createOffer(LOCAL);
  const head = ['v=0', 'o=- 9 9 IN IP4 10.0.0.7', 's=-', 'c=IN IP4 10.0.0.7', 't=0 0'];
  const reason = (answer: string): string | undefined => {
    const r = acceptAnswer(answer, offer);
    return r.ok ? undefined : r.refusal.reason;
  };
  assert.equal(reason(crlf([...head, 'm=audio 0 RTP/AVP 0'])), 'rejected');
  assert.equal(reason(crlf([...head, 'm=audio 7078 RTP/AVP 0', 'm=video 0 RTP/AVP 96'])), 'mismatch');
  assert.equal(reason(crlf([...head, 'm=audio 7078 RTP/AVP 9'])), 'no_common_codec');
  assert.equal(reason('v=0\r\nnonsense'), 'malformed');
});

test('offer → answer → accept between two instances of this code', () => {
  const offer = createOffer({ address: '127.0.0.1', port: 30000 });
  const answered = accepted(answerOffer(offer.sdp, { address: '127.0.0.1', port: 30002 }));
  const back = acceptAnswer(answered.sdp, offer);
  assert.ok(back.ok);
  if (!back.ok) return;
  assert.equal(back.negotiated.codec, answered.negotiated.codec);
  assert.equal(back.negotiated.telephoneEventPayloadType, 101);
  assert.deepEqual(back.negotiated.remote, { address: '127.0.0.1', port: 30002 });
  assert.deepEqual(answered.negotiated.remote, { address: '127.0.0.1', port: 30000 });
});

test('parse/serialize keeps unknown lines in their RFC 4566 §5 places', () => {
  const text = crlf([
    'v=0', 'o=alice 2890844526 2890844527 IN IP4 host.example.com', 's=Door', 'i=front door',
    'u=http://example.com/', 'c=IN IP4 192.0.2.5', 'b=AS:64', 't=0 0', 'r=604800 3600 0 90000', 'x=experimental',
    'a=tool:test', 'a=recvonly',
    'm=audio 49170 RTP/AVP 0', 'i=speaker', 'b=TIAS:64000', 'a=rtpmap:0 PCMU/8000', 'a=x-custom',
  ]);
  const sdp = parseSdp(text);
  assert.equal(serializeSdp(sdp), text);
  assert.equal(sdp.sessionName, 'Door');
  assert.deepEqual(sdp.origin, { username: 'alice', sessionId: '2890844526', sessionVersion: '2890844527', netType: 'IN', addrType: 'IP4', address: 'host.example.com' });
  assert.deepEqual(sdp.media[0].attributes.at(-1), { name: 'x-custom' });
  assert.deepEqual(rtpMaps(sdp.media[0]).get(0), { encoding: 'PCMU', clockRate: 8000 });
  // Lines given out of order are written back in order.
  const shuffled = parseSdp(crlf(['v=0', 'o=- 1 1 IN IP4 h', 's=-', 't=0 0', 'b=AS:1', 'c=IN IP4 h', 'i=late']));
  assert.equal(serializeSdp(shuffled), crlf(['v=0', 'o=- 1 1 IN IP4 h', 's=-', 'i=late', 'c=IN IP4 h', 'b=AS:1', 't=0 0']));
});

test('parse errors name the line', () => {
  const bad: [string, RegExp][] = [
    ['', /empty/],
    ['o=- 1 1 IN IP4 h\r\n', /line 1: first line must be v=/],
    ['v=0\r\ns=-\r\n', /missing o=/],
    ['v=0\r\no=- 1 IN IP4 h\r\n', /line 2: o= needs 6 fields/],
    ['v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4\r\n', /line 4: c= needs 3 fields/],
    ['v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 70000 RTP/AVP 0\r\n', /line 4: m= port/],
    ['v=0\r\no=- 1 1 IN IP4 h\r\n==\r\n', /line 3: expected <type>=<value>/],
    [`v=0\r\n${'a=x\r\n'.repeat(600)}`, /lines, at most/],
  ];
  for (const [text, message] of bad) assert.throws(() => parseSdp(text), (e: unknown) => e instanceof SdpError && message.test(e.message), text.slice(0, 30));
});
