// The MQTT command topic: one plain-text command line per message, in the control socket's
// syntax, run by the same interpreter; one JSON result per message. Whatever arrives is
// answered (with an error if malformed) and never throws into the MQTT client.
import type { Logger } from '../util/log.ts';
import { MQTT_MAX_COMMAND_BYTES, MQTT_MAX_COMMANDS_IN_FLIGHT, MQTT_MAX_PAYLOAD_BYTES } from './mqtt-constants.ts';

/** What the command topic needs of the command interpreter (control/CommandInterpreter fits). */
export interface CommandLineInterpreter {
  /** Runs one command line; resolves to a JSON-able `{ ok, result | error }`. */
  run(line: string): Promise<unknown>;
}

/** The parts of a received PUBLISH the command topic looks at. */
export interface CommandMessage {
  retain: boolean;
  properties?: { correlationData?: Buffer };
}

/** Sends one result payload (JSON) back, with the request's MQTT 5 correlation data. */
export type CommandReply = (payload: string, correlationData?: Buffer) => void;

const CONTROL_CHARACTERS = /[\u0000-\u0008\u000a-\u001f\u007f]/;

export class MqttCommandTopic {
  readonly counters = { run: 0, rejected: 0 };
  private running = 0;
  private readonly utf8 = new TextDecoder('utf-8', { fatal: true });

  constructor(
    private readonly components: { log: Logger; interpreter: CommandLineInterpreter },
    private readonly reply: CommandReply,
  ) {}

  /** Commands still running. */
  get inFlight(): number {
    return this.running;
  }

  receive(payload: Buffer, message: CommandMessage): void {
    const correlation = message.properties?.correlationData;
    const reject = (error: string, name?: string): void => {
      this.counters.rejected++;
      this.components.log.debug('command rejected', { error });
      this.answer(name, { ok: false, error }, correlation);
    };
    if (message.retain) return reject('retained commands are ignored; publish commands without retain');
    // Size before decoding: the limit is on what we buffer and parse.
    if (payload.length > MQTT_MAX_COMMAND_BYTES) return reject(`command longer than ${MQTT_MAX_COMMAND_BYTES} bytes`);
    let line: string;
    try {
      line = this.utf8.decode(payload).trim();
    } catch {
      return reject('command is not UTF-8');
    }
    if (line === '') return reject('empty command');
    if (CONTROL_CHARACTERS.test(line)) return reject('one command line per message, without control characters');
    // Only the command's name is logged and echoed: arguments may be secrets (a door code,
    // a password in `config set`), and everyone who reads the result topic would see them.
    const name = line.split(/\s+/, 1)[0]!;
    if (this.running >= MQTT_MAX_COMMANDS_IN_FLIGHT) return reject('busy: too many commands running', name);
    this.running++;
    this.counters.run++;
    this.components.log.info('command from mqtt', { command: name });
    Promise.resolve()
      .then(() => this.components.interpreter.run(line))
      .catch((e: unknown) => ({ ok: false, error: e instanceof Error ? e.message : String(e) }))
      .then((result) => {
        this.running--;
        this.answer(name, result, correlation);
      });
  }

  /** `{"command":<name>,"ok":…,"result"|"error":…}`. */
  private answer(command: string | undefined, result: unknown, correlationData?: Buffer): void {
    const head = { command: command ?? null };
    const body = typeof result === 'object' && result !== null && !Array.isArray(result) ? result : { ok: true, result };
    let payload: string;
    try {
      payload = JSON.stringify({ ...head, ...body }, jsonValue);
    } catch (e) {
      payload = JSON.stringify({ ...head, ok: false, error: `result not serializable: ${(e as Error).message}` });
    }
    if (Buffer.byteLength(payload) > MQTT_MAX_PAYLOAD_BYTES) {
      payload = JSON.stringify({ ...head, ok: false, error: `result larger than ${MQTT_MAX_PAYLOAD_BYTES} bytes` });
    }
    try {
      this.reply(payload, correlationData);
    } catch (e) {
      this.components.log.warn('command result not sent', { error: (e as Error).message });
    }
  }
}

/** Byte strings as hex, 64-bit integers as strings (the control socket's JSON rules). */
export function jsonValue(_key: string, v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  if (typeof v === 'bigint') return v.toString();
  return v;
}
