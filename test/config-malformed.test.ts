// Malformed configuration documents (RFC 6940 §11.1, §11.1.1): each is a ConfigurationError
// with the reason and the element at fault, never another exception; random damage to a
// valid document only ever gives ConfigurationError.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  CONFIG_BASE_NS, type ConfigurationErrorReason, ConfigurationError, acceptConfigUpdate, embeddedDefaultConfiguration, parseKindBlock,
  parseOverlayConfiguration, parseOverlayDocument, signedConfigurationBytes, toXml,
} from '../src/reload/config/index.ts';

const BASE = `xmlns="${CONFIG_BASE_NS}"`;
const doc = (body: string, attrs = 'instance-name="b.example"') => `<overlay ${BASE}><configuration ${attrs}>${body}</configuration></overlay>`;
const kind = (inner: string, attrs = 'id="4000"') => doc(`<required-kinds><kind-block><kind ${attrs}>${inner}</kind></kind-block></required-kinds>`);
const KIND_OK = '<data-model>SINGLE</data-model><access-control>NODE-MATCH</access-control><max-count>1</max-count><max-size>10</max-size>';

interface Case {
  name: string;
  input: string | Uint8Array;
  reason: ConfigurationErrorReason;
  /** The element the error names ('' for the document). */
  element: string;
}

const CASES: Case[] = [
  { name: 'empty input', input: '', reason: 'malformed_xml', element: '' },
  { name: 'not XML', input: 'node-id-length = 16', reason: 'malformed_xml', element: '' },
  { name: 'truncated', input: doc('').slice(0, 60), reason: 'malformed_xml', element: '' },
  { name: 'mismatched end tag', input: `<overlay ${BASE}><configuration instance-name="x"></overlay>`, reason: 'malformed_xml', element: '' },
  { name: 'invalid UTF-8', input: Uint8Array.of(0x3c, 0x6f, 0xff, 0x3e), reason: 'malformed_xml', element: '' },
  { name: 'declared encoding not UTF-8', input: `<?xml version="1.0" encoding="ISO-8859-1"?>${doc('')}`, reason: 'malformed_xml', element: '' },
  { name: 'undefined entity', input: doc('<shared-secret>&secret;</shared-secret>'), reason: 'malformed_xml', element: '' },
  { name: 'DTD entity', input: `<!DOCTYPE overlay [<!ENTITY x "16">]>${doc('<node-id-length>&x;</node-id-length>')}`, reason: 'malformed_xml', element: '' },
  { name: 'duplicate attribute', input: doc('', 'instance-name="a" instance-name="b"'), reason: 'malformed_xml', element: '' },
  { name: 'unbound prefix', input: doc('<x:y/>'), reason: 'malformed_xml', element: 'x:y' },
  { name: 'nested too deep', input: doc(`<x:a xmlns:x="urn:x">${'<x:a>'.repeat(40)}${'</x:a>'.repeat(40)}</x:a>`), reason: 'malformed_xml', element: 'x:a' },
  { name: 'nested deeper than the parser stack', input: doc(`${'<a>'.repeat(20000)}${'</a>'.repeat(20000)}`), reason: 'malformed_xml', element: '' },
  { name: 'larger than the limit', input: doc(`<shared-secret>${'s'.repeat(1024 * 1024)}</shared-secret>`), reason: 'malformed_xml', element: '' },
  { name: 'root without namespace', input: '<overlay><configuration instance-name="x"/></overlay>', reason: 'invalid', element: 'overlay' },
  { name: 'wrong root', input: `<configuration ${BASE} instance-name="x"/>`, reason: 'invalid', element: 'configuration' },
  { name: 'no configuration', input: `<overlay ${BASE}/>`, reason: 'invalid', element: 'overlay' },
  { name: 'signature before configuration', input: `<overlay ${BASE}><signature>AAAA</signature><configuration instance-name="x"/></overlay>`, reason: 'invalid', element: 'signature' },
  { name: 'signature not base64', input: `<overlay ${BASE}><configuration instance-name="x"/><signature>@@@@</signature></overlay>`, reason: 'invalid', element: 'signature' },
  { name: 'unknown element at root', input: `<overlay ${BASE}><configuration instance-name="x"/><config/></overlay>`, reason: 'invalid', element: 'overlay' },
  { name: 'no instance-name', input: doc('', 'sequence="1"'), reason: 'invalid', element: 'configuration' },
  { name: 'empty instance-name', input: doc('', 'instance-name=" "'), reason: 'invalid', element: 'configuration' },
  { name: 'sequence 65535', input: doc('', 'instance-name="x" sequence="65535"'), reason: 'invalid', element: 'configuration sequence' },
  { name: 'sequence negative', input: doc('', 'instance-name="x" sequence="-1"'), reason: 'invalid', element: 'configuration sequence' },
  { name: 'sequence not a number', input: doc('', 'instance-name="x" sequence="twenty"'), reason: 'invalid', element: 'configuration sequence' },
  { name: 'expiration not a date-time', input: doc('', 'instance-name="x" expiration="tomorrow"'), reason: 'invalid', element: 'configuration expiration' },
  { name: 'expiration month 13', input: doc('', 'instance-name="x" expiration="2030-13-01T00:00:00Z"'), reason: 'invalid', element: 'configuration expiration' },
  { name: 'expiration February 31', input: doc('', 'instance-name="x" expiration="2030-02-31T00:00:00Z"'), reason: 'invalid', element: 'configuration expiration' },
  { name: 'misspelt parameter', input: doc('<max-mesage-size>10</max-mesage-size>'), reason: 'invalid', element: 'max-mesage-size' },
  { name: 'unknown chord parameter', input: doc(`<c:chord-fingers xmlns:c="urn:ietf:params:xml:ns:p2p:config-chord">4</c:chord-fingers>`), reason: 'invalid', element: 'chord-fingers' },
  { name: 'parameter twice', input: doc('<node-id-length>16</node-id-length><node-id-length>16</node-id-length>'), reason: 'invalid', element: 'node-id-length' },
  { name: 'both topology spellings', input: doc('<topology-plugin>A</topology-plugin><topology-plug-in>A</topology-plug-in>'), reason: 'invalid', element: 'topology-plug-in' },
  { name: 'empty topology-plugin', input: doc('<topology-plugin> </topology-plugin>'), reason: 'invalid', element: 'topology-plugin' },
  { name: 'node-id-length 15', input: doc('<node-id-length>15</node-id-length>'), reason: 'invalid', element: 'node-id-length' },
  { name: 'node-id-length 21', input: doc('<node-id-length>21</node-id-length>'), reason: 'invalid', element: 'node-id-length' },
  { name: 'element where text belongs', input: doc('<node-id-length><x/></node-id-length>'), reason: 'invalid', element: 'node-id-length' },
  { name: 'root-cert not base64', input: doc('<root-cert>not*base64</root-cert>'), reason: 'invalid', element: 'root-cert' },
  { name: 'root-cert bad padding', input: doc('<root-cert>AAA=A===</root-cert>'), reason: 'invalid', element: 'root-cert' },
  { name: 'enrollment-server over http', input: doc('<enrollment-server>http://e.example</enrollment-server>'), reason: 'invalid', element: 'enrollment-server' },
  { name: 'enrollment-server not a URL', input: doc('<enrollment-server>enroll</enrollment-server>'), reason: 'invalid', element: 'enrollment-server' },
  { name: 'self-signed digest md5', input: doc('<self-signed-permitted digest="md5">true</self-signed-permitted>'), reason: 'invalid', element: 'self-signed-permitted' },
  { name: 'self-signed without digest', input: doc('<self-signed-permitted>true</self-signed-permitted>'), reason: 'invalid', element: 'self-signed-permitted' },
  { name: 'self-signed yes', input: doc('<self-signed-permitted digest="sha1">yes</self-signed-permitted>'), reason: 'invalid', element: 'self-signed-permitted' },
  { name: 'bootstrap host name', input: doc('<bootstrap-node address="boot.example"/>'), reason: 'invalid', element: 'bootstrap-node' },
  { name: 'bootstrap without address', input: doc('<bootstrap-node port="6084"/>'), reason: 'invalid', element: 'bootstrap-node' },
  { name: 'bootstrap port 70000', input: doc('<bootstrap-node address="192.0.2.1" port="70000"/>'), reason: 'invalid', element: 'bootstrap-node port' },
  { name: 'turn-density 256', input: doc('<turn-density>256</turn-density>'), reason: 'invalid', element: 'turn-density' },
  { name: 'clients-permitted yes', input: doc('<clients-permitted>yes</clients-permitted>'), reason: 'invalid', element: 'clients-permitted' },
  { name: 'chord-ping-interval 0', input: doc('<c:chord-ping-interval xmlns:c="urn:ietf:params:xml:ns:p2p:config-chord">0</c:chord-ping-interval>'), reason: 'invalid', element: 'chord-ping-interval' },
  { name: 'initial-ttl 0', input: doc('<initial-ttl>0</initial-ttl>'), reason: 'invalid', element: 'initial-ttl' },
  { name: 'initial-ttl 256', input: doc('<initial-ttl>256</initial-ttl>'), reason: 'invalid', element: 'initial-ttl' },
  { name: 'max-message-size 1.5', input: doc('<max-message-size>1.5</max-message-size>'), reason: 'invalid', element: 'max-message-size' },
  { name: 'overlay-reliability-timer 199', input: doc('<overlay-reliability-timer>199</overlay-reliability-timer>'), reason: 'invalid', element: 'overlay-reliability-timer' },
  { name: 'kind-signer not hex', input: doc('<kind-signer>xyz1</kind-signer>'), reason: 'invalid', element: 'kind-signer' },
  { name: 'configuration-signer odd length', input: doc('<configuration-signer>abc</configuration-signer>'), reason: 'invalid', element: 'configuration-signer' },
  { name: 'bad-node longer than 20 bytes', input: doc(`<bad-node>${'ab'.repeat(21)}</bad-node>`), reason: 'invalid', element: 'bad-node' },
  { name: 'unsupported mandatory extension', input: doc('<mandatory-extension>urn:example:ext</mandatory-extension>'), reason: 'unsupported_extension', element: 'mandatory-extension' },
  { name: 'two domain restrictions', input: doc('<domain-restrictions/><domain-restriction/>'), reason: 'invalid', element: 'domain-restriction' },
  { name: 'domain restriction enable maybe', input: doc('<domain-restrictions enable="maybe"/>'), reason: 'invalid', element: 'domain-restrictions enable' },
  { name: 'empty domain pattern', input: doc('<domain-restrictions enable="true"><pattern> </pattern></domain-restrictions>'), reason: 'invalid', element: 'pattern' },
  { name: 'kind-block without kind', input: doc('<required-kinds><kind-block/></required-kinds>'), reason: 'invalid', element: 'kind-block' },
  { name: 'kind-block with two kinds', input: doc(`<required-kinds><kind-block><kind id="5">${KIND_OK}</kind><kind id="6">${KIND_OK}</kind></kind-block></required-kinds>`), reason: 'invalid', element: 'kind-block' },
  { name: 'unknown element in required-kinds', input: doc('<required-kinds><kind/></required-kinds>'), reason: 'invalid', element: 'required-kinds' },
  { name: 'kind with name and id', input: kind(KIND_OK, 'id="5" name="TURN-SERVICE"'), reason: 'invalid', element: 'kind' },
  { name: 'kind with neither name nor id', input: kind(KIND_OK, ''), reason: 'invalid', element: 'kind' },
  { name: 'kind with unknown name', input: kind(KIND_OK, 'name="DOORBELL"'), reason: 'invalid', element: 'kind' },
  { name: 'kind id 0', input: kind(KIND_OK, 'id="0"'), reason: 'invalid', element: 'kind id' },
  { name: 'kind id above 2^32-1', input: kind(KIND_OK, 'id="4294967296"'), reason: 'invalid', element: 'kind id' },
  { name: 'kind without max-count', input: kind('<data-model>SINGLE</data-model><access-control>NODE-MATCH</access-control><max-size>10</max-size>'), reason: 'invalid', element: 'max-count' },
  { name: 'kind without data-model', input: kind('<access-control>NODE-MATCH</access-control><max-count>1</max-count><max-size>10</max-size>'), reason: 'invalid', element: 'data-model' },
  { name: 'kind data-model TREE', input: kind(KIND_OK.replace('SINGLE', 'TREE')), reason: 'invalid', element: 'data-model' },
  { name: 'kind max-size twice', input: kind(`${KIND_OK}<max-size>10</max-size>`), reason: 'invalid', element: 'max-size' },
  { name: 'kind max-count negative', input: kind(KIND_OK.replace('<max-count>1', '<max-count>-1')), reason: 'invalid', element: 'max-count' },
  { name: 'NODE-MULTIPLE without max-node-multiple', input: kind(KIND_OK.replace('NODE-MATCH', 'NODE-MULTIPLE')), reason: 'invalid', element: 'max-node-multiple' },
  { name: 'max-node-multiple 0', input: kind(`${KIND_OK.replace('NODE-MATCH', 'NODE-MULTIPLE')}<max-node-multiple>0</max-node-multiple>`), reason: 'invalid', element: 'max-node-multiple' },
  { name: 'unknown element in kind', input: kind(`${KIND_OK}<max-bytes>1</max-bytes>`), reason: 'invalid', element: 'kind' },
  { name: 'kind-signature not base64', input: doc(`<required-kinds><kind-block><kind id="5">${KIND_OK}</kind><kind-signature>!</kind-signature></kind-block></required-kinds>`), reason: 'invalid', element: 'kind-signature' },
  { name: 'Kind-ID defined twice', input: doc(`<required-kinds><kind-block><kind id="3">${KIND_OK}</kind></kind-block><kind-block><kind name="CERTIFICATE_BY_NODE">${KIND_OK}</kind></kind-block></required-kinds>`), reason: 'invalid', element: 'kind' },
];

for (const c of CASES) {
  test(`malformed configuration: ${c.name}`, () => {
    assert.throws(() => parseOverlayDocument(c.input), (e: unknown) => {
      assert.ok(e instanceof ConfigurationError, `not a ConfigurationError: ${String(e)}`);
      assert.equal(e.reason, c.reason, e.message);
      assert.equal(e.element, c.element, e.message);
      return true;
    });
  });
}

test('no configuration with the wanted instance-name: no_such_configuration', () => {
  assert.throws(() => parseOverlayConfiguration(doc(''), { instanceName: 'other.example' }),
    (e: unknown) => e instanceof ConfigurationError && e.reason === 'no_such_configuration');
  assert.throws(() => signedConfigurationBytes(doc(''), 'other.example'), ConfigurationError);
});

test('a ConfigUpdate kind-block that is not one: ConfigurationError', () => {
  assert.throws(() => parseKindBlock(`<kind id="5">${KIND_OK}</kind>`), (e: unknown) => e instanceof ConfigurationError && e.element === 'kind');
  assert.throws(() => parseKindBlock('<kind-block xmlns="urn:example:other"/>'), ConfigurationError);
});

test('random damage to a valid document only ever gives ConfigurationError', () => {
  const valid = toXml(embeddedDefaultConfiguration('building.example', { domainRestriction: { enable: true, patterns: ['b\\.example'] } }));
  const current = embeddedDefaultConfiguration('building.example');
  const onlyConfigurationErrors = (input: string | Uint8Array): void => {
    try {
      parseOverlayDocument(input);
    } catch (e) {
      if (!(e instanceof ConfigurationError)) throw e;
    }
    // ConfigUpdate input never throws at all.
    acceptConfigUpdate(current, input);
  };
  fc.assert(fc.property(fc.nat(valid.length), fc.nat(40), fc.string({ maxLength: 20 }), (at, cut, insert) => {
    onlyConfigurationErrors(valid.slice(0, at) + insert + valid.slice(at + cut));
  }), { numRuns: 400 });
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => onlyConfigurationErrors(bytes)), { numRuns: 200 });
  const bytes = new TextEncoder().encode(valid);
  fc.assert(fc.property(fc.nat(bytes.length - 1), fc.integer({ min: 0, max: 255 }), (at, b) => {
    const damaged = bytes.slice();
    damaged[at] = b;
    onlyConfigurationErrors(damaged);
  }), { numRuns: 400 });
});
