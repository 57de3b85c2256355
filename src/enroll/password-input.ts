// A password given as "-" on the command line is read from stdin instead, keeping it out of
// the process list and the shell history.

/** Longest stdin read for a password. */
const MAX_PASSWORD_INPUT_BYTES = 4096;

/** The first line of stdin. */
export async function readPasswordLine(input: AsyncIterable<unknown> = process.stdin): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += b.length;
    if (size > MAX_PASSWORD_INPUT_BYTES) throw new Error(`password on stdin longer than ${MAX_PASSWORD_INPUT_BYTES} bytes`);
    chunks.push(b);
    if (b.includes(0x0a)) break;
  }
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0];
}
