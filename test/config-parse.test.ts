// Reading and writing the overlay configuration document (RFC 6940 §11.1): defaults, names
// resolved by namespace URI rather than prefix, the SIP usage's domain restriction in both
// spellings (RFC 7904 §3.4), kind-blocks of ConfigUpdate (§6.5.4) and toXml round trips.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigUpdateReq, KindId, decode, encode, fromHex } from '../src/codec/index.ts';
import {
  CONFIG_BASE_NS, CONFIG_CHORD_NS, CONFIG_SIP_NS, type OverlayConfiguration, baseKinds, defineKind, embeddedDefaultConfiguration,
  isNewerConfigurationSequence, kindBlockXml, nextConfigurationSequence, parseKindBlock, parseOverlayConfiguration, parseOverlayDocument,
  sipDomainRestriction, toXml,
} from '../src/reload/config/index.ts';

const BASE = `xmlns="${CONFIG_BASE_NS}"`;

function doc(body: string, attrs = 'instance-name="building.example"', rootAttrs = BASE): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<overlay ${rootAttrs}><configuration ${attrs}>${body}</configuration></overlay>`;
}

test('an empty configuration takes every default of §11.1', () => {
  const cfg = parseOverlayConfiguration(doc(''));
  const expected: OverlayConfiguration = {
    instanceName: 'building.example',
    sequence: 0,
    expiration: undefined,
    topologyPlugin: 'CHORD-RELOAD',
    nodeIdLength: 16,
    rootCerts: [],
    enrollmentServers: [],
    selfSignedPermitted: undefined,
    bootstrapNodes: [],
    turnDensity: 1,
    clientsPermitted: true,
    noIce: false,
    chord: { updateIntervalS: undefined, pingIntervalS: undefined, reactive: true },
    sharedSecret: undefined,
    maxMessageSize: 5000,
    initialTtl: 100,
    overlayReliabilityTimerMs: 3000,
    overlayLinkProtocols: ['TLS'],
    kindSigners: [],
    configurationSigners: [],
    badNodes: [],
    mandatoryExtensions: [],
    kinds: [],
    domainRestrictions: undefined,
    signature: undefined,
  };
  assert.deepEqual(cfg, expected);
});

test('bootstrap-node port defaults to 6084; booleans take 1 and 0; the prose spelling topology-plug-in is read', () => {
  const cfg = parseOverlayConfiguration(doc(
    '<bootstrap-node address="10.0.0.7"/><bootstrap-node address="::1" port="7000"/>'
    + '<no-ice>1</no-ice><clients-permitted>0</clients-permitted><topology-plug-in>CHORD-RELOAD</topology-plug-in>'
    + '<enrollment-server><url>https://enroll.example</url></enrollment-server>',
    'instance-name="b.example" sequence="65534" expiration="2031-01-02T03:04:05+01:00"',
  ));
  assert.deepEqual(cfg.bootstrapNodes, [{ host: '10.0.0.7', port: 6084 }, { host: '::1', port: 7000 }]);
  assert.equal(cfg.noIce, true);
  assert.equal(cfg.clientsPermitted, false);
  assert.equal(cfg.topologyPlugin, 'CHORD-RELOAD');
  assert.deepEqual(cfg.enrollmentServers, ['https://enroll.example']);
  assert.equal(cfg.sequence, 65534);
  assert.equal(cfg.expiration?.toISOString(), '2031-01-02T02:04:05.000Z');
});

test('names are resolved by namespace URI, not by prefix', () => {
  const prefixed = `<c:overlay xmlns:c="${CONFIG_BASE_NS}" xmlns:ring="${CONFIG_CHORD_NS}">`
    + '<c:configuration instance-name="x.example"><c:max-message-size>6000</c:max-message-size>'
    + '<ring:chord-ping-interval>5</ring:chord-ping-interval>'
    + `<chord-update-interval xmlns="${CONFIG_CHORD_NS}">7</chord-update-interval>`
    + '</c:configuration></c:overlay>';
  const cfg = parseOverlayConfiguration(prefixed);
  assert.equal(cfg.maxMessageSize, 6000);
  assert.deepEqual(cfg.chord, { updateIntervalS: 7, pingIntervalS: 5, reactive: true });

  // The usual prefix bound to another namespace is a foreign element, ignored.
  const misbound = parseOverlayConfiguration(doc('<chord:chord-ping-interval>5</chord:chord-ping-interval>', undefined,
    `${BASE} xmlns:chord="urn:example:not-chord"`));
  assert.equal(misbound.chord.pingIntervalS, undefined);

  // Foreign elements and attributes anywhere are ignored (§11.1.1 foreign-elements).
  const foreign = parseOverlayConfiguration(doc('<x:whatever xmlns:x="urn:example:x"><x:deep/></x:whatever>', 'instance-name="f.example" x:a="1" xmlns:x="urn:example:x"'));
  assert.equal(foreign.instanceName, 'f.example');
});

test('the SIP domain restriction is read in both spellings, in the kind and at configuration level', () => {
  const SIP = `xmlns:sip="${CONFIG_SIP_NS}"`;
  // RFC 7904 §3.4 prose: <domain-restrictions> in the configuration document.
  const plural = parseOverlayConfiguration(doc(
    '<sip:domain-restrictions enable="true"><sip:pattern>dht\\.example\\.com</sip:pattern><sip:pattern>.*\\.my\\.example</sip:pattern></sip:domain-restrictions>',
    undefined, `${BASE} ${SIP}`,
  ));
  assert.deepEqual(plural.domainRestrictions, { enable: true, patterns: ['dht\\.example\\.com', '.*\\.my\\.example'] });
  assert.deepEqual(sipDomainRestriction(plural), plural.domainRestrictions);

  // The same prose spelling unprefixed, in the config-base namespace; enable absent = false.
  const unprefixed = parseOverlayConfiguration(doc('<domain-restrictions/>'));
  assert.deepEqual(sipDomainRestriction(unprefixed), { enable: false, patterns: [] });

  // RFC 7904 grammar: sip:domain-restriction as a kind-parameter of SIP-REGISTRATION; it wins.
  const singular = parseOverlayConfiguration(doc(
    '<sip:domain-restrictions enable="false"/><required-kinds><kind-block><kind name="SIP-REGISTRATION">'
    + '<data-model>DICTIONARY</data-model><access-control>USER-NODE-MATCH</access-control><max-count>4</max-count><max-size>512</max-size>'
    + '<sip:domain-restriction enable="1"><sip:pattern>building\\.example</sip:pattern></sip:domain-restriction>'
    + '</kind></kind-block></required-kinds>',
    undefined, `${BASE} ${SIP}`,
  ));
  assert.deepEqual(singular.kinds[0].domainRestriction, { enable: true, patterns: ['building\\.example'] });
  assert.deepEqual(singular.kinds[0].namespaces, { '': CONFIG_BASE_NS, sip: CONFIG_SIP_NS });
  assert.deepEqual(sipDomainRestriction(singular), { enable: true, patterns: ['building\\.example'] });
  assert.deepEqual(parseOverlayConfiguration(toXml(singular)), singular);
});

test('the embedded default is a self-signed building overlay with the base kinds, and round-trips', () => {
  const cfg = embeddedDefaultConfiguration('building.example', { configurationSigners: [fromHex('00112233445566778899aabbccddeeff')] });
  assert.deepEqual(cfg.selfSignedPermitted, { value: true, digest: 'sha256' });
  const byId = new Map(cfg.kinds.map((k) => [k.id, k]));
  assert.deepEqual([...byId.keys()], [KindId.SIP_REGISTRATION, KindId.TURN_SERVICE, KindId.CERTIFICATE_BY_NODE, KindId.CERTIFICATE_BY_USER]);
  assert.equal(byId.get(1)?.dataModel, 'dictionary');
  assert.equal(byId.get(1)?.accessControl, 'USER-NODE-MATCH');
  assert.equal(byId.get(2)?.dataModel, 'single');
  assert.equal(byId.get(2)?.accessControl, 'NODE-MULTIPLE');
  assert.equal(byId.get(2)?.maxNodeMultiple, 20);
  assert.equal(byId.get(3)?.dataModel, 'array');
  assert.equal(byId.get(3)?.accessControl, 'NODE-MATCH');
  assert.equal(byId.get(16)?.dataModel, 'array');
  assert.equal(byId.get(16)?.accessControl, 'USER-MATCH');
  for (const k of cfg.kinds) assert.ok(k.maxCount > 0 && k.maxSize > 0 && k.maxSize < cfg.maxMessageSize);
  assert.deepEqual(parseOverlayConfiguration(toXml(cfg)), cfg);
});

test('toXml round trip of every field, several configurations in one document', () => {
  const first: OverlayConfiguration = {
    ...embeddedDefaultConfiguration('a.example', { domainRestriction: { enable: true, patterns: ['a\\.example', '.*&<>"'] } }),
    sequence: 513,
    expiration: new Date(Date.UTC(2030, 5, 1, 12, 0, 0, 250)),
    nodeIdLength: 20,
    rootCerts: [new Uint8Array(200).map((_, i) => i), Uint8Array.of(1, 2, 3)],
    enrollmentServers: ['https://enroll.a.example/path?q=1&r=2'],
    selfSignedPermitted: { value: false, digest: 'sha1' },
    bootstrapNodes: [{ host: '192.0.2.1', port: 6084 }, { host: 'fe80::1', port: 1 }],
    turnDensity: 0,
    clientsPermitted: false,
    noIce: false,
    chord: { updateIntervalS: 60, pingIntervalS: 600, reactive: false },
    sharedSecret: 'p&ss<word>',
    maxMessageSize: 65536,
    initialTtl: 12,
    overlayReliabilityTimerMs: 200,
    overlayLinkProtocols: ['TLS', 'DTLS'],
    kindSigners: [fromHex('0102')],
    configurationSigners: [fromHex('00'.repeat(16)), fromHex('ff'.repeat(20))],
    badNodes: [fromHex('ab'.repeat(16))],
    mandatoryExtensions: [CONFIG_CHORD_NS],
    domainRestrictions: { enable: false, patterns: [] },
  };
  const second = { ...embeddedDefaultConfiguration('b.example'), kinds: [defineKind({ id: 0xf0000001, dataModel: 'dictionary', accessControl: 'NODE-MATCH', maxCount: 3, maxSize: 9 })] };
  const read = parseOverlayDocument(toXml([first, second]));
  assert.deepEqual(read.configurations, [first, second]);
});

test('a ConfigUpdate kind-block is read with config-base as its default namespace (§6.5.4)', () => {
  const [sip] = baseKinds({ enable: true, patterns: ['x\\.example'] });
  const description = kindBlockXml(sip);
  assert.ok(description.startsWith(`<kind-block xmlns:sip="${CONFIG_SIP_NS}"><kind name="SIP-REGISTRATION">`));
  const body = encode(ConfigUpdateReq, { type: 'kind', kinds: [new TextEncoder().encode(description)] });
  const received = decode(ConfigUpdateReq, body);
  assert.equal(received.type, 'kind');
  assert.deepEqual(received.type === 'kind' && parseKindBlock(received.kinds[0]), sip);

  // A kind text whose default namespace is something else keeps its meaning in a copy.
  const odd = parseOverlayConfiguration(doc(`<required-kinds><kind-block><b:kind id="9" xmlns:b="${CONFIG_BASE_NS}" xmlns="urn:example:y">`
    + '<b:data-model>SINGLE</b:data-model><b:access-control>NODE-MATCH</b:access-control><b:max-count>1</b:max-count><b:max-size>1</b:max-size><foreign/>'
    + '</b:kind></kind-block></required-kinds>')).kinds[0];
  assert.deepEqual(odd.namespaces, {});
  assert.deepEqual(parseKindBlock(kindBlockXml(odd)), odd);
  const moved = parseOverlayConfiguration(doc(`<required-kinds><b:kind-block xmlns:b="${CONFIG_BASE_NS}" xmlns="urn:example:y"><b:kind id="9">`
    + '<b:data-model>SINGLE</b:data-model><b:access-control>NODE-MATCH</b:access-control><b:max-count>1</b:max-count><b:max-size>1</b:max-size><foreign/>'
    + `</b:kind></b:kind-block></required-kinds>`)).kinds[0];
  assert.deepEqual(moved.namespaces, { '': 'urn:example:y', b: CONFIG_BASE_NS });
  assert.deepEqual(parseKindBlock(kindBlockXml(moved)), moved);
});

test('configuration sequences compare modulo 65535 and wrap from 65534 to 0 (§6.3.2.1)', () => {
  assert.equal(isNewerConfigurationSequence(1, 0), true);
  assert.equal(isNewerConfigurationSequence(0, 0), false);
  assert.equal(isNewerConfigurationSequence(0, 1), false);
  assert.equal(isNewerConfigurationSequence(0, 65534), true);
  assert.equal(isNewerConfigurationSequence(65534, 0), false);
  assert.equal(isNewerConfigurationSequence(32767, 0), true);
  assert.equal(isNewerConfigurationSequence(32768, 0), false);
  assert.equal(nextConfigurationSequence(65534), 0);
  assert.equal(nextConfigurationSequence(7), 8);
  assert.throws(() => isNewerConfigurationSequence(65535, 0), RangeError);
});
