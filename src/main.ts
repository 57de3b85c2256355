// The composition root: one binary, `p2psip <command>`.
import { nodeDecodeIo, runDecode } from './decode/decode-command.ts';
import { runCa } from './enroll/ca-command.ts';
import { runEnroll } from './enroll/enroll-command.ts';
import { controlCommand, runDevice } from './run/run-command.ts';
import { runDemo } from './run/demo-command.ts';
import { isRaspberryPi } from './run/run-command.ts';
import { runFlash } from './run/flash-command.ts';

const USAGE = `usage: p2psip <command>
  run       start this device (embedded default configuration; see run --help)
  demo      a building on one machine: door panel, eight flats, a low-memory client, a door opened
  start     on a Raspberry Pi: run with its board; elsewhere: the demo
  status    routing table, connections and counters of the running device
  ping      ping a Node-ID or resource:<name> through the running device
  store     store a signed value in the overlay through the running device
  fetch     fetch values from the overlay and verify their signatures
  config-update FILE   offer a signed overlay configuration document to the running device
  call AOR|sip:URI     ring every device registered for an AOR (or a plain SIP address)
  answer | hangup | dtmf DIGITS | register sip:REGISTRAR   the running device's calls
  press BUTTON [--long] | open | door    the intercom: a call button, the door strike
  resources [budget BYTES] | role peer|client | log tail [N]   resources, role, recent log
  decode    print RELOAD messages from hex, raw bytes or a pcap/pcapng capture as JSON
  ca        run the overlay's enrollment server (CA); ca add-user NAME PASSWORD adds an account
  enroll    get this device's certificate from the enrollment server
  flash     write the bundle, configuration, identity and systemd unit into a board's root filesystem`;

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  const print = (line: string): void => void process.stdout.write(`${line}\n`);
  switch (command) {
    case 'run':
      return runDevice(args, print);
    case 'demo':
      return runDemo(args, print);
    case 'start':
      // The main job: on a Raspberry Pi, this board's intercom on the embedded default
      // configuration; anywhere else, the building demo shows what it does.
      return isRaspberryPi() ? runDevice(['--board', 'auto', ...args], print) : runDemo(args, print);
    case 'status':
    case 'ping':
    case 'store':
    case 'fetch':
    case 'config-update':
    case 'call':
    case 'answer':
    case 'hangup':
    case 'dtmf':
    case 'register':
    case 'press':
    case 'open':
    case 'door':
    case 'resources':
    case 'role':
    case 'log':
      return controlCommand(command, args, print);
    case 'decode':
      return runDecode(args, nodeDecodeIo());
    case 'ca':
      return runCa(args, print);
    case 'enroll':
      return runEnroll(args, print);
    case 'flash':
      return runFlash(args, print);
    case undefined:
    case '-h':
    case '--help':
      print(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`p2psip: unknown command "${command}"\n${USAGE}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e: Error) => {
    process.stderr.write(`p2psip: ${e.message}\n`);
    process.exitCode = 1;
  },
);
