// Tells systemd how the device is doing (sd_notify(3)) when it runs as the Type=notify unit
// that `p2psip flash` installs: READY=1 once it serves, WATCHDOG=1 while it is alive.
// Node has no AF_UNIX datagram sockets, so the message goes through `systemd-notify`, a
// child process; the unit says NotifyAccess=all to accept it. systemd-notify (systemd 246
// and later) waits until systemd has read the message, so it is not lost when the child
// exits first. Outside systemd (no NOTIFY_SOCKET) every call does nothing.
import { execFile } from 'node:child_process';

export interface SystemdNotifyOptions {
  /** Where NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID are read; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Runs `systemd-notify` with these arguments; default execFile, failing after 10 s. */
  exec?: (file: string, args: string[]) => Promise<void>;
  /** This process's PID, for WATCHDOG_PID; default process.pid. */
  pid?: number;
}

const NOTIFY_TIMEOUT_MS = 10_000;

function execNotify(file: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: NOTIFY_TIMEOUT_MS }, (error) => (error ? reject(error) : resolve()));
  });
}

async function notify(args: string[], opts: SystemdNotifyOptions): Promise<boolean> {
  const env = opts.env ?? process.env;
  if (!env.NOTIFY_SOCKET) return false;
  await (opts.exec ?? execNotify)('systemd-notify', args);
  return true;
}

/** READY=1 (and a STATUS= line when given); false when not under systemd. */
export function notifyReady(status?: string, opts: SystemdNotifyOptions = {}): Promise<boolean> {
  return notify(['--ready', ...(status !== undefined ? [`--status=${status}`] : [])], opts);
}

/** WATCHDOG=1; false when not under systemd. */
export function notifyWatchdog(opts: SystemdNotifyOptions = {}): Promise<boolean> {
  return notify(['WATCHDOG=1'], opts);
}

/**
 * How often to call notifyWatchdog(): half of WatchdogSec= as sd_watchdog_enabled(3)
 * advises, or undefined when systemd expects no pings from this process.
 */
export function watchdogIntervalMs(opts: SystemdNotifyOptions = {}): number | undefined {
  const env = opts.env ?? process.env;
  if (!env.NOTIFY_SOCKET) return undefined;
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isSafeInteger(usec) || usec <= 0) return undefined;
  // WATCHDOG_PID names the process meant to ping; a child that inherited it is not.
  if (env.WATCHDOG_PID !== undefined && Number(env.WATCHDOG_PID) !== (opts.pid ?? process.pid)) return undefined;
  return Math.max(1, Math.floor(usec / 2000));
}
