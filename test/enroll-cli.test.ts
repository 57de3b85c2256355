// `p2psip ca add-user`, `p2psip ca` and `p2psip enroll` as processes, from the TypeScript source.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { loadOrCreateIdentity } from '../src/reload/security/index.ts';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));

function p2psip(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['--import', 'tsx', MAIN, ...args], { timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
    child.stdin?.end(input ?? '');
  });
}

test('ca add-user, ca, enroll: the enrolled device identity is what run would load', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'p2psip-enroll-cli-'));
  const ca = spawn(process.execPath, ['--import', 'tsx', MAIN, 'ca', '--data', join(dir, 'ca'), '--listen', '127.0.0.1:0', '--overlay', 'house.example'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    const added = await p2psip(['ca', 'add-user', 'door@house.example', '-', '--data', join(dir, 'ca')], 'open sesame\n');
    assert.equal(added.code, 0, added.stderr);
    assert.equal(JSON.parse(added.stdout).event, 'user-added');

    const [line] = (await once(createInterface({ input: ca.stdout }), 'line')) as [string];
    const started = JSON.parse(line) as { event: string; url: string; rootCertificate: string };
    assert.equal(started.event, 'started');
    assert.match(started.url, /^https:\/\/127\.0\.0\.1:\d+\/enroll$/);

    const base = ['enroll', '--server', started.url, '--root', started.rootCertificate, '--user', 'door@house.example', '--data', join(dir, 'device'), '--overlay', 'house.example'];
    const refused = await p2psip([...base, '--password', 'wrong']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /failed_authentication/);

    const enrolled = await p2psip([...base, '--password', 'open sesame']);
    assert.equal(enrolled.code, 0, enrolled.stderr);
    const out = JSON.parse(enrolled.stdout) as { event: string; nodeIds: string[]; userName: string };
    assert.equal(out.event, 'enrolled');
    assert.equal(out.userName, 'door@house.example');
    const id = await loadOrCreateIdentity(join(dir, 'device'), { overlay: 'house.example', userName: 'device@house.example' });
    assert.equal(Buffer.from(id.nodeId).toString('hex'), out.nodeIds[0]);
  } finally {
    ca.kill('SIGTERM');
    await once(ca, 'exit');
    rmSync(dir, { recursive: true, force: true });
  }
});
