// What a device takes from the overlay configuration document (RFC 6940 §11.1) before it
// starts: the document itself, whom to trust (§11.3), where to bootstrap (§11.4), and the
// transport's and CHORD-RELOAD's parameters. Device flags override the document.
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EnrollmentState } from '../device/flash-identity.ts';
import { LEGACY_CONFIGURATION_FILE } from '../device/flash-constants.ts';
import { ROOT_CERT_FILE } from '../enroll/constants.ts';
import type { Endpoint } from '../link/link.ts';
import { type OverlayConfiguration, embeddedDefaultConfiguration, isNewerConfigurationSequence, parseOverlayConfiguration } from '../reload/config/index.ts';
import type { TransportInit } from '../reload/message-transport.ts';
import { CaTrust } from '../reload/security/ca-trust.ts';
import { IDENTITY_CERT_FILE } from '../reload/security/constants.ts';
import { AnyOfTrust, SelfSignedTrust, type TrustPolicy } from '../reload/security/trust.ts';
import type { ChordInit } from '../topology/chord/chord.ts';
import type { DeviceConfig } from './config.ts';

/**
 * Where earlier versions kept the configuration in force; a device now keeps it in its flash
 * store (src/device/flash-configuration.ts), which migrates this file once.
 */
export const OVERLAY_CONFIGURATION_FILE = LEGACY_CONFIGURATION_FILE;

export interface LoadedConfiguration {
  configuration: OverlayConfiguration;
  /** The document's text; undefined for the embedded default. */
  xml?: string;
}

/**
 * The overlay configuration document: the newer of the one saved on flash (the last
 * ConfigUpdate accepted) and the one given with --overlay-config; without either, the
 * embedded default of a self-signed building overlay. `flash.saved` is the document the flash
 * store holds (src/device/flash-configuration.ts); without `flash`, the file of earlier
 * versions in the data directory is read.
 */
export function loadConfiguration(config: DeviceConfig, flash?: { saved: string | undefined }): LoadedConfiguration {
  const candidates: string[] = [];
  if (flash) {
    if (flash.saved !== undefined) candidates.push(flash.saved);
  } else {
    const saved = join(config.dataDir, OVERLAY_CONFIGURATION_FILE);
    if (existsSync(saved)) candidates.push(readFileSync(saved, 'utf8'));
  }
  if (config.overlayConfiguration) candidates.push(readFileSync(config.overlayConfiguration, 'utf8'));
  let best: LoadedConfiguration | undefined;
  for (const xml of candidates) {
    const configuration = parseOverlayConfiguration(xml, { instanceName: config.overlay });
    if (!best || isNewerConfigurationSequence(configuration.sequence, best.configuration.sequence)) best = { configuration, xml };
  }
  return best ?? { configuration: embeddedDefaultConfiguration(config.overlay) };
}

/**
 * Which certificates the device accepts (§11.3): those chaining to a root-cert (of the
 * document, or saved by `p2psip enroll`), self-signed ones (§11.3.1) when the document says
 * self-signed-permitted, or, with neither document nor roots, the embedded self-signed
 * building overlay. An enrolled device never falls back to a self-signed identity: without
 * its certificate it must enroll first. `enrollment` is what the flash store holds (saved
 * roots, whether there is a certificate); without it, the files of earlier versions are read.
 */
export function overlayTrust(config: DeviceConfig, loaded: LoadedConfiguration, enrollment?: EnrollmentState): TrustPolicy {
  const overlay = loaded.configuration;
  const rootsPath = join(config.dataDir, ROOT_CERT_FILE);
  const saved = enrollment ? enrollment.roots : existsSync(rootsPath) ? pemCertificates(readFileSync(rootsPath, 'utf8')) : [];
  const roots = [...overlay.rootCerts, ...saved];
  const selfSignedPermitted = loaded.xml !== undefined ? overlay.selfSignedPermitted?.value === true : roots.length === 0;
  const selfSigned = selfSignedPermitted ? new SelfSignedTrust({ overlay: config.overlay, digest: overlay.selfSignedPermitted?.digest }) : undefined;
  if (roots.length === 0) {
    if (!selfSigned) throw new Error('the overlay configuration permits no self-signed certificates and names no root-cert');
    return selfSigned;
  }
  if (!selfSigned && !(enrollment ? enrollment.hasCertificate : existsSync(join(config.dataDir, IDENTITY_CERT_FILE)))) {
    throw new Error('the overlay has a CA but the device has no certificate: enroll first (p2psip enroll)');
  }
  const ca = new CaTrust({ roots, overlay: config.overlay });
  return selfSigned ? new AnyOfTrust([ca, selfSigned]) : ca;
}

/**
 * Where to join: the --bootstrap list, else the document's bootstrap-node elements (§11.4)
 * other than ourselves, then the peers remembered from earlier runs. `first` is true when
 * this device may start the overlay: there is no configured bootstrap at all, or it is one of
 * the configured bootstrap nodes.
 *
 * §11.4 lets a node try its cached peers "before falling back to the bootstrap nodes listed
 * in the configuration file"; they come after them here, so that a stale cache (peers that
 * moved or are off) never slows a boot whose configured bootstrap nodes answer, and still
 * brings the device back when those are down.
 */
export function bootstrapsOf(config: DeviceConfig, loaded: LoadedConfiguration, self: Endpoint, remembered: readonly Endpoint[] = []): { bootstraps: Endpoint[]; first: boolean } {
  const isSelf = (b: Endpoint): boolean => b.port === self.port && (b.host === self.host || b.host === config.listen.host);
  const withRemembered = (configured: Endpoint[]): Endpoint[] => {
    const known = new Set(configured.map((b) => `${b.host}:${b.port}`));
    return [...configured, ...remembered.filter((b) => !isSelf(b) && !known.has(`${b.host}:${b.port}`))];
  };
  if (config.bootstrap.length > 0) return { bootstraps: withRemembered(config.bootstrap), first: false };
  const nodes = loaded.configuration.bootstrapNodes;
  return { bootstraps: withRemembered(nodes.filter((b) => !isSelf(b))), first: nodes.length === 0 || nodes.some(isSelf) };
}

/** The transport's parameters: the document's where one was given, flags over them. */
export function transportSettings(config: DeviceConfig, loaded: LoadedConfiguration): Partial<TransportInit> {
  const c = loaded.xml ? loaded.configuration : undefined;
  return {
    reliabilityTimerMs: config.reliabilityTimerMs ?? c?.overlayReliabilityTimerMs,
    initialTtl: c?.initialTtl,
    maxMessageSize: c?.maxMessageSize,
  };
}

/** CHORD-RELOAD's intervals and reactive recovery from the document (§10.7), flags over them. */
export function chordSettings(config: DeviceConfig, loaded: LoadedConfiguration): ChordInit {
  const c = loaded.xml ? loaded.configuration.chord : undefined;
  return {
    updateIntervalMs: c?.updateIntervalS !== undefined ? c.updateIntervalS * 1000 : undefined,
    fingerIntervalMs: c?.pingIntervalS !== undefined ? c.pingIntervalS * 1000 : undefined,
    reactive: c?.reactive,
    ...config.chord,
  };
}

function pemCertificates(pem: string): Uint8Array[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => new Uint8Array(new X509Certificate(b).raw));
}
