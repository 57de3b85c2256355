// multipart/form-data (RFC 7578, RFC 2046 §5.1.1) as enrollment requests use it (RFC 6940 §11.3).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MultipartError, boundaryOf, encodeMultipart, parseMultipart } from '../src/enroll/multipart.ts';

const te = (s: string): Uint8Array => new TextEncoder().encode(s);
const td = (b: Uint8Array): string => new TextDecoder().decode(b);

test('encode → parse round trip keeps names, types, file names and binary values', () => {
  const csr = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
  const { body, contentType } = encodeMultipart([
    { name: 'username', data: te('alice@building.example') },
    { name: 'password', data: te('pässwörd "quoted"') },
    { name: 'csr', contentType: 'application/pkcs10', filename: 'a "csr".der', data: csr },
  ]);
  const parts = parseMultipart(body, boundaryOf(contentType));
  assert.deepEqual([...parts.keys()], ['username', 'password', 'csr']);
  assert.equal(td(parts.get('username')!.data), 'alice@building.example');
  assert.equal(td(parts.get('password')!.data), 'pässwörd "quoted"');
  assert.deepEqual(parts.get('csr')!.data, csr);
  assert.equal(parts.get('csr')!.contentType, 'application/pkcs10');
  assert.equal(parts.get('csr')!.filename, 'a "csr".der');
  assert.equal(parts.get('username')!.contentType, undefined);
});

test('a body as curl writes it: preamble, quoted boundary, transport padding, epilogue', () => {
  const body = te('ignored preamble\r\n--XyZ  \r\nContent-Disposition: form-data; name="username"\r\n\r\nbob\r\n'
    + '--XyZ\r\ncontent-disposition: FORM-DATA; NAME=password\r\n\r\n\r\n--XyZ--\r\nepilogue');
  const parts = parseMultipart(body, boundaryOf('Multipart/Form-Data; boundary="XyZ"'));
  assert.equal(td(parts.get('username')!.data), 'bob');
  assert.equal(parts.get('password')!.data.length, 0, 'an empty value');
});

test('Content-Type headers that are not multipart/form-data with a boundary are refused', () => {
  for (const bad of [undefined, '', 'application/json', 'multipart/form-data', 'multipart/form-data; boundary=', 'multipart/mixed; boundary=a',
    `multipart/form-data; boundary=${'a'.repeat(71)}`, 'multipart/form-data; boundary=a; boundary=b', 'multipart/form-data; boundary="a b "']) {
    assert.throws(() => boundaryOf(bad), MultipartError, String(bad));
  }
});

test('malformed bodies each throw MultipartError', () => {
  const b = 'B';
  const cases: Record<string, string> = {
    'no boundary': 'just text',
    'unterminated part': `--${b}\r\nContent-Disposition: form-data; name="a"\r\n\r\nvalue`,
    'no CRLF after boundary': `--${b}x\r\nContent-Disposition: form-data; name="a"\r\n\r\nv\r\n--${b}--`,
    'no Content-Disposition': `--${b}\r\nContent-Type: text/plain\r\n\r\nv\r\n--${b}--`,
    'no header end': `--${b}\r\nContent-Disposition: form-data; name="a"\r\n--${b}--`,
    'not form-data': `--${b}\r\nContent-Disposition: attachment; name="a"\r\n\r\nv\r\n--${b}--`,
    'no name': `--${b}\r\nContent-Disposition: form-data\r\n\r\nv\r\n--${b}--`,
    'no headers at all': `--${b}\r\n\r\nv\r\n--${b}--`,
    'bad header line': `--${b}\r\nContent-Disposition form-data\r\n\r\nv\r\n--${b}--`,
    'duplicate field': `--${b}\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--${b}\r\nContent-Disposition: form-data; name="a"\r\n\r\n2\r\n--${b}--`,
    'base64 transfer encoding': `--${b}\r\nContent-Disposition: form-data; name="a"\r\nContent-Transfer-Encoding: base64\r\n\r\nAA==\r\n--${b}--`,
    'header too long': `--${b}\r\nContent-Disposition: form-data; name="a"\r\nX-Pad: ${'x'.repeat(2000)}\r\n\r\nv\r\n--${b}--`,
  };
  for (const [what, body] of Object.entries(cases)) assert.throws(() => parseMultipart(te(body), b), MultipartError, what);
  const many = Array.from({ length: 9 }, (_, i) => `--${b}\r\nContent-Disposition: form-data; name="f${i}"\r\n\r\nv\r\n`).join('') + `--${b}--`;
  assert.throws(() => parseMultipart(te(many), b), /more than 8 parts/);
});

test('random bodies only ever give MultipartError', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), fc.boolean(), (noise, framed) => {
    const bytes = framed ? new Uint8Array([...te('--B\r\nContent-Disposition: form-data; name="x"\r\n\r\n'), ...noise, ...te('\r\n--B--')]) : noise;
    try {
      parseMultipart(bytes, 'B');
    } catch (e) {
      if (!(e instanceof MultipartError)) throw e;
    }
  }), { numRuns: 500 });
});
