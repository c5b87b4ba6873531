/**
 * Time-based one-time passwords (RFC 6238) for the second step of the web sign-ins: a shared
 * secret, and a 6-digit code derived from it and the current 30-second step.
 *
 * Implementation notes:
 * - HOTP (RFC 4226 5.3) with HMAC-SHA1 through WebCrypto; the counter is the time step
 *   floor(unix seconds / 30) (RFC 6238 4.2). The parameters are the ones every authenticator app
 *   assumes (TOTP below) and are written into the otpauth URI all the same.
 * - A secret is 160 random bits (RFC 4226 4 R6 asks for at least 128, recommends 160), shown as
 *   RFC 4648 base32 without padding, as authenticator apps expect it.
 * - A code is accepted for the current step and one step either side (RFC 6238 5.2: clock drift
 *   and typing time), and only for a step after the last one accepted (RFC 6238 5.2: "MUST NOT
 *   accept the second attempt of the same OTP"). The caller stores the accepted step atomically
 *   (Store.acceptTotpStep), so two sign-ins racing with one code cannot both pass.
 */

/** The parameters of every code: what authenticator apps assume when the URI says nothing. */
export const TOTP = {
  digits: 6,
  periodSeconds: 30,
  /** Steps accepted before and after the current one. */
  window: 1,
  secretBytes: 20,
  issuer: "Postern",
} as const;

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/**
 * RFC 4648 base32 (section 6) without padding.
 *
 * @example
 * base32Encode(new TextEncoder().encode("foobar")); // "MZXW6YTBOI"
 */
export function base32Encode(bytes: Uint8Array): string {
  let out = "";
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32[(buffer >> bits) & 31];
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32[(buffer << (5 - bits)) & 31];
  return out;
}

/**
 * Base32 back to bytes; case, spaces, hyphens and trailing "=" are ignored. Throws RangeError on
 * any other character, or on a length no encoding produces.
 *
 * @example
 * base32Decode("mzxw 6ytb oi"); // the bytes of "foobar"
 */
export function base32Decode(text: string): Uint8Array {
  const clean = text.toUpperCase().replace(/[\s-]/g, "").replace(/=+$/, "");
  if ([1, 3, 6].includes(clean.length % 8)) {
    throw new RangeError(`base32 of length ${clean.length} is truncated`);
  }
  const out = new Uint8Array(Math.floor((clean.length * 5) / 8));
  let buffer = 0;
  let bits = 0;
  let index = 0;
  for (const char of clean) {
    const value = BASE32.indexOf(char);
    if (value < 0) throw new RangeError(`${JSON.stringify(char)} is not a base32 letter`);
    buffer = (buffer << 5) | value;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[index++] = (buffer >> bits) & 0xff;
    }
    buffer &= (1 << bits) - 1;
  }
  return out;
}

/** A new random secret of TOTP.secretBytes bytes. */
export function newTotpSecret(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(TOTP.secretBytes));
}

/**
 * The time step of a moment (RFC 6238 4.2: T = floor((unix time - T0) / X), T0 = 0).
 *
 * @example
 * totpStep(59_000); // 1
 */
export function totpStep(nowMs: number): number {
  return Math.floor(nowMs / 1000 / TOTP.periodSeconds);
}

/**
 * The code of one step: HOTP (RFC 4226 5.3) of the step as an 8-byte big-endian counter,
 * `digits` long with leading zeros.
 *
 * @example
 * await totpCode(secret, totpStep(Date.now())); // "492039"
 */
export async function totpCode(
  secret: Uint8Array,
  step: number,
  digits: number = TOTP.digits,
): Promise<string> {
  const counter = new Uint8Array(8);
  new DataView(counter.buffer).setBigUint64(0, BigInt(step));
  const key = await crypto.subtle.importKey(
    "raw",
    secret as Uint8Array<ArrayBuffer>,
    { name: "HMAC", hash: "SHA-1" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, counter));
  // RFC 4226 5.4 dynamic truncation.
  const offset = mac[mac.length - 1] & 0x0f;
  const binary = ((mac[offset] & 0x7f) << 24) | (mac[offset + 1] << 16) |
    (mac[offset + 2] << 8) | mac[offset + 3];
  return String(binary % 10 ** digits).padStart(digits, "0");
}

/**
 * The step a typed code belongs to, within TOTP.window steps of now and after `lastStep`; null
 * when it matches none (wrong, too old, or already used). Spaces in the code are ignored.
 *
 * @example
 * const step = await matchTotp(secret, "492 039", Date.now(), stored.lastStep);
 * if (step !== null && await store.acceptTotpStep(accountId, step)) signIn();
 */
export async function matchTotp(
  secret: Uint8Array,
  code: string,
  nowMs: number,
  lastStep: number,
): Promise<number | null> {
  const typed = code.replace(/\s/g, "");
  if (!new RegExp(`^[0-9]{${TOTP.digits}}$`).test(typed)) return null;
  const current = totpStep(nowMs);
  let matched: number | null = null;
  // Every candidate is computed and compared in full, so the time taken says nothing.
  for (let step = current - TOTP.window; step <= current + TOTP.window; step++) {
    const same = sameDigits(await totpCode(secret, step), typed);
    if (same && step > lastStep && matched === null) matched = step;
  }
  return matched;
}

/**
 * The otpauth URI an authenticator app reads from the QR code (Google Authenticator's Key Uri
 * Format), labelled "Postern:<address>".
 *
 * @example
 * totpUri("alice@example.com", "JBSWY3DPEHPK3PXP");
 * // "otpauth://totp/Postern:alice@example.com?secret=JBSWY3DPEHPK3PXP&issuer=Postern&…"
 */
export function totpUri(address: string, secretBase32: string): string {
  const label = `${TOTP.issuer}:${encodeURIComponent(address).replaceAll("%40", "@")}`;
  const query = `secret=${secretBase32}&issuer=${encodeURIComponent(TOTP.issuer)}` +
    `&algorithm=SHA1&digits=${TOTP.digits}&period=${TOTP.periodSeconds}`;
  return `otpauth://totp/${label}?${query}`;
}

function sameDigits(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}
