// DTMF in SIP INFO bodies: application/dtmf-relay ("Signal=5\r\nDuration=160") and
// application/dtmf ("5"), as phones and baresip send them.

const DIGIT = /^[0-9*#A-D]$/;

/** The digit an INFO body carries, or undefined when it carries none we know. */
export function parseDtmfInfo(contentType: string, body: string): string | undefined {
  if (contentType === 'application/dtmf-relay') {
    const m = /^\s*signal\s*=\s*(\S+)\s*$/im.exec(body);
    const digit = m?.[1].toUpperCase();
    if (digit === '10') return '*';
    if (digit === '11') return '#';
    return digit && DIGIT.test(digit) ? digit : undefined;
  }
  if (contentType === 'application/dtmf') {
    const digit = body.trim().toUpperCase();
    return DIGIT.test(digit) ? digit : undefined;
  }
  return undefined;
}

export function formatDtmfInfo(digit: string, durationMs = 160): string {
  return `Signal=${digit}\r\nDuration=${durationMs}\r\n`;
}
