// Call commands of the control socket (and, through the same interpreter, the serial console
// and MQTT): call, answer, hangup, dtmf, and register with a conventional registrar.
import type { CommandInterpreter } from '../control/control-server.ts';
import type { UserAgent } from '../sip/ua/user-agent.ts';

export function registerCallCommands(interpreter: CommandInterpreter, ua: UserAgent): void {
  interpreter.register('call', ([target]) => {
    if (!target) throw new Error('usage: call <aor | sip:uri | gruu>');
    return ua.call(target).status();
  });
  interpreter.register('answer', ([id]) => ua.answer(id).status());
  interpreter.register('hangup', ([id]) => ua.hangup(id).status());
  interpreter.register('register', async ([registrar, expires]) => {
    if (!registrar) throw new Error('usage: register <registrar sip:uri> [expires s]');
    return ua.register(registrar, expires === undefined ? undefined : Number(expires));
  });
  interpreter.register('dtmf', (args) => {
    const digits = args.find((a) => !a.startsWith('--'));
    if (!digits) throw new Error('usage: dtmf <digits> [--info | --rfc4733] [--call ID]');
    const at = args.indexOf('--call');
    const mode = args.includes('--info') ? 'info' : args.includes('--rfc4733') ? 'rfc4733' : 'auto';
    return ua.dtmf(digits, { id: at >= 0 ? args[at + 1] : undefined, mode }).status();
  });
}
