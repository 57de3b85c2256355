// Whom a joining device tries, in which order (RFC 6940 §11.4: remembered peers before the
// configured bootstrap nodes, LAN-discovered ones between), and the "first node" rule.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  BOOTSTRAP_CONFIGURED_RESERVED, BOOTSTRAP_MAX_CANDIDATES, BOOTSTRAP_RETRY_MAX_MS, type BootstrapCandidate, type NoAnswerSituation,
  bootstrapCandidates, bootstrapOrder, bootstrapRetryDelayMs, endpointKey, whenNoBootstrapAnswers,
} from '../src/device/bootstrap-order.ts';

const at = (host: string, port = 6084) => ({ host, port });
const keys = (cs: BootstrapCandidate[]): string[] => cs.map((c) => `${c.source} ${c.host}:${c.port}`);

describe('bootstrapOrder', () => {
  it('tries remembered peers (most recently seen first), then LAN peers, then configured nodes', () => {
    const order = bootstrapOrder({
      remembered: [{ ...at('10.0.0.1'), lastSeenMs: 100 }, { ...at('10.0.0.2'), lastSeenMs: 300 }, { ...at('10.0.0.3'), lastSeenMs: 200 }],
      discovered: [at('10.0.0.20'), at('10.0.0.21')],
      configured: [at('192.0.2.1'), at('192.0.2.2')],
    });
    assert.deepEqual(keys(order), [
      'remembered 10.0.0.2:6084', 'remembered 10.0.0.3:6084', 'remembered 10.0.0.1:6084',
      'lan 10.0.0.20:6084', 'lan 10.0.0.21:6084',
      'configured 192.0.2.1:6084', 'configured 192.0.2.2:6084',
    ]);
  });

  it('keeps the given order among remembered peers seen at the same time', () => {
    const order = bootstrapOrder({ remembered: [{ ...at('10.0.0.9'), lastSeenMs: 5 }, { ...at('10.0.0.8'), lastSeenMs: 5 }] });
    assert.deepEqual(order.map((c) => c.host), ['10.0.0.9', '10.0.0.8']);
  });

  it('lists each host:port once, under the earliest source; hosts compare in one spelling', () => {
    const order = bootstrapOrder({
      remembered: [{ ...at('10.0.0.1'), lastSeenMs: 1 }, { ...at('fe80::1'), lastSeenMs: 0 }],
      discovered: [at('10.0.0.1'), at('::ffff:10.0.0.1'), at('10.0.0.1', 6085), at('[FE80::1]')],
      configured: [at('10.0.0.1'), at('10.0.0.1', 6085), at('Lobby.Local'), at('lobby.local')],
    });
    assert.deepEqual(keys(order), ['remembered 10.0.0.1:6084', 'remembered fe80::1:6084', 'lan 10.0.0.1:6085', 'configured Lobby.Local:6084']);
    assert.equal(endpointKey(at('[::FFFF:192.0.2.7]', 1)), '192.0.2.7:1');
    assert.equal(endpointKey(at('FE80::1', 1)), '[fe80::1]:1');
  });

  it('excludes our own endpoint, our Node-ID at an old address, and endpoints nobody can connect to', () => {
    const order = bootstrapOrder({
      self: [at('10.0.0.5', 6084), at('0.0.0.0', 7000)],
      selfNodeId: 'AB'.repeat(16),
      remembered: [{ ...at('10.0.0.9'), lastSeenMs: 1, nodeId: 'ab'.repeat(16) }, { ...at('10.0.0.10'), lastSeenMs: 0, nodeId: 'cd'.repeat(16) }],
      discovered: [at('10.0.0.5'), at('127.0.0.1', 7000), at('localhost', 7000), at('[::1]', 7000), { ...at('10.0.0.6'), nodeId: 'ab'.repeat(16) }],
      configured: [at('10.0.0.5'), at('0.0.0.0'), at('::'), at('10.0.0.7', 0), at('10.0.0.7', 70_000), at('', 6084), at('10.0.0.7', 7000)],
    });
    assert.deepEqual(keys(order), ['remembered 10.0.0.10:6084', 'configured 10.0.0.7:7000'],
      'a wildcard listen address stands for loopback only: another host on the same port stays');
    assert.equal(order[0].nodeId, 'cd'.repeat(16));
  });

  it('is bounded, and configured nodes keep their reserved slots however many others there are', () => {
    const many = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => at(`${prefix}.${i}`));
    const order = bootstrapOrder({
      remembered: many('10.1.0', 30).map((e, i) => ({ ...e, lastSeenMs: 1000 - i })),
      discovered: many('10.2.0', 30),
      configured: many('192.0.2', 10),
    });
    assert.equal(order.length, BOOTSTRAP_MAX_CANDIDATES);
    assert.equal(order.filter((c) => c.source === 'configured').length, BOOTSTRAP_CONFIGURED_RESERVED);
    assert.deepEqual(order.slice(-BOOTSTRAP_CONFIGURED_RESERVED).map((c) => c.host), ['192.0.2.0', '192.0.2.1', '192.0.2.2', '192.0.2.3']);
    assert.equal(order[0].host, '10.1.0.0');

    const few = bootstrapOrder({ remembered: [{ ...at('10.1.0.1'), lastSeenMs: 0 }], configured: many('192.0.2', 30), max: 8 });
    assert.equal(few.length, 8, 'configured nodes fill the slots the others leave');
    assert.equal(few[0].source, 'remembered');
    assert.deepEqual(bootstrapOrder({ configured: many('192.0.2', 3), max: 2 }).map((c) => c.host), ['192.0.2.0', '192.0.2.1']);
    assert.deepEqual(bootstrapOrder({ configured: many('192.0.2', 3), max: 0 }), []);
    assert.deepEqual(bootstrapOrder({}), []);
  });

  it('bootstrapCandidates listens on the LAN first, and a failing discovery only loses the LAN peers', async () => {
    const lan = { discover: async (ms: number) => { assert.equal(ms, 250); return [{ ...at('10.0.0.20'), nodeId: 'ee'.repeat(16) }, { ...at('10.0.0.5'), nodeId: 'ff'.repeat(16) }]; } };
    const round = await bootstrapCandidates({ configured: [at('192.0.2.1')], self: [at('10.0.0.5')], selfNodeId: '00'.repeat(16) }, lan, { discoveryMs: 250 });
    assert.deepEqual(keys(round.candidates), ['lan 10.0.0.20:6084', 'configured 192.0.2.1:6084']);
    assert.deepEqual(round.discovered, ['ee'.repeat(16)]);
    const broken = { discover: async (): Promise<never> => { throw new Error('no socket'); } };
    const fallback = await bootstrapCandidates({ configured: [at('192.0.2.1')] }, broken);
    assert.deepEqual(keys(fallback.candidates), ['configured 192.0.2.1:6084']);
    assert.deepEqual((await bootstrapCandidates({ remembered: [{ ...at('10.0.0.1'), lastSeenMs: 0 }] }, undefined)).discovered, []);
  });
});

describe('whenNoBootstrapAnswers: the first-node rule', () => {
  const self = '55'.repeat(16);
  const peer = (s: Partial<NoAnswerSituation>): NoAnswerSituation => ({ role: 'peer', configured: 0, selfConfigured: false, selfNodeId: self, discovered: [], ...s });

  it('nothing configured and nothing on the LAN: the device starts a new overlay', () => {
    assert.equal(whenNoBootstrapAnswers(peer({})), 'create-overlay');
  });

  it('configured bootstrap nodes unreachable: keep trying, never fork a second overlay', () => {
    assert.equal(whenNoBootstrapAnswers(peer({ configured: 2 })), 'retry');
    assert.equal(whenNoBootstrapAnswers(peer({ configured: 1, discovered: [] })), 'retry');
  });

  it('a configured bootstrap node that reaches no other starts the overlay', () => {
    assert.equal(whenNoBootstrapAnswers(peer({ configured: 2, selfConfigured: true })), 'create-overlay');
    assert.equal(whenNoBootstrapAnswers(peer({ configured: 0, selfConfigured: true })), 'create-overlay');
  });

  it('peers announced on the LAN but unreachable: the lowest Node-ID starts, the others wait for it', () => {
    assert.equal(whenNoBootstrapAnswers(peer({ discovered: ['77'.repeat(16)] })), 'create-overlay');
    assert.equal(whenNoBootstrapAnswers(peer({ discovered: ['77'.repeat(16), '33'.repeat(16)] })), 'retry');
    assert.equal(whenNoBootstrapAnswers(peer({ discovered: ['AA'.repeat(16)], selfNodeId: '0B'.repeat(16) })), 'create-overlay', 'hex compares case-insensitively');
    assert.equal(whenNoBootstrapAnswers(peer({ discovered: [self] })), 'create-overlay', 'our own record is not another peer');
    assert.equal(whenNoBootstrapAnswers(peer({ selfConfigured: true, configured: 1, discovered: ['11'.repeat(16)] })), 'retry');
  });

  it('a client never starts an overlay', () => {
    assert.equal(whenNoBootstrapAnswers(peer({ role: 'client' })), 'retry');
    assert.equal(whenNoBootstrapAnswers(peer({ role: 'client', selfConfigured: true })), 'retry');
  });
});

describe('bootstrapRetryDelayMs', () => {
  it('doubles from one second, is capped, and jitters within the upper half', () => {
    assert.equal(bootstrapRetryDelayMs(0, () => 1), 1000);
    assert.equal(bootstrapRetryDelayMs(0, () => 0), 500);
    assert.equal(bootstrapRetryDelayMs(3, () => 1), 8000);
    assert.equal(bootstrapRetryDelayMs(50, () => 1), BOOTSTRAP_RETRY_MAX_MS);
    assert.equal(bootstrapRetryDelayMs(-1, () => 1), 1000);
    for (let i = 0; i < 100; i++) {
      const d = bootstrapRetryDelayMs(i % 10);
      assert.ok(d >= 500 && d <= BOOTSTRAP_RETRY_MAX_MS);
    }
  });
});
