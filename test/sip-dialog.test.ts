// Dialogs (RFC 3261 §12): the route set from Record-Route, reversed for the UAC and kept in
// order for the UAS, and requests inside the dialog routed loosely or strictly (§12.2.1.1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Dialog } from '../src/sip/core/dialog.ts';
import { type SipRequest, type SipResponse, SipHeaders } from '../src/sip/core/message.ts';

function invite(recordRoute: string[] = []): SipRequest {
  const headers = new SipHeaders([
    ['Via', 'SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa'],
    ['From', '"Door" <sip:door@building.example>;tag=f1'],
    ['To', '<sip:3b@building.example>'],
    ['Call-ID', 'c1@192.0.2.1'],
    ['CSeq', '7 INVITE'],
    ['Contact', '<sip:door@192.0.2.1:5060>'],
    ...recordRoute.map((r) => ['Record-Route', r] as [string, string]),
  ]);
  return { type: 'request', method: 'INVITE', uri: 'sip:3b@building.example', headers, body: new Uint8Array(0) };
}

function ok(request: SipRequest, recordRoute: string[]): SipResponse {
  const headers = new SipHeaders([
    ['Via', request.headers.get('Via')!],
    ['From', request.headers.get('From')!],
    ['To', '<sip:3b@building.example>;tag=t9'],
    ['Call-ID', 'c1@192.0.2.1'],
    ['CSeq', '7 INVITE'],
    ['Contact', '<sip:3b@192.0.2.9:5062;transport=tcp>'],
    ...recordRoute.map((r) => ['Record-Route', r] as [string, string]),
  ]);
  return { type: 'response', status: 200, reason: 'OK', headers, body: new Uint8Array(0) };
}

test('the UAC route set is the Record-Route of the 2xx in reverse; a BYE carries it as Route to the remote target', () => {
  const rr = ['<sip:p2.building.example;lr>', '<sip:p1.building.example;lr>'];
  const d = Dialog.asUac(invite(), ok(invite(), rr))!;
  assert.deepEqual(d.routeSet, ['sip:p1.building.example;lr', 'sip:p2.building.example;lr']);
  assert.equal(d.remoteTarget, 'sip:3b@192.0.2.9:5062;transport=tcp');
  assert.equal(d.state, 'confirmed');
  const bye = d.request('BYE');
  assert.equal(bye.uri, 'sip:3b@192.0.2.9:5062;transport=tcp', 'loose routing: the Request-URI is the remote target');
  assert.deepEqual(bye.headers.all('Route'), ['<sip:p1.building.example;lr>', '<sip:p2.building.example;lr>']);
  assert.equal(bye.headers.get('CSeq'), '8 BYE', 'the local sequence continues from the INVITE');
  assert.match(bye.headers.get('From')!, /;tag=f1$/);
  assert.match(bye.headers.get('To')!, /;tag=t9$/);
});

test('the UAS route set is the INVITE\'s Record-Route in order; its sequence starts afresh', () => {
  const d = Dialog.asUas(invite(['<sip:p1.building.example;lr>', '<sip:p2.building.example;lr>']), 'u1', 'early');
  assert.deepEqual(d.routeSet, ['sip:p1.building.example;lr', 'sip:p2.building.example;lr']);
  assert.equal(d.remoteTarget, 'sip:door@192.0.2.1:5060');
  assert.equal(d.remoteSeq, 7);
  const bye = d.request('BYE');
  assert.deepEqual(bye.headers.all('Route'), ['<sip:p1.building.example;lr>', '<sip:p2.building.example;lr>']);
  assert.match(bye.headers.get('From')!, /tag=u1/);
  assert.match(bye.headers.get('To')!, /tag=f1/);
});

test('a strict router first in the route set becomes the Request-URI and the remote target goes last (§12.2.1.1)', () => {
  const d = Dialog.asUac(invite(), ok(invite(), ['<sip:loose.example;lr>', '<sip:strict.example>']))!;
  const bye = d.request('BYE');
  assert.equal(bye.uri, 'sip:strict.example');
  assert.deepEqual(bye.headers.all('Route'), ['<sip:loose.example;lr>', '<sip:3b@192.0.2.9:5062;transport=tcp>']);
});

test('requests out of order in the dialog are refused; ACK and CANCEL do not move the sequence (§12.2.2)', () => {
  const d = Dialog.asUas(invite(), 'u1', 'confirmed');
  assert.equal(d.acceptsRemoteSeq(8, 'INFO'), true);
  assert.equal(d.acceptsRemoteSeq(8, 'BYE'), false);
  assert.equal(d.acceptsRemoteSeq(7, 'ACK'), true);
  assert.equal(d.acceptsRemoteSeq(9, 'BYE'), true);
});

test('a response without a To tag makes no dialog', () => {
  const response = ok(invite(), []);
  response.headers.set('To', '<sip:3b@building.example>');
  assert.equal(Dialog.asUac(invite(), response), undefined);
});
