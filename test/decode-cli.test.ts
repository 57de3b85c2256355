// `p2psip decode` on hex text, raw bytes and captures, in process and through the bundle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FramedMessage, encode, encodeMessage, toHex } from '../src/codec/index.ts';
import { type DecodeIo, runDecode } from '../src/decode/decode-command.ts';
import { PcapWriter } from '../src/decode/pcap-writer.ts';
import { ERROR_TOO_LOW, messageFor, NODE_A } from './fixtures/samples.ts';

type Line = Record<string, any>;

function decodeWith(input: Uint8Array, args: string[] = []): { code: number; lines: Line[] } {
  const printed: string[] = [];
  const io: DecodeIo = { readInput: () => input, print: (l) => printed.push(l) };
  const code = runDecode([...args, 'input'], io);
  return { code, lines: printed.map((l) => JSON.parse(l)) };
}

const store = encodeMessage(messageFor('store_req', 0x42n));
const errorMsg = encodeMessage(messageFor('error', 0x43n, ERROR_TOO_LOW));

test('hex text of one Store prints symbolic names and the SipRegistration', () => {
  const { code, lines } = decodeWith(new TextEncoder().encode(toHex(store).replace(/(..)/g, '$1 ')));
  assert.equal(code, 0);
  assert.equal(lines.length, 1);
  const m = lines[0];
  assert.equal(m.message_contents.method, 'store_req');
  assert.equal(m.forwarding_header.transaction_id, '0x0000000000000042');
  assert.equal(m.forwarding_header.destination_list[0].type, 'resource');
  const kd = m.message_contents.body.kindData[0];
  assert.deepEqual(kd.kind, { id: '0x00000001', name: 'SIP_REGISTRATION', data_model: 'dictionary' });
  const reg = kd.values[0].value.value.sip_registration;
  assert.equal(reg.type, 'route');
  assert.equal(reg.contactPrefs, '(sip.schemes=SIP)');
  assert.equal(reg.destinationList[0].id, toHex(NODE_A));
  assert.equal(kd.values[0].signature.algorithm, 'sha256+rsa');
});

test('raw bytes: bare messages back to back, an error with its code named', () => {
  const { code, lines } = decodeWith(new Uint8Array(Buffer.concat([store, errorMsg])));
  assert.equal(code, 0);
  assert.equal(lines.length, 2);
  assert.equal(lines[1].message_contents.method, 'error');
  assert.equal(lines[1].message_contents.body.error_code, 'Error_Generation_Counter_Too_Low');
  assert.equal(lines[1].message_contents.body.error_info.store_ans.kindResponses[0].generationCounter, '8');
});

test('a pcap of framed TCP and UDP traffic', () => {
  const w = new PcapWriter();
  const conv = w.tcpConversation({ client: { ip: '127.0.0.1', port: 40000 }, server: { ip: '127.0.0.1', port: 6084 } });
  conv.send(true, encode(FramedMessage, { type: 'data', sequence: 0, message: store }));
  conv.send(false, encode(FramedMessage, { type: 'ack', ackSequence: 0, received: 1 }));
  conv.send(false, encode(FramedMessage, { type: 'data', sequence: 0, message: errorMsg }));
  conv.close();
  w.udp({ ip: '127.0.0.1', port: 40001 }, { ip: '127.0.0.1', port: 6084 }, encode(FramedMessage, { type: 'data', sequence: 5, message: store }));
  const { code, lines } = decodeWith(w.toBytes());
  assert.equal(code, 0);
  assert.equal(lines.length, 4);
  const methods = lines.map((l) => l.message_contents?.method ?? l.frame.type).sort();
  assert.deepEqual(methods, ['ack', 'error', 'store_req', 'store_req']);
  assert.ok(lines.some((l) => l.source.proto === 'udp' && l.frame.sequence === 5));
});

test('a malformed message is reported with its field, and the exit code says so', () => {
  const bad = store.slice();
  bad[10] = 0x01; // version
  const { code, lines } = decodeWith(bad);
  assert.equal(code, 1);
  assert.equal(lines[0].field, 'forwarding_header.version');
});

test('the bundle is one file that runs with plain node', () => {
  execFileSync(process.execPath, ['build.mjs']);
  assert.ok(existsSync('dist/p2psip.mjs'));
  const bundle = readFileSync('dist/p2psip.mjs', 'utf8');
  assert.doesNotMatch(bundle, /^import .* from ["'](?!node:)/m, 'no import of anything but Node built-ins');
  const dir = mkdtempSync(join(tmpdir(), 'p2psip-decode-'));
  try {
    const file = join(dir, 'store.bin');
    writeFileSync(file, store);
    const out = execFileSync(process.execPath, ['dist/p2psip.mjs', 'decode', file], { encoding: 'utf8' });
    assert.equal(JSON.parse(out).message_contents.method, 'store_req');
    const hexOut = execFileSync(process.execPath, ['dist/p2psip.mjs', 'decode', '--hex', toHex(errorMsg)], { encoding: 'utf8' });
    assert.equal(JSON.parse(hexOut).message_contents.body.error_code, 'Error_Generation_Counter_Too_Low');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the bundle runs on Node 18, as Raspberry Pi OS ships it', (t) => {
  const node18 = process.env.P2PSIP_NODE18; // test/run.sh provides one from the npm registry
  if (!node18) return t.skip('no Node 18 binary (P2PSIP_NODE18 unset)');
  assert.match(execFileSync(node18, ['--version'], { encoding: 'utf8' }), /^v18\./);
  if (!existsSync('dist/p2psip.mjs')) execFileSync(process.execPath, ['build.mjs']);
  const out = execFileSync(node18, ['dist/p2psip.mjs', 'decode', '--hex', toHex(store)], { encoding: 'utf8' });
  assert.equal(JSON.parse(out).message_contents.method, 'store_req');
});
