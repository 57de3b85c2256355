// The Storing Peer's checks of SIP-REGISTRATION (RFC 7904 §3.3, §3.4, §7): first the check
// alone against hand-made signers, then over real TLS links between in-process devices, each
// refusal answered with its error and the stored registrations unchanged after it; domain
// restrictions of both kinds, and a ConfigUpdate that changes the restriction.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type NodeId, type StoredDataValue, ErrorCode, KindId, SipRegistration, encode, fromHex, nodeDestination, resourceId, toHex,
} from '../src/codec/index.ts';
import { type OverlayConfiguration, type SipDomainRestriction, embeddedDefaultConfiguration, signConfiguration, toXml } from '../src/reload/config/index.ts';
import { ReloadError } from '../src/reload/errors.ts';
import { createSelfSignedIdentity } from '../src/reload/security/identity.ts';
import { BASE_KINDS, type StoreCheckInput } from '../src/reload/storage/index.ts';
import type { OverlayDevice } from '../src/run/overlay-device.ts';
import { FakeClock } from '../src/util/clock.ts';
import { silentLogger } from '../src/util/log.ts';
import { AdmissibleDomains, AorRegistrations, checkSipRegistration } from '../src/usage/sip/index.ts';
import { OVERLAY, closeAll, startDevice } from './harness/in-process.ts';
import { eventually } from './harness/memory-overlay.ts';

const route = (node: NodeId, prefs = '(sip.schemes=SIP)'): Uint8Array => encode(SipRegistration, { type: 'route', contactPrefs: prefs, destinationList: [nodeDestination(node)] });
const entry = (key: NodeId, value: Uint8Array, exists = true): StoredDataValue => ({ model: 'dictionary', key, value: { exists, value } });
const ALL = [{ kind: KindId.SIP_REGISTRATION, generation: 0n, model: 'dictionary' as const, keys: [] }];

function refusedWith(code: number, pattern?: RegExp): (e: unknown) => boolean {
  return (e) => {
    assert.ok(e instanceof ReloadError, String(e));
    assert.equal(e.code, code, e.message);
    if (pattern) assert.match(e.message, pattern);
    return true;
  };
}

describe('the SIP-REGISTRATION check on its own', () => {
  const kind = BASE_KINDS.find((k) => k.id === KindId.SIP_REGISTRATION)!;
  const alice = fromHex('0a'.repeat(16));
  const bob = fromHex('0b'.repeat(16));
  const AOR = 'alice@building.example';
  const any = new AdmissibleDomains(undefined, 'building.example');
  const own = new AdmissibleDomains({ enable: false, patterns: [] }, 'building.example');
  const input = (over: Partial<StoreCheckInput> & { userName?: string } = {}): StoreCheckInput => ({
    resource: resourceId(over.userName ?? AOR), kind, replica: false, value: entry(alice, route(alice)),
    signer: { certificate: new Uint8Array(0), nodeId: alice, userName: over.userName ?? AOR }, ...over,
  });
  const forbidden = refusedWith(ErrorCode.Error_Forbidden);
  const invalid = refusedWith(ErrorCode.Error_Invalid_Message);

  it('accepts a route, a forwarding uri, a GRUU uri, a removal and a later SipRegistration type', () => {
    const values: Uint8Array[] = [
      route(alice), route(bob, ''),
      encode(SipRegistration, { type: 'uri', uri: 'bob@building.example' }),
      encode(SipRegistration, { type: 'uri', uri: 'sip:carol@other.example' }),
      encode(SipRegistration, { type: 'uri', uri: 'alice@overlay.example.org;gr=ARDA59KhRHpE+i5Dls1sC9Ce' }),
      encode(SipRegistration, { type: 'unknown', code: 9, data: new Uint8Array([1, 2]) }),
    ];
    for (const v of values) checkSipRegistration(input({ value: entry(alice, v) }), own);
    checkSipRegistration(input({ value: entry(alice, new Uint8Array(0), false) }), own);
  });

  it('holds USER-NODE-MATCH whatever policy a configuration names (RFC 6940 §11.1\'s example gives USER-MATCH)', () => {
    const weak = { ...kind, accessControl: 'USER-MATCH' as const };
    assert.throws(() => checkSipRegistration(input({ kind: weak, value: entry(bob, route(alice)) }), any), forbidden);
    assert.throws(() => checkSipRegistration(input({ resource: resourceId('bob@building.example') }), any), forbidden);
    assert.throws(() => checkSipRegistration(input({ value: { model: 'single', value: { exists: true, value: route(alice) } } }), any), forbidden);
    assert.throws(() => checkSipRegistration(input({ signer: { certificate: new Uint8Array(0), nodeId: alice, userName: undefined } }), any), forbidden);
  });

  it('refuses a user name that is no bare AOR, even one hashing to the Resource-ID', () => {
    for (const userName of ['alice', 'sip:alice@building.example', 'alice@exa_mple', 'al ice@building.example']) {
      assert.throws(() => checkSipRegistration(input({ userName }), any), forbidden, userName);
    }
  });

  it('judges the domain of original Stores only; replicas were judged by the responsible peer', () => {
    const stranger = input({ userName: 'guest@visitor.example' });
    assert.throws(() => checkSipRegistration(stranger, own), refusedWith(ErrorCode.Error_Forbidden, /visitor\.example is not admitted/));
    checkSipRegistration({ ...stranger, replica: true }, own);
    checkSipRegistration(stranger, any);
  });

  it('refuses values that are no SipRegistration with Error_Invalid_Message, replicas too', () => {
    const garbage: Uint8Array[] = [
      new TextEncoder().encode('sip:alice@10.0.0.1'),
      new Uint8Array(0),
      // A route with an empty destination list: `02 0004 0000 0000`.
      Uint8Array.from([2, 0, 4, 0, 0, 0, 0]),
      // A route to a destination type nobody routes: `05 01 00`.
      Uint8Array.from([2, 0, 7, 0, 0, 0, 3, 5, 1, 0]),
      // An empty uri, a uri that is no AOR, and a GRUU whose list does not decode.
      Uint8Array.from([1, 0, 2, 0, 0]),
      encode(SipRegistration, { type: 'uri', uri: 'tel:+15551234' }),
      encode(SipRegistration, { type: 'uri', uri: 'alice@example.com;gr=MDEyMzQ1Njc4OTAxMjM0NTY3ODk~' }),
      // Trailing bytes after a well-formed value.
      Uint8Array.from([...route(alice), 0]),
      // Type 0 does not exist.
      Uint8Array.from([0, 0, 0]),
    ];
    for (const v of garbage) {
      assert.throws(() => checkSipRegistration(input({ value: entry(alice, v) }), any), invalid, toHex(v));
      assert.throws(() => checkSipRegistration(input({ value: entry(alice, v), replica: true }), any), invalid, toHex(v));
    }
  });
});

describe('the Storing Peer over real TLS links', { timeout: 60_000 }, () => {
  const FLAT = `flat1@${OVERLAY}`;
  const aor = resourceId(FLAT);
  let flat: OverlayDevice;
  let flatPhone: OverlayDevice;
  let neighbour: OverlayDevice;
  let reader: OverlayDevice;
  let baseline: string[];

  const registrations = async (at = aor): Promise<string[]> => {
    const [k] = await reader.data.fetch(at, ALL);
    assert.equal(k.discarded, 0);
    return k.values.filter((v) => v.signer).map(({ data, signer }) => `${toHex(signer!.nodeId).slice(0, 8)} t=${data.storageTime} ${toHex((data.value as { value: { value: Uint8Array } }).value.value)}`).sort();
  };

  before(async () => {
    const first = await startDevice({ userName: `lobby@${OVERLAY}` });
    flat = await startDevice({ userName: FLAT, bootstrap: [first.listening] });
    flatPhone = await startDevice({ userName: FLAT, bootstrap: [first.listening] });
    neighbour = await startDevice({ userName: `flat2@${OVERLAY}`, bootstrap: [first.listening] });
    reader = await startDevice({ userName: `flat5@${OVERLAY}`, bootstrap: [first.listening] });
    await new Promise((r) => setTimeout(r, 1500));
  });
  after(() => closeAll());

  it('accepts a good registration from each of the AOR\'s devices', async () => {
    await flat.data.store(aor, KindId.SIP_REGISTRATION, [entry(flat.identity.nodeId, route(flat.identity.nodeId))]);
    await flatPhone.data.store(aor, KindId.SIP_REGISTRATION, [entry(flatPhone.identity.nodeId, route(flatPhone.identity.nodeId, '(sip.schemes=SIPS)'))]);
    baseline = await registrations();
    assert.equal(baseline.length, 2);
  });

  it('refuses a registration for someone else\'s AOR: the certificate\'s user name differs', async () => {
    await assert.rejects(neighbour.data.store(aor, KindId.SIP_REGISTRATION, [entry(neighbour.identity.nodeId, route(neighbour.identity.nodeId))]),
      refusedWith(ErrorCode.Error_Forbidden));
    assert.deepEqual(await registrations(), baseline);
  });

  it('refuses a dictionary key other than the signer\'s Node-ID, even from a device of the same user', async () => {
    await assert.rejects(flatPhone.data.store(aor, KindId.SIP_REGISTRATION, [entry(flat.identity.nodeId, route(flatPhone.identity.nodeId))]),
      refusedWith(ErrorCode.Error_Forbidden));
    assert.deepEqual(await registrations(), baseline);
  });

  it('refuses a value that is no SipRegistration with Error_Invalid_Message', async () => {
    await assert.rejects(flat.data.store(aor, KindId.SIP_REGISTRATION, [entry(flat.identity.nodeId, new TextEncoder().encode('sip:flat1@10.0.0.1'))]),
      refusedWith(ErrorCode.Error_Invalid_Message, /SIP-REGISTRATION value/));
    await assert.rejects(flat.data.store(aor, KindId.SIP_REGISTRATION, [entry(flat.identity.nodeId, Uint8Array.from([2, 0, 4, 0, 0, 0, 0]))]),
      refusedWith(ErrorCode.Error_Invalid_Message, /empty destination list/));
    assert.deepEqual(await registrations(), baseline);
  });

  it('refuses a certificate whose user name is a SIP URI rather than the bare AOR (§7)', async () => {
    const uriNamed = await startDevice({ userName: `sip:flat3@${OVERLAY}`, bootstrap: [reader.listening] });
    const at = resourceId(`sip:flat3@${OVERLAY}`);
    await assert.rejects(uriNamed.data.store(at, KindId.SIP_REGISTRATION, [entry(uriNamed.identity.nodeId, route(uriNamed.identity.nodeId))]),
      refusedWith(ErrorCode.Error_Forbidden, /not a SIP AOR/));
    assert.deepEqual(await registrations(at), []);
  });
});

describe('domain restrictions (RFC 7904 §3.4) and ConfigUpdate', { timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'p2psip-sip-domains-'));
  const operator = createSelfSignedIdentity({ overlay: OVERLAY, userName: `operator@${OVERLAY}` });
  const configuration = (sequence: number, domainRestriction: SipDomainRestriction | undefined): OverlayConfiguration => ({
    ...embeddedDefaultConfiguration(OVERLAY, { configurationSigners: [operator.nodeId], domainRestriction }), sequence,
  });
  const devices: OverlayDevice[] = [];
  let flat: OverlayDevice;
  let gate: OverlayDevice;
  let guest: OverlayDevice;

  /** `d` stores a route to itself at its own AOR. */
  const register = (d: OverlayDevice): Promise<unknown> =>
    d.data.store(resourceId(d.identity.userName), KindId.SIP_REGISTRATION, [entry(d.identity.nodeId, route(d.identity.nodeId))]);
  const forbidden = refusedWith(ErrorCode.Error_Forbidden, /not admitted/);
  async function offer(cfg: OverlayConfiguration): Promise<void> {
    const decision = await devices[1].configuration.offer(signConfiguration(toXml(cfg), operator));
    assert.ok(decision.accepted, JSON.stringify(decision));
    await eventually(() => devices.every((d) => d.configuration.sequence === cfg.sequence), 10_000, () => JSON.stringify(devices.map((d) => d.configuration.sequence)));
  }

  before(async () => {
    const file = join(dir, 'overlay.xml');
    // enable="false": only AORs of the overlay's own domain name.
    writeFileSync(file, signConfiguration(toXml(configuration(1, { enable: false, patterns: [] })), operator));
    const start = async (userName: string): Promise<OverlayDevice> => {
      const d = await startDevice({ overlayConfiguration: file, userName, bootstrap: devices.length ? [devices[0].listening] : [] });
      devices.push(d);
      return d;
    };
    await start(`lobby@${OVERLAY}`);
    flat = await start(`flat1@${OVERLAY}`);
    gate = await start('door@gate.annex.example');
    guest = await start('guest@visitor.example');
    await start(`flat5@${OVERLAY}`);
    await new Promise((r) => setTimeout(r, 1500));
  });
  after(async () => {
    await closeAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it('enable="false" admits AORs of the overlay name and refuses every other domain', async () => {
    await register(flat);
    await assert.rejects(register(gate), forbidden);
    await assert.rejects(register(guest), forbidden);
    const [k] = await devices[4].data.fetch(resourceId(gate.identity.userName), ALL);
    assert.deepEqual(k.values.filter((v) => v.signer), []);
  });

  it('the storer checks the domain itself first (§3.3 SHOULD) and sends nothing it knows will be refused', async () => {
    const clock = new FakeClock();
    const stores: string[] = [];
    const registrations = new AorRegistrations({
      clock, log: silentLogger, security: guest.security, configuration: () => guest.configuration.current,
      data: { store: (...args) => { stores.push(toHex(args[0])); return guest.data.store(...args); } },
    });
    const status = await registrations.register(guest.identity.userName);
    assert.equal(status.state, 'retrying');
    assert.equal(status.lastError?.code, ErrorCode.Error_Forbidden);
    assert.match(status.lastError?.message ?? '', /not admitted.*not sent/);
    assert.deepEqual(stores, []);
    registrations.close();
  });

  it('a ConfigUpdate to enable="true" patterns takes effect at once: matching domains in, others out', async () => {
    await offer(configuration(2, { enable: true, patterns: [`building\\.example`, '.*\\.annex\\.example'] }));
    await register(flat);
    await register(gate);
    await assert.rejects(register(guest), forbidden);
    const [k] = await devices[4].data.fetch(resourceId(gate.identity.userName), ALL);
    assert.deepEqual(k.values.map((v) => v.signer?.nodeId), [gate.identity.nodeId]);
  });

  it('a ConfigUpdate that admits another pattern lets its AORs register', async () => {
    await offer(configuration(3, { enable: true, patterns: ['building\\.example', 'visitor\\.example'] }));
    await register(guest);
    await assert.rejects(register(gate), forbidden);
  });

  it('a ConfigUpdate without a restriction admits any AOR', async () => {
    await offer(configuration(4, undefined));
    await register(gate);
    await register(guest);
  });
});
