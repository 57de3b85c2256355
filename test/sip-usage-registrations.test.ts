// A device's own registrations (RFC 7904 §3.1): stored, refreshed before the lifetime runs
// out, retried with backoff, removed with a nonexistent value (RFC 6940 §7.4.1.3), silent
// after close. First on a fake clock against a fake Storing Peer that lets entries lapse,
// then refreshed for real over TLS with a short lifetime.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  type ResourceId, type StoreAns, type StoredDataValue, ErrorCode, KindId, SipRegistration, decode, fromHex, nodeDestination, resourceId, toHex,
} from '../src/codec/index.ts';
import { type OverlayConfiguration, embeddedDefaultConfiguration } from '../src/reload/config/index.ts';
import { ReloadError } from '../src/reload/errors.ts';
import { type Clock, FakeClock, systemClock } from '../src/util/clock.ts';
import { silentLogger } from '../src/util/log.ts';
import {
  type AorRegistrationStatus, type AorRegistrationsInit, AorRegistrationError, AorRegistrations, gruuFor, resolveAor,
} from '../src/usage/sip/index.ts';
import { OVERLAY, closeAll, startDevice } from './harness/in-process.ts';

const ME = 'flat1@building.example';
const NODE = fromHex('0f'.repeat(16));

/** A Storing Peer in memory: one slot per key, expiring `lifetime` seconds after receipt. */
class FakeStoringPeer {
  readonly stores: { atMs: number; resource: ResourceId; value: StoredDataValue; lifetimeS: number }[] = [];
  readonly slots = new Map<string, { value: StoredDataValue; expiresAtMs: number }>();
  /** Errors to answer with, one per Store, before storing again. */
  failures: Error[] = [];
  /** Answers wait for this when set. */
  gate: Promise<void> | undefined;

  constructor(private readonly clock: Clock) {}

  readonly data = {
    store: async (resource: ResourceId, kind: number, values: StoredDataValue[], opts: { lifetimeS?: number } = {}): Promise<StoreAns> => {
      assert.equal(kind, KindId.SIP_REGISTRATION);
      await this.gate;
      const failure = this.failures.shift();
      if (failure) throw failure;
      for (const value of values) {
        const lifetimeS = opts.lifetimeS ?? 3600;
        this.stores.push({ atMs: this.clock.now(), resource, value, lifetimeS });
        assert.equal(value.model, 'dictionary');
        this.slots.set(`${toHex(resource)}/${toHex((value as { key: Uint8Array }).key)}`, { value, expiresAtMs: this.clock.now() + lifetimeS * 1000 });
      }
      return { kindResponses: [] };
    },
  };

  /** The live value at `aor` under our key, if any. */
  live(aor = ME): StoredDataValue | undefined {
    const s = this.slots.get(`${toHex(resourceId(aor))}/${toHex(NODE)}`);
    return s && s.expiresAtMs > this.clock.now() ? s.value : undefined;
  }
}

function setup(init: AorRegistrationsInit = {}, cfg: () => OverlayConfiguration = () => embeddedDefaultConfiguration('building.example')) {
  const clock = new FakeClock();
  const peer = new FakeStoringPeer(clock);
  const changes: AorRegistrationStatus[] = [];
  const registrations = new AorRegistrations({
    clock, log: silentLogger, data: peer.data, security: { nodeId: NODE, userName: ME }, configuration: cfg, random: () => 0,
  }, { onChange: (s) => changes.push(s), ...init });
  /** Advances the clock in steps, letting each Store's promise settle. */
  const advance = async (ms: number, stepMs = 1000): Promise<void> => {
    for (let done = 0; done < ms; done += stepMs) {
      clock.advance(Math.min(stepMs, ms - done));
      for (let i = 0; i < 5; i++) await Promise.resolve();
    }
  };
  return { clock, peer, changes, registrations, advance };
}

const registrationOf = (v: StoredDataValue | undefined): SipRegistration | undefined =>
  v && v.model === 'dictionary' && v.value.exists ? decode(SipRegistration, v.value.value) : undefined;

describe('AorRegistrations on a fake clock', () => {
  it('stores a route to this node keyed by its Node-ID, under the AOR\'s Resource-ID', async () => {
    const { peer, registrations } = setup();
    const status = await registrations.register(`sip:${ME}`, { contactPrefs: '(sip.schemes=SIPS)', lifetimeS: 120 });
    assert.deepEqual(
      { state: status.state, expiresInMs: status.expiresInMs, nextAttemptInMs: status.nextAttemptInMs, failures: status.failures, entry: status.entry },
      { state: 'registered', expiresInMs: 120_000, nextAttemptInMs: 96_000, failures: 0, entry: 'route' },
    );
    assert.equal(status.target, gruuFor(ME, [nodeDestination(NODE)]).split(';gr=')[1]);
    assert.deepEqual(peer.stores[0].resource, resourceId(ME));
    assert.equal(peer.stores[0].lifetimeS, 120);
    assert.deepEqual(registrationOf(peer.live()), { type: 'route', contactPrefs: '(sip.schemes=SIPS)', destinationList: [nodeDestination(NODE)] });
  });

  it('is stored again before it expires, so it never lapses', async () => {
    const { peer, registrations, advance } = setup({ lifetimeS: 60 });
    await registrations.register(ME);
    for (let s = 0; s < 600; s += 5) {
      await advance(5_000);
      assert.ok(peer.live(), `lapsed at ${s + 5} s`);
    }
    // Every 48 s: 0.8 of the lifetime.
    assert.deepEqual(peer.stores.slice(0, 4).map((s) => s.atMs), [0, 48_000, 96_000, 144_000]);
    assert.equal(registrations.status()[0].state, 'registered');
  });

  it('surfaces a refusal, retries with doubling backoff, and recovers', async () => {
    const { peer, registrations, advance, changes } = setup({ retryMinMs: 1000, retryMaxMs: 4000, lifetimeS: 60 });
    peer.failures = [1, 2, 3, 4].map(() => new ReloadError(ErrorCode.Error_Forbidden, 'USER-NODE-MATCH'));
    const first = await registrations.register(ME);
    assert.equal(first.state, 'retrying');
    assert.deepEqual(first.lastError, { message: 'Error_Forbidden: USER-NODE-MATCH', code: ErrorCode.Error_Forbidden });
    assert.equal(first.nextAttemptInMs, 1000);
    await advance(1000, 250);
    assert.equal(registrations.status()[0].nextAttemptInMs, 2000);
    await advance(2000, 250);
    assert.equal(registrations.status()[0].nextAttemptInMs, 4000);
    await advance(4000, 250);
    // Capped at retryMaxMs.
    assert.equal(registrations.status()[0].nextAttemptInMs, 4000);
    assert.equal(registrations.status()[0].failures, 4);
    await advance(4000, 250);
    const status = registrations.status()[0];
    assert.deepEqual([status.state, status.failures, status.lastError], ['registered', 0, undefined]);
    assert.ok(peer.live());
    assert.deepEqual(changes.map((c) => c.state).slice(0, 4), ['storing', 'retrying', 'storing', 'retrying']);
  });

  it('checks the domain itself and stores once a new configuration admits it (§3.3 SHOULD)', async () => {
    let cfg = embeddedDefaultConfiguration('building.example', { domainRestriction: { enable: true, patterns: ['annex\\.example'] } });
    const { peer, registrations, advance } = setup({ retryMinMs: 1000 }, () => cfg);
    const status = await registrations.register(ME);
    assert.equal(status.state, 'retrying');
    assert.equal(status.lastError?.code, ErrorCode.Error_Forbidden);
    await advance(10_000, 500);
    assert.equal(peer.stores.length, 0, 'nothing sent while the domain is not admitted');
    cfg = embeddedDefaultConfiguration('building.example', { domainRestriction: { enable: false, patterns: [] } });
    await advance(60_000, 500);
    assert.equal(registrations.status()[0].state, 'registered');
    assert.equal(peer.stores.length, 1);
  });

  it('forwards to another AOR or a GRUU, one entry per device: the route is replaced', async () => {
    const { peer, registrations } = setup();
    await registrations.register(ME);
    const status = await registrations.forward(ME, 'sip:concierge@building.example');
    assert.deepEqual([status.entry, status.target, status.state], ['uri', 'concierge@building.example', 'registered']);
    assert.deepEqual(registrationOf(peer.live()), { type: 'uri', uri: 'concierge@building.example' });
    const gruu = gruuFor('concierge@building.example', [nodeDestination(fromHex('ab'.repeat(16)))]);
    await registrations.forward(ME, gruu);
    assert.deepEqual(registrationOf(peer.live()), { type: 'uri', uri: gruu });
    assert.equal(registrations.status().length, 1);
  });

  it('refuses what no retry could fix', async () => {
    const { registrations } = setup();
    const reason = (r: string) => (e: unknown) => e instanceof AorRegistrationError && e.reason === r;
    await assert.rejects(registrations.register('flat2@building.example'), reason('not_our_aor'));
    await assert.rejects(registrations.register(ME, { destinationList: [] }), reason('bad_target'));
    await assert.rejects(registrations.register(ME, { lifetimeS: 0 }), reason('bad_lifetime'));
    await assert.rejects(registrations.forward(ME, 'tel:+15551234'), reason('bad_target'));
    await assert.rejects(registrations.forward(ME, `sip:${ME}`), reason('bad_target'));
    await assert.rejects(registrations.register('not an aor'), { name: 'AorError' });
    const bounded = setup({ maxAors: 0 }).registrations;
    await assert.rejects(bounded.register(ME), reason('too_many_aors'));
    assert.deepEqual(registrations.status(), []);
  });

  it('removes with a nonexistent value living at least as long as the entry it replaces (RFC 6940 §7.4.1.3)', async () => {
    const { peer, registrations, advance, clock } = setup({ lifetimeS: 60 });
    await registrations.register(ME, { lifetimeS: 600 });
    await advance(100_000);
    await registrations.remove(ME);
    const last = peer.stores.at(-1)!;
    assert.deepEqual(last.value, { model: 'dictionary', key: NODE, value: { exists: false, value: new Uint8Array(0) } });
    assert.ok(last.lifetimeS >= 600, `tombstone lifetime ${last.lifetimeS}`);
    // The slot holds the nonexistent value now, not the route.
    assert.deepEqual(peer.live(), last.value);
    assert.deepEqual(registrations.status(), []);
    const count = peer.stores.length;
    await advance(3_600_000, 60_000);
    assert.equal(peer.stores.length, count, 'no refresh after remove');
    assert.equal(clock.pending, 0);
  });

  it('a remove during a Store in flight ends with the entry removed', async () => {
    const { peer, registrations, changes } = setup();
    let open!: () => void;
    peer.gate = new Promise((r) => (open = r));
    const registering = registrations.register(ME);
    while (!changes.some((c) => c.state === 'storing')) await Promise.resolve();
    const removing = registrations.remove(ME);
    open();
    const status = await registering;
    await removing;
    // The register() answer is the state when its own Store settled: the removal had begun.
    assert.equal(status.state, 'removing');
    assert.equal(registrationOf(peer.live()), undefined);
    assert.deepEqual(changes.map((c) => c.state), ['storing', 'removing', 'removed']);
  });

  it('a remove before the first Store starts sends only the removal', async () => {
    const { peer, registrations, changes } = setup();
    const registering = registrations.register(ME);
    await registrations.remove(ME);
    assert.equal((await registering).state, 'removing');
    assert.deepEqual(peer.stores.map((s) => s.value.model === 'dictionary' && s.value.value.exists), [false]);
    assert.deepEqual(changes.map((c) => c.state), ['removing', 'removed']);
  });

  it('close() stops every timer, is idempotent, and nothing calls back after it', async () => {
    const { peer, registrations, clock, changes } = setup({ retryMinMs: 1000 });
    await registrations.register(ME);
    let open!: () => void;
    peer.gate = new Promise((r) => (open = r));
    clock.advance(10_000_000);
    const before = changes.length;
    registrations.close();
    registrations.close();
    open();
    await new Promise((r) => setImmediate(r));
    assert.equal(clock.pending, 0);
    assert.equal(changes.length, before);
    await assert.rejects(registrations.register(ME), (e: unknown) => e instanceof AorRegistrationError && e.reason === 'closed');
    await assert.rejects(registrations.remove(ME), (e: unknown) => e instanceof AorRegistrationError && e.reason === 'closed');
  });
});

describe('AorRegistrations over real TLS links', { timeout: 60_000 }, () => {
  after(() => closeAll());

  it('a registration with a 2 s lifetime is refreshed before it expires and stays resolvable', async () => {
    const first = await startDevice({ userName: `lobby@${OVERLAY}` });
    const door = await startDevice({ userName: `door@${OVERLAY}`, bootstrap: [first.listening] });
    const caller = await startDevice({ userName: `flat9@${OVERLAY}`, bootstrap: [first.listening] });
    await new Promise((r) => setTimeout(r, 1000));
    const registrations = new AorRegistrations({
      clock: systemClock, log: silentLogger, data: door.data, security: door.security, configuration: () => door.configuration.current,
    }, { lifetimeS: 2, refreshFraction: 0.5 });
    try {
      assert.equal((await registrations.register(`door@${OVERLAY}`)).state, 'registered');
      const times = new Set<bigint>();
      for (let i = 0; i < 8; i++) {
        const [k] = await caller.data.fetch(resourceId(`door@${OVERLAY}`), [{ kind: KindId.SIP_REGISTRATION, generation: 0n, model: 'dictionary', keys: [] }]);
        const live = k.values.filter((v) => v.signer);
        assert.equal(live.length, 1, `lapsed after ${i * 500} ms`);
        times.add(live[0].data.storageTime);
        await new Promise((r) => setTimeout(r, 500));
      }
      // Four seconds at one Store a second: refreshed, never gone.
      assert.ok(times.size >= 3, `stored ${times.size} times`);
      const r = await resolveAor(caller.data, `door@${OVERLAY}`);
      assert.deepEqual(r.targets.map((t) => toHex(t.registeredBy!)), [toHex(door.identity.nodeId)]);
    } finally {
      registrations.close();
    }
  });
});
