// The interfaces the message transport is built from: security, topology and method handlers.
import type {
  BodyName, Bodies, DecodedMessage, GenericCertificate, NodeId, ResourceId, SecurityBlock, Signature, StoredData, StoredDataValue,
} from '../codec/index.ts';
import type { Link } from '../link/link.ts';

/** Signs what this node sends and verifies what it receives (§6.3.4). */
export interface MessageSecurity {
  readonly nodeId: NodeId;
  /** Our certificate (DER), as the security blocks we send carry it. */
  readonly certificate: Uint8Array;
  /** The user name of our certificate (rfc822Name, §11.3). */
  readonly userName: string;
  /**
   * Signs a message. §6.3.4: the bucket SHOULD also hold the certificates needed for the
   * signatures inside it (the stored data of a Fetch answer or a replica Store).
   */
  sign(overlay: number, transactionId: bigint, contents: Uint8Array, extraCertificates?: readonly Uint8Array[]): SecurityBlock;
  /** The Node-IDs of the signer's verified certificate; throws on any failure. */
  verify(m: DecodedMessage): NodeId[];
  /** Checks a link peer's certificate and returns the Node-ID it proves; throws if not. */
  verifyPeer(certificate: Uint8Array): NodeId;
  /** The signature of a StoredData value we store at `resource` under `kind` (§7.1). */
  signData(resource: ResourceId, kind: number, storageTime: bigint, value: StoredDataValue): Signature;
  /** Verifies a StoredData signature (§7.1) and returns who signed it; throws on any failure. */
  verifyData(resource: ResourceId, kind: number, data: StoredData, certificates: readonly GenericCertificate[]): DataSigner;
}

/** The signer of a StoredData value, as access control sees it (§7.3). */
export interface DataSigner {
  /** The certificate's DER, kept with the value so that fetchers can verify it later. */
  certificate: Uint8Array;
  /** The Node-ID the SignerIdentity names (§7.3.2: "the one indicated in ... cert_hash"). */
  nodeId: NodeId;
  /** The certificate's user name (rfc822Name), if any. */
  userName: string | undefined;
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

/** A handler's answer; `certificates` go into its security block besides ours (§6.3.4). */
export type Answer = { [K in BodyName]: { name: K; body: Bodies[K]; certificates?: readonly Uint8Array[] } }[BodyName];

/** One method's request handler; throws ReloadError for an error answer. */
export type Handler = (body: never, ctx: RequestContext) => Answer | Promise<Answer>;
