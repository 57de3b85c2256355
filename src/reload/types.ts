// The interfaces the message transport is built from: security, topology and method handlers.
import type { BodyName, Bodies, DecodedMessage, NodeId, SecurityBlock } from '../codec/index.ts';
import type { Link } from '../link/link.ts';

/** Signs what this node sends and verifies what it receives (§6.3.4). */
export interface MessageSecurity {
  readonly nodeId: NodeId;
  sign(overlay: number, transactionId: bigint, contents: Uint8Array): SecurityBlock;
  /** The Node-IDs of the signer's verified certificate; throws on any failure. */
  verify(m: DecodedMessage): NodeId[];
  /** Checks a link peer's certificate and returns the Node-ID it proves; throws if not. */
  verifyPeer(certificate: Uint8Array): NodeId;
}

/** The topology plug-in as the transport sees it (§6.4). */
export interface Topology {
  /** True when this node is responsible for `id`; a client never is (§4.2). */
  isResponsible(id: Uint8Array): boolean;
  /** The link to forward a message for `id` over (§6.1.2), or undefined. */
  nextHop(id: Uint8Array): Link | undefined;
  /** Called when a link closes, so the routing table can react (§10.7.1). */
  linkClosed(link: Link): void;
}

export interface RequestContext {
  message: DecodedMessage;
  /** The previous hop. */
  from: Link;
  /** Node-IDs the request's signer proved. */
  signer: NodeId[];
}

export type Answer = { [K in BodyName]: { name: K; body: Bodies[K] } }[BodyName];

/** One method's request handler; throws ReloadError for an error answer. */
export type Handler = (body: never, ctx: RequestContext) => Answer | Promise<Answer>;
