// One logger per component, named by layer (`reload:chord`, `link:tls`); structured fields;
// debug off unless P2PSIP_DEBUG names the component (or `*`).

export type Fields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: Fields): void;
  info(message: string, fields?: Fields): void;
  warn(message: string, fields?: Fields): void;
  error(message: string, fields?: Fields): void;
}

export type LogSink = (line: string) => void;

let sink: LogSink = (line) => process.stderr.write(`${line}\n`);
let debugPattern = typeof process !== 'undefined' ? (process.env.P2PSIP_DEBUG ?? '') : '';

export function setLogSink(s: LogSink): void {
  sink = s;
}

export function setDebug(pattern: string): void {
  debugPattern = pattern;
}

function debugEnabled(name: string): boolean {
  if (debugPattern === '') return false;
  return debugPattern.split(',').some((p) => p === '*' || name === p || (p.endsWith('*') && name.startsWith(p.slice(0, -1))));
}

function render(v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Error) return v.message;
  return v;
}

export function createLogger(name: string): Logger {
  const write = (level: string, message: string, fields?: Fields): void => {
    const entry: Record<string, unknown> = { t: new Date().toISOString(), level, c: name, msg: message };
    if (fields) for (const [k, v] of Object.entries(fields)) entry[k] = render(v);
    sink(JSON.stringify(entry));
  };
  return {
    debug: (m, f) => { if (debugEnabled(name)) write('debug', m, f); },
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  };
}

/** A logger that drops everything: the default in unit tests. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
