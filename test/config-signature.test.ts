// Configuration and kind signatures (RFC 6940 §11.1) and the ConfigUpdate acceptance rule
// (§6.5.4): signed by a configuration-signer of the configuration in force, sequence newer
// modulo 65535 (§6.3.2.1), same instance-name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { SecurityBlock, decode, encode, toHex } from '../src/codec/index.ts';
import { FakeClock } from '../src/util/clock.ts';
import { type NodeIdentity, type TrustPolicy, createSelfSignedIdentity } from '../src/reload/security/index.ts';
import {
  type OverlayConfiguration, acceptConfigUpdate, defineKind, embeddedDefaultConfiguration, parseOverlayConfiguration, parseOverlayDocument,
  signConfiguration, signKind, signedConfigurationBytes, toXml, verifyConfigurationSignature, verifyKindSignature,
} from '../src/reload/config/index.ts';

const OVERLAY = 'building.example';
const clock = new FakeClock();
const identity = (overlay = OVERLAY, privateKey?: Parameters<typeof createSelfSignedIdentity>[0]['privateKey']): NodeIdentity =>
  createSelfSignedIdentity({ overlay, userName: `admin@${overlay}`, clock, privateKey });
const admin = identity();
const intruder = identity();

/** A signed document of the embedded configuration with `changes`, signed by `signer`. */
function signedDocument(changes: Partial<OverlayConfiguration>, signer: NodeIdentity = admin): string {
  const cfg = { ...embeddedDefaultConfiguration(OVERLAY, { configurationSigners: [admin.nodeId] }), ...changes };
  return signConfiguration(toXml(cfg), signer);
}

const opts = { clock };

test('sign then verify: the first configuration vouches for its own signer (trust on first use)', () => {
  const xml = signedDocument({});
  const cfg = parseOverlayConfiguration(xml);
  const check = verifyConfigurationSignature(cfg, [], undefined, opts);
  assert.ok(check.ok, check.ok ? '' : check.message);
  assert.equal(toHex(check.signerNodeId), toHex(admin.nodeId));
  // The signature element is a base64 SecurityBlock carrying the signer's certificate (§11.1, §6.3.4).
  const block = decode(SecurityBlock, cfg.signature!.elements[0].securityBlock);
  assert.deepEqual(block.certificates, [{ type: 0, certificate: admin.certificate }]);
  assert.equal(block.signature.identity.type, 'cert_hash');
  // It covers exactly `<configuration` … `</configuration>`.
  const covered = new TextDecoder().decode(cfg.signature!.signedBytes);
  assert.ok(covered.startsWith('<configuration instance-name="building.example"') && covered.endsWith('</configuration>'));
});

test('an RSA configuration-signer verifies too (RSASSA-PKCS1-v1_5 with SHA-256, §6.3.4)', () => {
  const rsa = identity(OVERLAY, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey);
  const xml = signConfiguration(toXml(embeddedDefaultConfiguration(OVERLAY, { configurationSigners: [rsa.nodeId] })), rsa);
  const check = verifyConfigurationSignature(parseOverlayConfiguration(xml), [], undefined, opts);
  assert.ok(check.ok, check.ok ? '' : check.message);
});

test('a changed byte inside the configuration breaks the signature', () => {
  const bytes = new TextEncoder().encode(signedDocument({}));
  const at = Buffer.from(bytes).indexOf('<max-message-size>5000') + '<max-message-size>'.length;
  const tampered = bytes.slice();
  tampered[at] = '6'.charCodeAt(0);
  const cfg = parseOverlayConfiguration(tampered);
  assert.equal(cfg.maxMessageSize, 6000);
  const check = verifyConfigurationSignature(cfg, [], undefined, opts);
  assert.equal(check.ok ? 'ok' : check.reason, 'bad_signature');
});

test('whitespace outside the configuration element is not covered; inside it is', () => {
  const xml = signedDocument({});
  const outside = xml.replace('<overlay ', '<overlay   ');
  assert.ok(verifyConfigurationSignature(parseOverlayConfiguration(outside), [], undefined, opts).ok);
  const inside = xml.replace('<initial-ttl>', ' <initial-ttl>');
  const check = verifyConfigurationSignature(parseOverlayConfiguration(inside), [], undefined, opts);
  assert.equal(check.ok ? 'ok' : check.reason, 'bad_signature');
});

test('signed by a node that is not a configuration-signer: refused', () => {
  const cfg = parseOverlayConfiguration(signedDocument({}, intruder));
  const check = verifyConfigurationSignature(cfg, [], undefined, opts);
  assert.equal(check.ok ? 'ok' : check.reason, 'not_a_signer');
});

test('unsigned, no signers, bad-node, untrusted certificate: each refused with its reason', () => {
  const unsigned = parseOverlayConfiguration(toXml(embeddedDefaultConfiguration(OVERLAY, { configurationSigners: [admin.nodeId] })));
  assert.equal(reasonOf(verifyConfigurationSignature(unsigned, [], undefined, opts)), 'unsigned');

  const noSigners = parseOverlayConfiguration(signConfiguration(toXml(embeddedDefaultConfiguration(OVERLAY)), admin));
  assert.equal(reasonOf(verifyConfigurationSignature(noSigners, [], undefined, opts)), 'no_signers');

  const bad = parseOverlayConfiguration(signedDocument({ badNodes: [admin.nodeId] }));
  assert.equal(reasonOf(verifyConfigurationSignature(bad, [], undefined, opts)), 'bad_node');

  // A self-signed certificate made for another overlay does not hold a Node-ID here (§11.3).
  const stranger = identity('elsewhere.example');
  const foreign = parseOverlayConfiguration(signConfiguration(toXml(embeddedDefaultConfiguration(OVERLAY, { configurationSigners: [stranger.nodeId] })), stranger));
  assert.equal(reasonOf(verifyConfigurationSignature(foreign, [], undefined, opts)), 'untrusted_certificate');

  // Without self-signed-permitted, a trust policy must be given.
  const ca = parseOverlayConfiguration(signedDocument({ selfSignedPermitted: undefined }));
  assert.equal(reasonOf(verifyConfigurationSignature(ca, [], undefined, opts)), 'untrusted_certificate');
  const acceptAll: TrustPolicy = { check() {} };
  assert.ok(verifyConfigurationSignature(ca, [], undefined, { ...opts, trust: acceptAll }).ok);

  // Expired signer certificate (self-signed validity is ten years).
  const later = new FakeClock(clock.wallTime() + 11 * 365 * 24 * 3600 * 1000);
  assert.equal(reasonOf(verifyConfigurationSignature(parseOverlayConfiguration(signedDocument({})), [], undefined, { clock: later })), 'untrusted_certificate');
});

test('a signature whose SecurityBlock lacks the certificate verifies with the certificate given', () => {
  const xml = signedDocument({});
  const cfg = parseOverlayConfiguration(xml);
  const block = decode(SecurityBlock, cfg.signature!.elements[0].securityBlock);
  const bare = { ...cfg, signature: { ...cfg.signature!, elements: [{ securityBlock: encode(SecurityBlock, { ...block, certificates: [] }), algorithm: undefined }] } };
  assert.equal(reasonOf(verifyConfigurationSignature(bare, [], undefined, opts)), 'unknown_signer');
  assert.ok(verifyConfigurationSignature(bare, [admin.certificate], undefined, opts).ok);
});

test('signedConfigurationBytes returns the exact bytes, byte-order mark and multi-byte characters included', () => {
  const text = toXml({ ...embeddedDefaultConfiguration(OVERLAY, { configurationSigners: [admin.nodeId] }), sharedSecret: 'grüße €' });
  const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(text)]);
  const covered = signedConfigurationBytes(bytes);
  const start = Buffer.from(bytes).indexOf('<configuration');
  const end = Buffer.from(bytes).indexOf('</configuration>') + '</configuration>'.length;
  assert.deepEqual(covered, bytes.subarray(start, end));
  assert.equal(covered.buffer, bytes.buffer, 'a view of the caller\'s bytes, not a copy');
  assert.deepEqual(signedConfigurationBytes(text), bytes.subarray(start, end));
  // Signing leaves those bytes as they were: the document signed from bytes verifies.
  const signed = signConfiguration(bytes, admin);
  assert.ok(signed.startsWith('\uFEFF'));
  const cfg = parseOverlayConfiguration(new TextEncoder().encode(signed));
  assert.deepEqual(cfg.signature?.signedBytes, covered);
  assert.equal(cfg.sharedSecret, 'grüße €');
  assert.ok(verifyConfigurationSignature(cfg, [], undefined, opts).ok);
});

test('signConfiguration signs every configuration and replaces old signatures', () => {
  const other = { ...embeddedDefaultConfiguration('other.example'), configurationSigners: [admin.nodeId] };
  const both = toXml([embeddedDefaultConfiguration(OVERLAY, { configurationSigners: [admin.nodeId] }), other]);
  const once = signConfiguration(both, admin);
  const twice = signConfiguration(once, admin);
  assert.equal(once.match(/<signature>/g)?.length, 2);
  assert.equal(twice.match(/<signature>/g)?.length, 2);
  // ECDSA signatures vary in length: compare with their values blanked.
  const blank = (x: string) => x.replace(/<signature>[^<]*<\/signature>/g, '<signature/>');
  assert.equal(blank(twice), blank(once), 'the old signatures are replaced, no blank lines accumulate');
  const [mine, theirs] = parseOverlayDocument(twice).configurations;
  assert.ok(verifyConfigurationSignature(mine, [], undefined, opts).ok);
  // The signer's self-signed certificate is for building.example: it holds no Node-ID in other.example.
  assert.equal(reasonOf(verifyConfigurationSignature(theirs, [], undefined, opts)), 'untrusted_certificate');

  // Only the one asked for; a prefixed root gets a prefixed signature element.
  const onlyOther = signConfiguration(both, admin, { instanceName: 'other.example' });
  assert.equal(onlyOther.match(/<signature>/g)?.length, 1);
  const prefixed = `<p:overlay xmlns:p="urn:ietf:params:xml:ns:p2p:config-base"><p:configuration instance-name="${OVERLAY}">`
    + `<p:configuration-signer>${toHex(admin.nodeId)}</p:configuration-signer><p:self-signed-permitted digest="sha256">true</p:self-signed-permitted>`
    + '</p:configuration></p:overlay>';
  const signedPrefixed = signConfiguration(prefixed, admin);
  assert.match(signedPrefixed, /<p:signature>[A-Za-z0-9+/=]+<\/p:signature><\/p:overlay>$/);
  assert.ok(verifyConfigurationSignature(parseOverlayConfiguration(signedPrefixed), [], undefined, opts).ok);
});

test('ConfigUpdate: a newer configuration signed by a configuration-signer of the current one is accepted', () => {
  const current = parseOverlayConfiguration(signedDocument({ sequence: 5 }));
  const decision = acceptConfigUpdate(current, signedDocument({ sequence: 6, maxMessageSize: 8000 }), [], opts);
  assert.ok(decision.accepted, decision.accepted ? '' : decision.message);
  assert.equal(decision.configuration.maxMessageSize, 8000);
  assert.equal(toHex(decision.signerNodeId), toHex(admin.nodeId));
  // The next one may name a new signer; it is the current one's signers that count.
  const handover = acceptConfigUpdate(current, signedDocument({ sequence: 7, configurationSigners: [intruder.nodeId] }, admin), [], opts);
  assert.ok(handover.accepted);
  const next = acceptConfigUpdate(handover.configuration, signedDocument({ sequence: 8 }, admin), [], opts);
  assert.equal(next.accepted ? 'accepted' : next.reason, 'not_a_signer');
});

test('ConfigUpdate: refusals name their reason', () => {
  const current = parseOverlayConfiguration(signedDocument({ sequence: 5 }));
  const refusal = (xml: string | Uint8Array) => {
    const d = acceptConfigUpdate(current, xml, [], opts);
    return d.accepted ? 'accepted' : d.reason;
  };
  assert.equal(refusal(signedDocument({ sequence: 5 })), 'not_newer');
  assert.equal(refusal(signedDocument({ sequence: 4 })), 'not_newer');
  assert.equal(refusal(signedDocument({ sequence: 6 }, intruder)), 'not_a_signer');
  assert.equal(refusal(toXml({ ...embeddedDefaultConfiguration(OVERLAY), sequence: 6 })), 'unsigned');
  assert.equal(refusal(signedDocument({ sequence: 6, instanceName: 'other.example' })), 'instance_name_mismatch');
  assert.equal(refusal(signedDocument({ sequence: 6, expiration: new Date(clock.wallTime() - 1000) })), 'expired');
  assert.equal(refusal(signedDocument({ sequence: 6, mandatoryExtensions: ['urn:example:ext'] })), 'unsupported_extension');
  assert.equal(refusal('<overlay/>'), 'malformed');
  assert.equal(refusal(Uint8Array.of(0xff)), 'malformed');
  const tampered = signedDocument({ sequence: 6 }).replace('<initial-ttl>100', '<initial-ttl>101');
  assert.equal(refusal(tampered), 'bad_signature');
  assert.equal(acceptConfigUpdate(current, signedDocument({ sequence: 6, mandatoryExtensions: ['urn:example:ext'] }), [], { ...opts, supportedExtensions: ['urn:example:ext'] }).accepted, true);
});

test('ConfigUpdate: sequence numbers wrap from 65534 to 0', () => {
  const current = parseOverlayConfiguration(signedDocument({ sequence: 65534 }));
  assert.equal(acceptConfigUpdate(current, signedDocument({ sequence: 0 }), [], opts).accepted, true);
  assert.equal(acceptConfigUpdate(current, signedDocument({ sequence: 10 }), [], opts).accepted, true);
  const refused = acceptConfigUpdate(current, signedDocument({ sequence: 65533 }), [], opts);
  assert.equal(refused.accepted ? 'accepted' : refused.reason, 'not_newer');
  const afterWrap = parseOverlayConfiguration(signedDocument({ sequence: 0 }));
  const old = acceptConfigUpdate(afterWrap, signedDocument({ sequence: 65534 }), [], opts);
  assert.equal(old.accepted ? 'accepted' : old.reason, 'not_newer');
});

test('kind signatures: by a kind-signer over the kind text, which toXml keeps verbatim', () => {
  const door = defineKind({ id: 0xf0000010, dataModel: 'single', accessControl: 'NODE-MATCH', maxCount: 1, maxSize: 32 });
  const signed = signKind(door, admin);
  const cfg = { ...embeddedDefaultConfiguration(OVERLAY), kindSigners: [admin.nodeId], kinds: [signed] };
  const read = parseOverlayConfiguration(toXml(cfg));
  assert.ok(verifyKindSignature(read.kinds[0], read, [], opts).ok);
  assert.equal(reasonOf(verifyKindSignature(signKind(door, intruder), read, [], opts)), 'not_a_signer');
  assert.equal(reasonOf(verifyKindSignature(door, read, [], opts)), 'unsigned');
  const altered = { ...signed, xml: signed.xml.replace('<max-size>32', '<max-size>33') };
  assert.equal(reasonOf(verifyKindSignature(altered, read, [], opts)), 'bad_signature');
});

function reasonOf(check: ReturnType<typeof verifyConfigurationSignature>): string {
  return check.ok ? 'ok' : check.reason;
}
