// What the Storing Peer checks before it accepts a SIP-REGISTRATION value (RFC 7904 §3.3,
// §7), on top of the signature and the configured access control policy. The peer sees
// only the Resource-ID, never the AOR: the AOR is the signer certificate's user name
// (rfc822Name), which USER-NODE-MATCH hashes to the Resource-ID, so that is the name whose
// domain the overlay's restriction judges (§3.4).
import {
  CodecError, ErrorCode, SipRegistration, decode, idEquals, resourceId, toHex,
} from '../../codec/index.ts';
import type { OverlayConfiguration } from '../../reload/config/index.ts';
import { ReloadError } from '../../reload/errors.ts';
import type { StoreCheck, StoreCheckInput } from '../../reload/storage/index.ts';
import type { Logger } from '../../util/log.ts';
import { AdmissibleDomains } from './admissible-domains.ts';
import { AorError, aorDomain, isAor, parseAorAddress } from './aor.ts';
import { GruuError, destinationListProblem, isGruu, parseGruu } from './gruu.ts';

export interface SipRegistrationCheckComponents {
  /** The overlay configuration in force, read on every Store so that a ConfigUpdate takes effect at once. */
  configuration(): OverlayConfiguration;
  log: Logger;
}

/** The StoreCheck of Kind SIP-REGISTRATION, for KindRegistry.setStoreCheck. */
export function sipRegistrationStoreCheck(components: SipRegistrationCheckComponents): StoreCheck {
  const warned = new WeakSet<AdmissibleDomains>();
  return (input) => {
    const domains = AdmissibleDomains.of(components.configuration());
    if (domains.unusable.length > 0 && !warned.has(domains)) {
      warned.add(domains);
      components.log.warn('domain patterns that are no POSIX ERE match nothing', { patterns: domains.unusable.map((e) => e.message) });
    }
    checkSipRegistration(input, domains);
  };
}

/**
 * Throws Error_Forbidden (§3.3: "If any of these checks fail, the request MUST be rejected
 * with an Error_Forbidden error") or, for a value that is no SipRegistration,
 * Error_Invalid_Message: that is a malformed request rather than a refused right, and no
 * other certificate would make it acceptable.
 */
export function checkSipRegistration({ resource, value, signer, replica }: StoreCheckInput, domains: AdmissibleDomains): void {
  const forbid = (why: string): never => {
    throw new ReloadError(ErrorCode.Error_Forbidden, `SIP-REGISTRATION: ${why}`);
  };
  // §7: a dictionary keyed by Node-ID whatever a configuration says, so these hold even
  // where a kind-block names a weaker policy (RFC 6940 §11.1's example gives USER-MATCH).
  if (value.model !== 'dictionary') return forbid('values are dictionary entries (RFC 7904 §7)');
  const userName = signer.userName;
  // §3.3: "The certificate contains a username that is a SIP AOR that hashes to the
  // Resource-ID". An rfc822Name carries no scheme and no escapes (§7), so the user name
  // must already be the bare AOR: "sip:alice@x" would hash to a resource nobody looks up.
  if (userName === undefined || !isAor(userName)) return forbid(`the certificate's user name ${JSON.stringify(userName ?? '')} is not a SIP AOR`);
  if (!idEquals(resourceId(userName), resource)) forbid('the certificate\'s user name does not hash to the Resource-ID');
  // §3.3: "The certificate contains a Node-ID that is the same as the dictionary key".
  if (!idEquals(value.key, signer.nodeId)) forbid(`dictionary key ${toHex(value.key).slice(0, 8)}… is not the signer's Node-ID`);
  // §3.3: "The AOR of the request is a valid Resource Name with respect to the namespaces
  // defined in the overlay configuration document". Replicas are spared this one: the
  // responsible peer judged them under its configuration, and a restriction tightened by a
  // ConfigUpdate would otherwise turn every replica push into a refusal until the values
  // expire. They are still signed, and checked for everything that does not depend on it.
  if (!replica && !domains.admits(aorDomain(userName))) forbid(`domain of ${userName} is not admitted here (${domains})`);
  // A nonexistent value is how an entry is removed (RFC 6940 §7.4.1.3): it has no body.
  if (value.value.exists) checkRegistrationValue(value.value.value);
}

function checkRegistrationValue(bytes: Uint8Array): void {
  const invalid = (why: string): never => {
    throw new ReloadError(ErrorCode.Error_Invalid_Message, `SIP-REGISTRATION value: ${why}`);
  };
  let r: SipRegistration;
  try {
    r = decode(SipRegistration, bytes, 'sip_registration');
  } catch (e) {
    if (e instanceof CodecError) return invalid(e.message);
    throw e;
  }
  switch (r.type) {
    case 'route': {
      const problem = destinationListProblem(r.destinationList);
      if (problem) invalid(problem);
      return;
    }
    case 'uri':
      // §3.2: "an opaque string containing the AOR": one we, or normal SIP, can dereference.
      if (r.uri === '') invalid('empty uri');
      try {
        if (isGruu(r.uri)) parseGruu(r.uri);
        else parseAorAddress(r.uri);
      } catch (e) {
        if (e instanceof AorError || e instanceof GruuError) return invalid(`uri: ${e.message}`);
        throw e;
      }
      return;
    case 'unknown':
      // §3.2: "This type can be extended". A well-framed value of a later type is kept for
      // the peers that understand it; resolvers skip it.
      return;
  }
}
