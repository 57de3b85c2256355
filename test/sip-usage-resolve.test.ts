// Resolving an AOR (RFC 7904 §4.2): first against an in-memory set of fetched values, for
// every rule and bound; then over real TLS links, with devices that register and forward
// through AorRegistrations.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  type NodeId, type StoredData, KindId, SipRegistration, encode, fromHex, nodeDestination, resourceDestination, resourceId, toHex,
} from '../src/codec/index.ts';
import type { DataClient, FetchedKind, FetchedValue } from '../src/reload/storage/index.ts';
import type { OverlayDevice } from '../src/run/overlay-device.ts';
import { systemClock } from '../src/util/clock.ts';
import { silentLogger } from '../src/util/log.ts';
import { type AorResolution, AorError, AorRegistrations, gruuFor, resolveAor } from '../src/usage/sip/index.ts';
import { OVERLAY, closeAll, startDevice } from './harness/in-process.ts';

const id = (n: number): NodeId => fromHex(n.toString(16).padStart(32, '0'));

/** What an overlay would answer: per AOR, the values with the signer DataClient verified. */
class FetchedRegistrations {
  readonly values = new Map<string, FetchedValue[]>();
  readonly fetches: string[] = [];
  failing = new Set<string>();

  /** `signer` registers `value` at `aor` under `key` (default its own Node-ID), signed as `userName`. */
  put(aor: string, signer: NodeId, value: SipRegistration | Uint8Array, opts: { key?: NodeId; userName?: string; exists?: boolean } = {}): this {
    const bytes = value instanceof Uint8Array ? value : encode(SipRegistration, value);
    const data: StoredData = { storageTime: 1n, lifetime: 60, value: { model: 'dictionary', key: opts.key ?? signer, value: { exists: opts.exists ?? true, value: bytes } } };
    const list = this.values.get(toHex(resourceId(aor))) ?? [];
    list.push({ data, signer: { certificate: new Uint8Array(0), nodeId: signer, userName: opts.userName ?? aor } });
    this.values.set(toHex(resourceId(aor)), list);
    return this;
  }

  route(aor: string, signer: NodeId, prefs = '(sip.schemes=SIP)'): this {
    return this.put(aor, signer, { type: 'route', contactPrefs: prefs, destinationList: [nodeDestination(signer)] });
  }

  forward(aor: string, signer: NodeId, uri: string): this {
    return this.put(aor, signer, { type: 'uri', uri });
  }

  readonly client: Pick<DataClient, 'fetch'> = {
    fetch: async (resource) => {
      const key = toHex(resource);
      this.fetches.push(key);
      if (this.failing.has(key)) throw new Error('Request timed out');
      const values = this.values.get(key) ?? [];
      return [{ kind: KindId.SIP_REGISTRATION, generation: BigInt(values.length), values, discarded: 0 } satisfies FetchedKind];
    },
  };
}

const targets = (r: AorResolution): string[] => r.targets.map((t) => `${t.aor} ${t.source} ${toHex((t.destinationList[0] as { id: Uint8Array }).id).slice(-2)} d${t.depth}`);

describe('resolveAor against fetched values', () => {
  it('returns every device of an AOR, in dictionary-key order, with its contact preferences', async () => {
    const o = new FetchedRegistrations().route('a@x.example', id(9), '(sip.schemes=SIPS)').route('a@x.example', id(3));
    const r = await resolveAor(o.client, 'sip:a@x.example');
    assert.equal(r.aor, 'a@x.example');
    assert.deepEqual(targets(r), ['a@x.example route 03 d0', 'a@x.example route 09 d0']);
    assert.deepEqual(r.targets.map((t) => t.contactPrefs), ['(sip.schemes=SIP)', '(sip.schemes=SIPS)']);
    assert.deepEqual(r.targets.map((t) => t.registeredBy), [id(3), id(9)]);
    assert.deepEqual([r.fetched, r.truncated, r.discarded], [['a@x.example'], false, 0]);
  });

  it('follows forwarding breadth first and removes duplicate destination lists (§4.2 step 3)', async () => {
    const o = new FetchedRegistrations()
      .forward('a@x.example', id(1), 'b@x.example').route('a@x.example', id(2))
      .forward('b@x.example', id(5), 'sip:c@x.example').route('b@x.example', id(2))
      .route('c@x.example', id(7));
    const r = await resolveAor(o.client, 'a@x.example');
    assert.deepEqual(targets(r), ['a@x.example route 02 d0', 'c@x.example route 07 d2']);
    assert.deepEqual(r.fetched, ['a@x.example', 'b@x.example', 'c@x.example']);
  });

  it('ends a forwarding loop, and follows no AOR twice', async () => {
    const o = new FetchedRegistrations().forward('a@x.example', id(1), 'b@x.example').forward('b@x.example', id(2), 'a@x.example')
      .forward('b@x.example', id(3), 'b@x.example');
    const r = await resolveAor(o.client, 'a@x.example');
    assert.deepEqual([r.targets, r.fetched, r.truncated], [[], ['a@x.example', 'b@x.example'], false]);
  });

  it('honours the depth bound, and says it stopped early', async () => {
    const o = new FetchedRegistrations().forward('a@x.example', id(1), 'b@x.example').forward('b@x.example', id(2), 'c@x.example').route('c@x.example', id(3));
    const short = await resolveAor(o.client, 'a@x.example', { maxDepth: 1 });
    assert.deepEqual([short.targets, short.fetched, short.truncated], [[], ['a@x.example', 'b@x.example'], true]);
    const none = await resolveAor(o.client, 'a@x.example', { maxDepth: 0 });
    assert.deepEqual([none.fetched, none.truncated], [['a@x.example'], true]);
    assert.deepEqual(targets(await resolveAor(o.client, 'a@x.example', { maxDepth: 2 })), ['c@x.example route 03 d2']);
  });

  it('bounds the fork: targets and fetches (§8.2.1)', async () => {
    const o = new FetchedRegistrations();
    for (let i = 1; i <= 6; i++) o.forward('a@x.example', id(i), `f${i}@x.example`).route(`f${i}@x.example`, id(100 + i));
    const few = await resolveAor(o.client, 'a@x.example', { maxTargets: 2 });
    assert.equal(few.targets.length, 2);
    assert.ok(few.truncated);
    const fetches = await resolveAor(o.client, 'a@x.example', { maxFetches: 3 });
    assert.deepEqual([fetches.fetched.length, fetches.targets.length, fetches.truncated], [3, 2, true]);
  });

  it('decodes a GRUU directly, asked for or forwarded to (§6)', async () => {
    const gruu = gruuFor('d@x.example', [nodeDestination(id(0x44))]);
    const o = new FetchedRegistrations().forward('a@x.example', id(1), gruu);
    assert.deepEqual(targets(await resolveAor(o.client, 'a@x.example')), ['d@x.example gruu 44 d1']);
    const direct = await resolveAor(o.client, gruu);
    assert.deepEqual(targets(direct), ['d@x.example gruu 44 d0']);
    assert.equal(direct.fetched.length, 0);
  });

  it('drops entries not signed by the Node-ID of their key or by the AOR\'s user, and values that are no SipRegistration', async () => {
    const o = new FetchedRegistrations()
      .route('a@x.example', id(1))
      // Signed by node 2 under key 1: someone else's slot.
      .put('a@x.example', id(2), { type: 'route', contactPrefs: '', destinationList: [nodeDestination(id(2))] }, { key: id(1) })
      // Signed for this Resource-ID by a user whose name hashes elsewhere.
      .put('a@x.example', id(3), { type: 'route', contactPrefs: '', destinationList: [nodeDestination(id(3))] }, { userName: 'mallory@x.example' })
      .put('a@x.example', id(4), new TextEncoder().encode('garbage'))
      .put('a@x.example', id(5), { type: 'uri', uri: 'tel:+15551234' })
      // Removed (§7.4.1.3) and of a later type: skipped, not counted.
      .put('a@x.example', id(6), new Uint8Array(0), { exists: false })
      .put('a@x.example', id(7), { type: 'unknown', code: 7, data: new Uint8Array(1) });
    const r = await resolveAor(o.client, 'a@x.example');
    assert.deepEqual(targets(r), ['a@x.example route 01 d0']);
    assert.equal(r.discarded, 4);
  });

  it('leaves forwarding to domains this overlay does not serve to normal SIP (§4.1)', async () => {
    const o = new FetchedRegistrations().forward('a@x.example', id(1), 'sip:b@elsewhere.example').forward('a@x.example', id(2), 'c@x.example').route('c@x.example', id(3));
    const r = await resolveAor(o.client, 'a@x.example', { servesDomain: (d) => d === 'x.example' });
    assert.deepEqual(r.externalAors, ['b@elsewhere.example']);
    assert.deepEqual(r.fetched, ['a@x.example', 'c@x.example']);
  });

  it('rejects when the AOR itself cannot be fetched, and records forwarded AORs that could not', async () => {
    const o = new FetchedRegistrations().forward('a@x.example', id(1), 'b@x.example').route('a@x.example', id(2));
    o.failing.add(toHex(resourceId('b@x.example')));
    const r = await resolveAor(o.client, 'a@x.example');
    assert.deepEqual(targets(r), ['a@x.example route 02 d0']);
    assert.deepEqual(r.failures.map((f) => f.aor), ['b@x.example']);
    o.failing.add(toHex(resourceId('a@x.example')));
    await assert.rejects(resolveAor(o.client, 'a@x.example'), /timed out/);
    await assert.rejects(resolveAor(o.client, 'not an aor'), AorError);
    const aborted = new AbortController();
    aborted.abort();
    await assert.rejects(resolveAor(o.client, 'a@x.example', { signal: aborted.signal }), { name: 'AbortError' });
  });
});

describe('resolveAor over real TLS links', { timeout: 60_000 }, () => {
  const aor = (user: string): string => `${user}@${OVERLAY}`;
  const registrars: AorRegistrations[] = [];
  const devices = new Map<string, OverlayDevice>();
  let caller: OverlayDevice;

  const registrarOf = (d: OverlayDevice): AorRegistrations => {
    const r = new AorRegistrations({ clock: systemClock, log: silentLogger, data: d.data, security: d.security, configuration: () => d.configuration.current });
    registrars.push(r);
    return r;
  };

  before(async () => {
    caller = await startDevice({ userName: aor('lobby') });
    for (const name of ['a1', 'a2', 'p', 'q', 'r', 'x', 'y', 'g']) {
      devices.set(name, await startDevice({ userName: aor(name.startsWith('a') ? 'a' : name), bootstrap: [caller.listening] }));
    }
    await new Promise((r) => setTimeout(r, 1500));
  });
  after(async () => {
    for (const r of registrars) r.close();
    await closeAll();
  });

  const dev = (name: string): OverlayDevice => devices.get(name)!;
  const nodes = (r: AorResolution): string[] => r.targets.map((t) => toHex((t.destinationList.at(-1) as { id: Uint8Array }).id));

  it('two devices registered for one AOR: resolution returns both', async () => {
    for (const name of ['a1', 'a2']) {
      const status = await registrarOf(dev(name)).register(aor('a'));
      assert.equal(status.state, 'registered', JSON.stringify(status));
    }
    const r = await resolveAor(caller.data, `sip:${aor('a')}`);
    assert.deepEqual(nodes(r), [dev('a1'), dev('a2')].map((d) => toHex(d.identity.nodeId)).sort());
    assert.ok(r.targets.every((t) => t.aor === aor('a') && t.source === 'route' && t.contactPrefs === '(sip.schemes=SIP)'));
  });

  it('forwarding p → q → r resolves to r\'s device', async () => {
    await registrarOf(dev('p')).forward(aor('p'), aor('q'));
    await registrarOf(dev('q')).forward(aor('q'), `sip:${aor('r')}`);
    await registrarOf(dev('r')).register(aor('r'), { contactPrefs: '(sip.schemes=SIPS)' });
    const r = await resolveAor(caller.data, aor('p'));
    assert.deepEqual(nodes(r), [toHex(dev('r').identity.nodeId)]);
    assert.deepEqual([r.targets[0].aor, r.targets[0].depth, r.targets[0].contactPrefs], [aor('r'), 2, '(sip.schemes=SIPS)']);
    assert.deepEqual(r.fetched, [aor('p'), aor('q'), aor('r')]);
    const bounded = await resolveAor(caller.data, aor('p'), { maxDepth: 1 });
    assert.deepEqual([bounded.targets, bounded.truncated], [[], true]);
  });

  it('a loop x → y → x ends', async () => {
    await registrarOf(dev('x')).forward(aor('x'), aor('y'));
    await registrarOf(dev('y')).forward(aor('y'), aor('x'));
    const r = await resolveAor(caller.data, aor('x'));
    assert.deepEqual([r.targets, r.fetched, r.truncated, r.discarded], [[], [aor('x'), aor('y')], false, 0]);
  });

  it('a forwarding entry holding a GRUU connects straight to its destination list', async () => {
    const gruu = gruuFor(aor('a'), [resourceDestination(resourceId('relay')), nodeDestination(dev('a1').identity.nodeId)]);
    await registrarOf(dev('g')).forward(aor('g'), gruu);
    const r = await resolveAor(caller.data, aor('g'));
    assert.deepEqual(r.targets.map((t) => [t.source, t.aor, t.destinationList.length]), [['gruu', aor('a'), 2]]);
  });

  it('removing a device\'s registration makes it disappear from the resolution', async () => {
    const registrar = registrars.find((r) => r.status().some((s) => s.aor === aor('a')))!;
    await registrar.remove(aor('a'));
    assert.deepEqual(registrar.status(), []);
    const r = await resolveAor(caller.data, aor('a'));
    assert.equal(r.targets.length, 1);
    assert.equal(r.discarded, 0);
    // The slot holds a nonexistent value now (RFC 6940 §7.4.1.3), not the old route.
    const [k] = await caller.data.fetch(resourceId(aor('a')), [{ kind: KindId.SIP_REGISTRATION, generation: 0n, model: 'dictionary', keys: [] }]);
    assert.deepEqual(k.values.map((v) => (v.data.value as { value: { exists: boolean } }).value.exists).sort(), [false, true]);
  });
});
