// AORs and their domains (RFC 7904 §2, §3.4, §7): the AOR as a Resource Name, POSIX ERE
// domain patterns translated for JavaScript, and which domains a configuration admits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { resourceId } from '../src/codec/index.ts';
import { embeddedDefaultConfiguration } from '../src/reload/config/index.ts';
import {
  AdmissibleDomains, AorError, type AorErrorReason, PatternError, aorOf, aorResourceId, isAor, parseAorAddress, translateEre, wholeStringEre,
} from '../src/usage/sip/index.ts';

test('an AOR written as a SIP URI loses its scheme and parameters and is percent-decoded (§7)', () => {
  assert.equal(aorOf('alice@dht.example.com'), 'alice@dht.example.com');
  assert.equal(aorOf('sip:alice@dht.example.com'), 'alice@dht.example.com');
  assert.equal(aorOf('SIPS:alice@dht.example.com;transport=tls'), 'alice@dht.example.com');
  assert.equal(aorOf('sip:fl%61t%2B1@building.example'), 'flat+1@building.example');
  assert.equal(aorOf('sip:door@[2001:db8::1]'), 'door@[2001:db8::1]');
  assert.equal(aorOf('sip:door@192.0.2.7'), 'door@192.0.2.7');
  assert.deepEqual(aorResourceId('sip:alice@dht.example.com'), resourceId('alice@dht.example.com'));
  const a = parseAorAddress('sip:alice@dht.example.com;transport=tls;lr');
  assert.deepEqual([a.user, a.domain, [...a.params]], ['alice', 'dht.example.com', [['transport', 'tls'], ['lr', null]]]);
});

const NOT_AORS: [string, AorErrorReason][] = [
  ['alice', 'not_an_aor'],
  ['@example.com', 'not_an_aor'],
  ['a@b@example.com', 'not_an_aor'],
  ['al ice@example.com', 'not_an_aor'],
  ['sip:alice', 'not_an_aor'],
  ['sip:alice:secret@example.com', 'not_an_aor'],
  ['sip:alice@example.com?subject=hi', 'not_an_aor'],
  ['sip:alice@example.com;a=1;a=2', 'not_an_aor'],
  // %40 decodes to `@`: the AOR would split two ways.
  ['sip:a%40b@example.com', 'not_an_aor'],
  ['sip:al%2@example.com', 'not_an_aor'],
  ['sip:%ff@example.com', 'bad_escape'],
  ['alice@exa_mple.com', 'bad_domain'],
  ['alice@-example.com', 'bad_domain'],
  ['alice@example.123', 'bad_domain'],
  ['sip:alice@example.com:5060', 'bad_domain'],
  ['alice@', 'bad_domain'],
];

test('what is no AOR fails with an AorError naming why', () => {
  for (const [text, reason] of NOT_AORS) {
    assert.throws(() => parseAorAddress(text), (e: unknown) => e instanceof AorError && e.reason === reason, text);
  }
  // The stored form never has a scheme: an rfc822Name cannot be "sip:…" (§7).
  assert.equal(isAor('sip:alice@example.com'), false);
  assert.equal(isAor('alice@example.com'), true);
});

test('the RFC\'s example patterns admit what §3.4 says they admit', () => {
  const d = new AdmissibleDomains({ enable: true, patterns: ['dht\\.example\\.com', '.*\\.my\\.example'] }, 'overlay.example');
  assert.equal(d.rule, 'patterns');
  for (const ok of ['dht.example.com', 'DHT.Example.com', 'a.my.example', 'a.b.my.example', 'dht.example.com.']) assert.ok(d.admits(ok), ok);
  // The whole domain must match, and `\.` is a literal dot.
  for (const no of ['xdht.example.com', 'dht.example.com.evil', 'dhtXexample.com', 'my.example', 'overlay.example']) assert.equal(d.admits(no), false, no);
});

test('enable absent or false admits the overlay name only; no restriction admits any', () => {
  const own = new AdmissibleDomains({ enable: false, patterns: ['.*'] }, 'building.example');
  assert.equal(own.rule, 'overlay-name');
  assert.ok(own.admits('building.example'));
  assert.ok(own.admits('Building.Example.'));
  assert.equal(own.admits('flat1.building.example'), false);
  assert.equal(own.admits('example'), false);
  const any = new AdmissibleDomains(undefined, 'building.example');
  assert.ok(any.admits('anything.example'));
  // Read from the configuration: inside the SIP-REGISTRATION kind (RFC 7904's grammar).
  const cfg = embeddedDefaultConfiguration('building.example', { domainRestriction: { enable: false, patterns: [] } });
  assert.equal(AdmissibleDomains.of(cfg).rule, 'overlay-name');
  assert.equal(AdmissibleDomains.of(cfg), AdmissibleDomains.of(cfg), 'one instance per configuration');
  assert.equal(AdmissibleDomains.of(embeddedDefaultConfiguration('building.example')).rule, 'any');
});

test('POSIX ERE constructs translate to the same language', () => {
  const cases: [string, string[], string[]][] = [
    ['[[:alpha:]][[:alnum:]-]*\\.example', ['a1-b.example'], ['1a.example', 'a_b.example']],
    ['[]a]+\\.x', [']a].x'], ['b.x']],
    ['[^.]+\\.x', ['ab.x'], ['a.b.x']],
    ['a[[.-.]]b', ['a-b'], ['a.b']],
    ['a[.-.]b', ['a.b'], ['a-b']],
    ['(ab|cd){2}\\.x', ['abcd.x'], ['ab.x']],
    ['a{1,2}b{0,}', ['ab', 'aabbb'], ['aaab']],
    ['x\\\\y', ['x\\y'], ['xy']],
    // A backslash inside a bracket expression is literal in an ERE.
    ['[\\d]', ['\\', 'd'], ['1']],
    ['a|^b$', ['a', 'b'], ['ab']],
  ];
  for (const [pattern, yes, no] of cases) {
    const re = wholeStringEre(pattern);
    for (const s of yes) assert.ok(re.test(s), `${pattern} should match ${s}`);
    for (const s of no) assert.equal(re.test(s), false, `${pattern} should not match ${s}`);
  }
});

test('what POSIX leaves undefined is refused, and such a pattern admits nothing', () => {
  for (const p of ['\\d', '(?i)a', 'a**', '*a', 'a*?', '{2}', 'a{2,1}', 'a{256}', '[z-a]', '[a', '(a', 'a)', '[[:word:]]', '[a-[:digit:]]', 'ä', 'a\\']) {
    assert.throws(() => translateEre(p), PatternError, p);
  }
  const d = new AdmissibleDomains({ enable: true, patterns: ['(', 'building\\.example'] }, 'x');
  assert.equal(d.unusable.length, 1);
  assert.ok(d.admits('building.example'));
  assert.equal(d.admits('('), false);
});

test('any pattern text compiles or fails with a PatternError, never a SyntaxError', () => {
  fc.assert(fc.property(fc.string({ unit: fc.constantFrom(...'ab.*+?|()[]{}^$\\-:=,0123'.split('')), maxLength: 16 }), (p) => {
    try {
      wholeStringEre(p).test('ab');
    } catch (e) {
      if (!(e instanceof PatternError)) throw e;
    }
  }), { numRuns: 5000 });
});
