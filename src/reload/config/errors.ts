// The one error a configuration document can produce (RFC 6940 §11.1). A document is network
// input (ConfigUpdate, §6.5.4): whatever is wrong with it ends here, never in another exception.

export type ConfigurationErrorReason =
  /** Too large, not UTF-8, or not well-formed (namespace-well-formed) XML. */
  | 'malformed_xml'
  /** Well-formed, but not what the grammar of §11.1.1 (or its prose) allows. */
  | 'invalid'
  /** A mandatory-extension names a namespace this node does not support (§11.1). */
  | 'unsupported_extension'
  /** No configuration element with the wanted instance-name. */
  | 'no_such_configuration';

export class ConfigurationError extends Error {
  override readonly name = 'ConfigurationError';
  /**
   * @param element local name of the element at fault (or of the element whose attribute
   *   is), as written in the grammar, e.g. `max-count`; '' for the document as a whole.
   */
  constructor(readonly reason: ConfigurationErrorReason, readonly element: string, message: string, options?: ErrorOptions) {
    super(element ? `<${element}>: ${message}` : message, options);
  }
}

export function invalid(element: string, message: string): never {
  throw new ConfigurationError('invalid', element, message);
}
