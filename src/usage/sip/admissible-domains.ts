// Which AOR domains an overlay admits (RFC 7904 §3.4): without a domain restriction, any;
// with one whose enable is absent or false, only the overlay's own domain name; with
// enable="true", those matching one of its POSIX ERE patterns. Domains are DNS names, so
// they compare case-insensitively (RFC 4343) and a final dot is ignored.
import { type OverlayConfiguration, type SipDomainRestriction, sipDomainRestriction } from '../../reload/config/index.ts';
import { PatternError, wholeStringEre } from './posix-ere.ts';

export type DomainRule =
  /** No restriction element: "the default behavior is to accept any AOR". */
  | 'any'
  /** enable absent or false: "only accept AORs that match the domain name of the overlay". */
  | 'overlay-name'
  /** enable true: "only accept AORs that match patterns specified". */
  | 'patterns';

export class AdmissibleDomains {
  readonly rule: DomainRule;
  /** Patterns that are no valid ERE: they match nothing, so a typo never opens the overlay. */
  readonly unusable: PatternError[] = [];
  private readonly overlayName: string;
  private readonly patterns: RegExp[] = [];

  constructor(restriction: SipDomainRestriction | undefined, overlayName: string) {
    this.overlayName = canonical(overlayName);
    this.rule = !restriction ? 'any' : restriction.enable ? 'patterns' : 'overlay-name';
    if (this.rule !== 'patterns') return;
    for (const p of restriction!.patterns) {
      try {
        this.patterns.push(wholeStringEre(p, { ignoreCase: true }));
      } catch (e) {
        if (!(e instanceof PatternError)) throw e;
        this.unusable.push(e);
      }
    }
  }

  /** The admissible domains of the configuration in force; one instance per configuration. */
  static of(cfg: OverlayConfiguration): AdmissibleDomains {
    let d = cache.get(cfg);
    if (!d) cache.set(cfg, (d = new AdmissibleDomains(sipDomainRestriction(cfg), cfg.instanceName)));
    return d;
  }

  admits(domain: string): boolean {
    switch (this.rule) {
      case 'any': return true;
      case 'overlay-name': return canonical(domain) === this.overlayName;
      case 'patterns': {
        const d = domain.endsWith('.') ? domain.slice(0, -1) : domain;
        return this.patterns.some((re) => re.test(d));
      }
    }
  }

  toString(): string {
    return this.rule === 'overlay-name' ? `only ${this.overlayName}` : this.rule === 'any' ? 'any domain' : `domains matching ${this.patterns.length} pattern(s)`;
  }
}

const cache = new WeakMap<OverlayConfiguration, AdmissibleDomains>();

function canonical(domain: string): string {
  return (domain.endsWith('.') ? domain.slice(0, -1) : domain).toLowerCase();
}
