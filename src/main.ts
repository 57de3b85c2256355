// The composition root: one binary, `p2psip <command>`.
import { nodeDecodeIo, runDecode } from './decode/decode-command.ts';
import { runPreview } from './run.ts';

const USAGE = `usage: p2psip <command>
  run       start this device (embedded default configuration)
  decode    print RELOAD messages from hex, raw bytes or a pcap/pcapng capture as JSON`;

function main(argv: string[]): number {
  const [command, ...args] = argv;
  switch (command) {
    case 'run':
      runPreview((line) => process.stdout.write(`${line}\n`));
      return 0;
    case 'decode':
      return runDecode(args, nodeDecodeIo());
    case undefined:
    case '-h':
    case '--help':
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`p2psip: unknown command "${command}"\n${USAGE}\n`);
      return 2;
  }
}

process.exitCode = main(process.argv.slice(2));
