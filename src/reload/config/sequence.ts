// Ordering of configuration sequence numbers (RFC 6940 §6.3.2.1): "monotonically increasing
// mod 65535 ... greater than or less than are interpreted by modulo arithmetic as in TCP".
// [AMBIG] The forwarding header check in the message transport compares modulo 2^16; a
// document's sequence never takes 65535 (§11.1: 0..2^16-2, and 65534 is followed by 0), so
// here the modulus is 65535 as the text says. The two agree except next to the half-way point.
import { CONFIGURATION_SEQUENCE_MODULUS, MAX_CONFIGURATION_SEQUENCE } from './constants.ts';

/** Whether sequence `candidate` is newer than `current`, e.g. 65534 → 0 is newer. */
export function isNewerConfigurationSequence(candidate: number, current: number): boolean {
  for (const s of [candidate, current]) {
    if (!Number.isInteger(s) || s < 0 || s > MAX_CONFIGURATION_SEQUENCE) throw new RangeError(`configuration sequence ${s} is outside 0..${MAX_CONFIGURATION_SEQUENCE}`);
  }
  const ahead = (candidate - current + CONFIGURATION_SEQUENCE_MODULUS) % CONFIGURATION_SEQUENCE_MODULUS;
  return ahead !== 0 && ahead <= (CONFIGURATION_SEQUENCE_MODULUS - 1) / 2;
}

/** The sequence number of the configuration that follows one with `sequence` (§6.3.2.1). */
export function nextConfigurationSequence(sequence: number): number {
  return (sequence + 1) % CONFIGURATION_SEQUENCE_MODULUS;
}
