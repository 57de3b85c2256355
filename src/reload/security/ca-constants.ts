// Defaults of CA-mode trust and certificate requests (RFC 6940 §11.3), apart from
// constants.ts only so that they could be added without editing it; they belong there.

/** Most CA certificates above a node certificate, root included: root → intermediate → leaf needs 2. */
export const CA_MAX_CHAIN_DEPTH = 4;

/** Most intermediate CA certificates a CaTrust remembers. */
export const CA_MAX_INTERMEDIATES = 16;

/** Largest PKCS#10 request read (RFC 2986); an RSA-4096 request is about 1.2 KiB. */
export const CSR_MAX_BYTES = 8 * 1024;
