// ConfigUpdate (RFC 6940 §6.5.4) and the configuration in force (§11.1): a newer document,
// signed by a configuration-signer of the current one, replaces it; its sequence goes into
// every header we send (§6.3.2.1), its Kinds into storage, its bytes onto flash; and we pass
// it on to every peer we have a link to, so that it reaches the whole overlay.
import { ErrorCode, nodeDestination, toHex } from '../../codec/index.ts';
import type { Clock } from '../../util/clock.ts';
import type { Logger } from '../../util/log.ts';
import { type OverlayConfiguration, type ConfigUpdateDecision, acceptConfigUpdate } from '../config/index.ts';
import { ReloadError } from '../errors.ts';
import type { ReloadNode } from '../node.ts';
import type { TrustPolicy } from '../security/trust.ts';
import { type KindRegistry, kindsOf } from '../storage/kind.ts';

export interface ConfigurationComponents {
  clock: Clock;
  log: Logger;
  node: ReloadNode;
  kinds: KindRegistry;
  /** Trust for the signer's certificate; default self-signed when the document permits it. */
  trust?: TrustPolicy;
  /** Writes an accepted document to flash. */
  save(xml: string): Promise<void>;
}

export interface ConfigurationCounters {
  accepted: number;
  refused: number;
  /** Copies already in force: the end of the flood. */
  known: number;
}

export class OverlayConfigurationInForce {
  readonly counters: ConfigurationCounters = { accepted: 0, refused: 0, known: 0 };
  private currentXml: string | undefined;

  constructor(private readonly components: ConfigurationComponents, public current: OverlayConfiguration, xml?: string) {
    this.currentXml = xml;
    this.install(current);
    components.node.transport.handle('config_update_req', async (req) => {
      if (req.type !== 'config') throw new ReloadError(ErrorCode.Error_Invalid_Message, 'only whole configuration documents are accepted');
      const decision = await this.offer(new TextDecoder().decode(req.configData));
      // A copy of what is in force already is how the flood ends, not an error.
      if (!decision.accepted && decision.reason !== 'not_newer') throw new ReloadError(ErrorCode.Error_Forbidden, `${decision.reason}: ${decision.message}`);
      return { name: 'config_update_ans', body: {} };
    });
  }

  get sequence(): number {
    return this.current.sequence;
  }

  /**
   * A candidate document, from a peer or the command line: applied, saved and passed on when
   * §6.5.4 accepts it; otherwise refused with the reason, nothing changed.
   */
  async offer(xml: string): Promise<ConfigUpdateDecision> {
    const decision = acceptConfigUpdate(this.current, xml, [], { clock: this.components.clock, trust: this.components.trust });
    if (!decision.accepted) {
      if (decision.reason === 'not_newer') this.counters.known++;
      else {
        this.counters.refused++;
        this.components.log.warn('configuration refused', { reason: decision.reason, message: decision.message });
      }
      return decision;
    }
    this.counters.accepted++;
    this.current = decision.configuration;
    this.currentXml = xml;
    this.install(decision.configuration);
    this.components.log.info('configuration in force', { sequence: decision.configuration.sequence, signer: toHex(decision.signerNodeId) });
    await this.components.save(xml).catch((e) => this.components.log.warn('could not save the configuration', { error: (e as Error).message }));
    this.flood(xml);
    return decision;
  }

  private install(cfg: OverlayConfiguration): void {
    const { node, kinds } = this.components;
    kinds.replace(kindsOf(cfg, (kind, policy) => {
      this.components.log.warn('kind with an access control policy this node does not implement', { kind, policy });
    }));
    node.transport.models = kinds.models();
    node.transport.configurationSequence = cfg.sequence;
  }

  /** Sends the document to every peer we have a link to; each passes it on once. */
  private flood(xml: string): void {
    const node = this.components.node;
    const configData = new TextEncoder().encode(xml);
    for (const link of node.links.all()) {
      node.transport.request([nodeDestination(link.remoteNodeId)], 'config_update_req', { type: 'config', configData }, { via: link }).catch((e) => {
        this.components.log.debug('config update not taken', { peer: toHex(link.remoteNodeId), error: (e as Error).message });
      });
    }
  }

  status(): object {
    return { sequence: this.current.sequence, instanceName: this.current.instanceName, kinds: this.current.kinds.length, ...this.counters, signed: this.currentXml !== undefined };
  }
}
