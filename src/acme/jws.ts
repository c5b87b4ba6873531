/**
 * JSON Web Signatures for ACME (RFC 8555 6.2, RFC 7515 flattened JSON serialization) with an
 * ES256 account key (ECDSA P-256, SHA-256) held as a WebCrypto key pair.
 *
 * Implementation notes:
 * - WebCrypto's ECDSA signature is already the JWS form (r || s, 32 bytes each, RFC 7518 3.4);
 *   no DER unwrapping.
 * - The protected header carries `jwk` only for newAccount (and revocation by certificate key);
 *   every other request carries `kid`, the account URL (RFC 8555 6.2).
 * - POST-as-GET (RFC 8555 6.3) has the empty string as payload, not "{}".
 *
 * @example
 * const key = await generateAccountKey();
 * const body = await signJws(key, { nonce, url, kid }, { identifiers });
 */

export interface AccountKey {
  privateKey: CryptoKey;
  /** The public JWK: kty, crv, x, y only. */
  publicJwk: EcPublicJwk;
}

export interface EcPublicJwk {
  kty: "EC";
  crv: "P-256";
  x: string;
  y: string;
}

export interface JwsHeaderFields {
  nonce: string;
  url: string;
  /** The account URL; absent means the public key goes in as `jwk`. */
  kid?: string;
}

export interface FlattenedJws {
  protected: string;
  payload: string;
  signature: string;
}

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGNING = { name: "ECDSA", hash: "SHA-256" } as const;
const encoder = new TextEncoder();

export function base64url(data: Uint8Array | string): string {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function base64urlDecode(text: string): Uint8Array {
  const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

export async function generateAccountKey(): Promise<AccountKey> {
  const pair = await crypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"]);
  return await importAccountKey(
    await exportAccountKey({
      privateKey: pair.privateKey,
      publicJwk: publicPart(await crypto.subtle.exportKey("jwk", pair.publicKey)),
    }),
  );
}

/** The private key as a JWK string, for the store. */
export async function exportAccountKey(key: AccountKey): Promise<string> {
  return JSON.stringify(await crypto.subtle.exportKey("jwk", key.privateKey));
}

export async function importAccountKey(stored: string): Promise<AccountKey> {
  const jwk = JSON.parse(stored) as JsonWebKey;
  if (jwk.kty !== "EC" || jwk.crv !== "P-256" || !jwk.d) {
    throw new Error("the stored ACME account key is not an EC P-256 private key");
  }
  const privateKey = await crypto.subtle.importKey("jwk", jwk, ALGORITHM, true, ["sign"]);
  return { privateKey, publicJwk: publicPart(jwk) };
}

function publicPart(jwk: JsonWebKey): EcPublicJwk {
  return { kty: "EC", crv: "P-256", x: jwk.x!, y: jwk.y! };
}

/** RFC 7638 thumbprint: SHA-256 over the required members in lexical order, base64url. */
export async function jwkThumbprint(jwk: EcPublicJwk): Promise<string> {
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return base64url(
    new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(canonical))),
  );
}

/** RFC 8555 8.1: token "." thumbprint, the body an HTTP-01 challenge answers with. */
export async function keyAuthorization(key: AccountKey, token: string): Promise<string> {
  return `${token}.${await jwkThumbprint(key.publicJwk)}`;
}

/** Signs `payload` (an object, or null for POST-as-GET) for one request. */
export async function signJws(
  key: AccountKey,
  header: JwsHeaderFields,
  payload: unknown | null,
): Promise<FlattenedJws> {
  const protectedHeader = header.kid
    ? { alg: "ES256", kid: header.kid, nonce: header.nonce, url: header.url }
    : { alg: "ES256", jwk: key.publicJwk, nonce: header.nonce, url: header.url };
  const encodedHeader = base64url(JSON.stringify(protectedHeader));
  const encodedPayload = payload === null ? "" : base64url(JSON.stringify(payload));
  const signature = await crypto.subtle.sign(
    SIGNING,
    key.privateKey,
    encoder.encode(`${encodedHeader}.${encodedPayload}`),
  );
  return {
    protected: encodedHeader,
    payload: encodedPayload,
    signature: base64url(new Uint8Array(signature)),
  };
}
