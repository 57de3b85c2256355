// The example configuration document of RFC 6940 §11.1, copied from the RFC text with only
// the page breaks taken out, read as the standard describes it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromHex, toHex } from '../src/codec/index.ts';
import {
  CONFIG_BASE_NS, ConfigurationError, parseOverlayConfiguration, parseOverlayDocument, signedConfigurationBytes, toXml,
  verifyConfigurationSignature,
} from '../src/reload/config/index.ts';

const EXT1 = 'urn:ietf:params:xml:ns:p2p:config-ext1';

/** RFC 6940 §11.1, "An example document is shown below". */
const RFC6940_EXAMPLE = `<?xml version="1.0" encoding="UTF-8"?>
<overlay xmlns="urn:ietf:params:xml:ns:p2p:config-base"
   xmlns:ext="urn:ietf:params:xml:ns:p2p:config-ext1"
   xmlns:chord="urn:ietf:params:xml:ns:p2p:config-chord">
   <configuration instance-name="overlay.example.org" sequence="22"
       expiration="2002-10-10T07:00:00Z" ext:ext-example="stuff" >
       <topology-plugin> CHORD-RELOAD </topology-plugin>
       <node-id-length>16</node-id-length>
       <root-cert>
MIIDJDCCAo2gAwIBAgIBADANBgkqhkiG9w0BAQUFADBwMQswCQYDVQQGEwJVUzET
MBEGA1UECBMKQ2FsaWZvcm5pYTERMA8GA1UEBxMIU2FuIEpvc2UxDjAMBgNVBAoT
BXNpcGl0MSkwJwYDVQQLEyBTaXBpdCBUZXN0IENlcnRpZmljYXRlIEF1dGhvcml0
eTAeFw0wMzA3MTgxMjIxNTJaFw0xMzA3MTUxMjIxNTJaMHAxCzAJBgNVBAYTAlVT
MRMwEQYDVQQIEwpDYWxpZm9ybmlhMREwDwYDVQQHEwhTYW4gSm9zZTEOMAwGA1UE
ChMFc2lwaXQxKTAnBgNVBAsTIFNpcGl0IFRlc3QgQ2VydGlmaWNhdGUgQXV0aG9y
aXR5MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDDIh6DkcUDLDyK9BEUxkud
+nJ4xrCVGKfgjHm6XaSuHiEtnfELHM+9WymzkBNzZpJu30yzsxwfKoIKugdNUrD4
N3viCicwcN35LgP/KnbN34cavXHr4ZlqxH+OdKB3hQTpQa38A7YXdaoz6goW2ft5
Mi74z03GNKP/G9BoKOGd5QIDAQABo4HNMIHKMB0GA1UdDgQWBBRrRhcU6pR2JYBU
bhNU2qHjVBShtjCBmgYDVR0jBIGSMIGPgBRrRhcU6pR2JYBUbhNU2qHjVBShtqF0
pHIwcDELMAkGA1UEBhMCVVMxEzARBgNVBAgTCkNhbGlmb3JuaWExETAPBgNVBAcT
CFNhbiBKb3NlMQ4wDAYDVQQKEwVzaXBpdDEpMCcGA1UECxMgU2lwaXQgVGVzdCBD
ZXJ0aWZpY2F0ZSBBdXRob3JpdHmCAQAwDAYDVR0TBAUwAwEB/zANBgkqhkiG9w0B
AQUFAAOBgQCWbRvv1ZGTRXxbH8/EqkdSCzSoUPrs+rQqR0xdQac9wNY/nlZbkR3O
qAezG6Sfmklvf+DOg5RxQq/+Y6I03LRepc7KeVDpaplMFGnpfKsibETMipwzayNQ
QgUf4cKBiF+65Ue7hZuDJa2EMv8qW4twEhGDYclpFU9YozyS1OhvUg==
       </root-cert>
       <root-cert> YmFkIGNlcnQK </root-cert>
       <enrollment-server>https://example.org</enrollment-server>
       <enrollment-server>https://example.net</enrollment-server>
       <self-signed-permitted
                 digest="sha1">false</self-signed-permitted>
       <bootstrap-node address="192.0.0.1" port="6084" />
       <bootstrap-node address="192.0.2.2" port="6084" />
       <bootstrap-node address="2001:DB8::1" port="6084" />
       <turn-density> 20 </turn-density>
       <clients-permitted> false </clients-permitted>
       <no-ice> false </no-ice>
       <chord:chord-update-interval>
           400</chord:chord-update-interval>
       <chord:chord-ping-interval>30</chord:chord-ping-interval>
       <chord:chord-reactive> true </chord:chord-reactive>
       <shared-secret> password </shared-secret>
       <max-message-size>4000</max-message-size>
       <initial-ttl> 30 </initial-ttl>
       <overlay-reliability-timer> 3000 </overlay-reliability-timer>
       <overlay-link-protocol>TLS</overlay-link-protocol>
       <configuration-signer>47112162e84c69ba</configuration-signer>
       <kind-signer> 47112162e84c69ba </kind-signer>
       <kind-signer> 6eba45d31a900c06 </kind-signer>
       <bad-node> 6ebc45d31a900c06 </bad-node>
       <bad-node> 6ebc45d31a900ca6 </bad-node>

       <ext:example-extension> foo </ext:example-extension>

       <mandatory-extension>
           urn:ietf:params:xml:ns:p2p:config-ext1
       </mandatory-extension>

       <required-kinds>
         <kind-block>
           <kind name="SIP-REGISTRATION">
               <data-model>SINGLE</data-model>
               <access-control>USER-MATCH</access-control>
               <max-count>1</max-count>
               <max-size>100</max-size>
           </kind>
           <kind-signature>
                VGhpcyBpcyBub3QgcmlnaHQhCg==
           </kind-signature>
         </kind-block>
         <kind-block>
           <kind id="2000">
               <data-model>ARRAY</data-model>
               <access-control>NODE-MULTIPLE</access-control>
               <max-node-multiple>3</max-node-multiple>
               <max-count>22</max-count>
               <max-size>4</max-size>
               <ext:example-kind-extension> 1
                       </ext:example-kind-extension>
           </kind>
           <kind-signature>
              VGhpcyBpcyBub3QgcmlnaHQhCg==
           </kind-signature>
         </kind-block>
       </required-kinds>
   </configuration>
   <signature> VGhpcyBpcyBub3QgcmlnaHQhCg== </signature>

   <configuration instance-name="other.example.net">
   </configuration>
   <signature> VGhpcyBpcyBub3QgcmlnaHQhCg== </signature>

 </overlay>
`;

const NOT_RIGHT = new TextEncoder().encode('This is not right!\n');

test('the RFC example names an extension this node lacks: unsupported_extension', () => {
  assert.throws(() => parseOverlayConfiguration(RFC6940_EXAMPLE), (e: unknown) =>
    e instanceof ConfigurationError && e.reason === 'unsupported_extension' && e.element === 'mandatory-extension' && e.message.includes(EXT1));
});

test('the RFC example reads as §11.1 describes it', () => {
  const cfg = parseOverlayConfiguration(RFC6940_EXAMPLE, { supportedExtensions: [EXT1] });
  assert.equal(cfg.instanceName, 'overlay.example.org');
  assert.equal(cfg.sequence, 22);
  assert.equal(cfg.expiration?.toISOString(), '2002-10-10T07:00:00.000Z');
  assert.equal(cfg.topologyPlugin, 'CHORD-RELOAD');
  assert.equal(cfg.nodeIdLength, 16);
  assert.equal(cfg.rootCerts.length, 2);
  // A DER SEQUENCE with a two-byte length (0x0324 = 804 bytes of content).
  assert.deepEqual([...cfg.rootCerts[0].subarray(0, 4)], [0x30, 0x82, 0x03, 0x24]);
  assert.equal(cfg.rootCerts[0].length, 4 + 0x324);
  assert.equal(new TextDecoder().decode(cfg.rootCerts[1]), 'bad cert\n');
  assert.deepEqual(cfg.enrollmentServers, ['https://example.org', 'https://example.net']);
  assert.deepEqual(cfg.selfSignedPermitted, { value: false, digest: 'sha1' });
  assert.deepEqual(cfg.bootstrapNodes, [
    { host: '192.0.0.1', port: 6084 }, { host: '192.0.2.2', port: 6084 }, { host: '2001:DB8::1', port: 6084 },
  ]);
  assert.equal(cfg.turnDensity, 20);
  assert.equal(cfg.clientsPermitted, false);
  assert.equal(cfg.noIce, false);
  assert.deepEqual(cfg.chord, { updateIntervalS: 400, pingIntervalS: 30, reactive: true });
  assert.equal(cfg.sharedSecret, 'password');
  assert.equal(cfg.maxMessageSize, 4000);
  assert.equal(cfg.initialTtl, 30);
  assert.equal(cfg.overlayReliabilityTimerMs, 3000);
  assert.deepEqual(cfg.overlayLinkProtocols, ['TLS']);
  assert.deepEqual(cfg.configurationSigners.map(toHex), ['47112162e84c69ba']);
  assert.deepEqual(cfg.kindSigners.map(toHex), ['47112162e84c69ba', '6eba45d31a900c06']);
  assert.deepEqual(cfg.badNodes, [fromHex('6ebc45d31a900c06'), fromHex('6ebc45d31a900ca6')]);
  assert.deepEqual(cfg.mandatoryExtensions, [EXT1]);
  assert.equal(cfg.domainRestrictions, undefined);

  assert.equal(cfg.kinds.length, 2);
  const [sip, private2000] = cfg.kinds;
  // §11.1: for a registered kind "clients MUST ignore [data-model and access-control] in favor
  // of the IANA versions": SIP-REGISTRATION is a USER-NODE-MATCH dictionary (RFC 7904 §7).
  assert.equal(sip.id, 1);
  assert.equal(sip.name, 'SIP-REGISTRATION');
  assert.equal(sip.dataModel, 'dictionary');
  assert.equal(sip.accessControl, 'USER-NODE-MATCH');
  assert.equal(sip.maxCount, 1);
  assert.equal(sip.maxSize, 100);
  assert.equal(sip.maxNodeMultiple, undefined);
  assert.match(sip.xml, /^<kind name="SIP-REGISTRATION">[^]*<max-size>100<\/max-size>\s*<\/kind>$/);
  assert.deepEqual(sip.namespaces, { '': CONFIG_BASE_NS });
  assert.deepEqual(sip.signature, { securityBlock: NOT_RIGHT, algorithm: undefined });

  assert.equal(private2000.id, 2000);
  assert.equal(private2000.name, undefined);
  assert.equal(private2000.dataModel, 'array');
  assert.equal(private2000.accessControl, 'NODE-MULTIPLE');
  assert.equal(private2000.maxNodeMultiple, 3);
  assert.equal(private2000.maxCount, 22);
  assert.equal(private2000.maxSize, 4);
  // Its text uses the ext: prefix, declared on the overlay root outside it.
  assert.deepEqual(private2000.namespaces, { '': CONFIG_BASE_NS, ext: EXT1 });

  assert.ok(cfg.signature);
  assert.deepEqual(cfg.signature.elements, [{ securityBlock: NOT_RIGHT, algorithm: undefined }]);
  const signed = new TextDecoder().decode(cfg.signature.signedBytes);
  assert.ok(signed.startsWith('<configuration instance-name="overlay.example.org" sequence="22"\n'));
  assert.ok(signed.endsWith('</required-kinds>\n   </configuration>'));
  assert.deepEqual(cfg.signature.signedBytes, signedConfigurationBytes(RFC6940_EXAMPLE));
});

test('the RFC example holds two configurations; the second is all defaults', () => {
  const doc = parseOverlayDocument(RFC6940_EXAMPLE, { supportedExtensions: [EXT1] });
  assert.deepEqual(doc.configurations.map((c) => c.instanceName), ['overlay.example.org', 'other.example.net']);
  // Choosing the other overlay does not need the first one's extension.
  const other = parseOverlayConfiguration(RFC6940_EXAMPLE, { instanceName: 'Other.Example.NET' });
  assert.equal(other.sequence, 0);
  assert.equal(other.maxMessageSize, 5000);
  assert.equal(other.kinds.length, 0);
  assert.equal(new TextDecoder().decode(other.signature?.signedBytes), '<configuration instance-name="other.example.net">\n   </configuration>');
  assert.deepEqual({ ...doc.configurations[1], signature: undefined }, { ...other, signature: undefined });
});

test('the RFC example signature is not a SecurityBlock: malformed_signature, not an exception', () => {
  const cfg = parseOverlayConfiguration(RFC6940_EXAMPLE, { supportedExtensions: [EXT1] });
  const check = verifyConfigurationSignature(cfg);
  assert.equal(check.ok, false);
  // The example's configuration-signer is 8 bytes, so no certificate could match it anyway.
  assert.equal(check.ok === false && check.reason, 'malformed_signature');
});

test('the RFC example survives toXml and back, kind texts and kind-signatures included', () => {
  const cfg = parseOverlayConfiguration(RFC6940_EXAMPLE, { supportedExtensions: [EXT1] });
  const again = parseOverlayConfiguration(toXml(cfg), { supportedExtensions: [EXT1] });
  assert.deepEqual(again, { ...cfg, signature: undefined });
});
