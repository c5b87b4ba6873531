/**
 * Password hashes. Everything Postern writes is Argon2id; the formats Dovecot writes are verified
 * so that accounts can be migrated, and are replaced with Argon2id on the next successful login
 * (the caller checks needsRehash after verifyPassword succeeds).
 *
 * Implementation notes:
 * - Stored hashes use Dovecot's `{SCHEME}` prefix, as `doveadm pw` prints them. Scheme names
 *   are case-insensitive. Aliases: `{CRYPT}` (any of the crypt strings below), `{CLEAR}` and
 *   `{CLEARTEXT}` (= `{PLAIN}`). A bare crypt string (`$6$…`, `$5$…`, `$2y$…`, `$argon2id$…`)
 *   with no prefix is accepted too, as found in /etc/shadow or other servers' databases.
 * - Dovecot's encoding suffixes `.b64`/`.base64`/`.hex` (`{SSHA512.HEX}`, `{SHA512-CRYPT.B64}`)
 *   are decoded first: for the salted-SHA schemes they carry digest+salt, for every other scheme
 *   they carry the usual text of that scheme.
 * - verifyPassword never throws and answers false for anything it cannot parse, an empty
 *   password, or a hash whose cost exceeds the limits below (a stored hash with a billion rounds
 *   would stall the event loop for minutes; isSupportedHash refuses to store one).
 * - Wherever this module computes the digest, the comparison is constant-time (timingSafeEqual).
 * - SHA-crypt is Ulrich Drepper's "Unix crypt using SHA-256 and SHA-512" (the `$5$`/`$6$`
 *   algorithm of glibc and libxcrypt), written here over node:crypto; its rounds loop yields to
 *   the event loop every few thousand rounds.
 */
import { createHash, timingSafeEqual } from "node:crypto";

/** hash-wasm is loaded on first use: only the hashing worker needs it, not the main thread. */
const hashWasm = () => import("hash-wasm");

/** Argon2 cost for new hashes; config [auth] argon2_memory (converted to KiB) and argon2_iterations. */
export interface Argon2Params {
  memoryKiB: number;
  iterations: number;
  parallelism: number;
}

/** The canonical scheme names that verify; aliases (CRYPT, CLEAR, CLEARTEXT) are not listed. */
export const SUPPORTED_SCHEMES: readonly string[] = Object.freeze([
  "ARGON2ID",
  "ARGON2I",
  "BLF-CRYPT",
  "SHA512-CRYPT",
  "SHA256-CRYPT",
  "SSHA512",
  "SSHA256",
  "SSHA",
  "PLAIN",
]);

/** Limits on the cost a stored hash may demand, so that one login cannot stall the server. */
const MAX_SHA_CRYPT_ROUNDS = 1_000_000;
const MAX_BCRYPT_COST = 16;
const MAX_ARGON2_MEMORY_KIB = 1024 * 1024;
const MAX_ARGON2_ITERATIONS = 100;
const MAX_ARGON2_PARALLELISM = 16;
const MAX_ARGON2_HASH_BYTES = 512;
/** Argon2 output written by hashPassword; hashes with less are rehashed. */
const ARGON2_SALT_BYTES = 16;
const ARGON2_HASH_BYTES = 32;
/** SHA-crypt rounds between yields to the event loop. */
const SHA_CRYPT_YIELD_EVERY = 2000;

type ParsedHash =
  | { kind: "sha-crypt"; bits: 256 | 512; rounds: number; salt: Uint8Array; hash: string }
  | { kind: "bcrypt"; cost: number; salt: Uint8Array; hash: string }
  | {
    kind: "argon2";
    variant: "id" | "i";
    memoryKiB: number;
    iterations: number;
    parallelism: number;
    salt: Uint8Array;
    hash: Uint8Array;
  }
  | { kind: "ssha"; algorithm: "sha1" | "sha256" | "sha512"; digest: Uint8Array; salt: Uint8Array }
  | { kind: "plain"; password: Uint8Array };

interface StoredHash {
  parsed: ParsedHash;
  /** True when the text is exactly the form hashPassword writes: `{ARGON2ID}` and no suffix. */
  canonical: boolean;
}

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Hashes a password with Argon2id and a random 16-byte salt.
 * @example
 * const stored = await hashPassword("s3cret", { memoryKiB: 19456, iterations: 2, parallelism: 1 });
 * // "{ARGON2ID}$argon2id$v=19$m=19456,t=2,p=1$…$…"
 */
export async function hashPassword(password: string, params: Argon2Params): Promise<string> {
  const { memoryKiB, iterations, parallelism } = params;
  if (password === "") throw new Error("password must not be empty");
  if (!validArgon2Cost(memoryKiB, iterations, parallelism)) {
    throw new Error(
      `invalid Argon2 parameters m=${memoryKiB},t=${iterations},p=${parallelism}: need ` +
        `1 <= p <= ${MAX_ARGON2_PARALLELISM}, 8*p <= m <= ${MAX_ARGON2_MEMORY_KIB} KiB, ` +
        `1 <= t <= ${MAX_ARGON2_ITERATIONS}`,
    );
  }
  const salt = crypto.getRandomValues(new Uint8Array(ARGON2_SALT_BYTES));
  const { argon2id } = await hashWasm();
  const hash = await argon2id({
    password: utf8.encode(password),
    salt,
    iterations,
    parallelism,
    memorySize: memoryKiB,
    hashLength: ARGON2_HASH_BYTES,
    outputType: "binary",
  });
  return `{ARGON2ID}$argon2id$v=19$m=${memoryKiB},t=${iterations},p=${parallelism}$` +
    `${encodePhcBase64(salt)}$${encodePhcBase64(hash)}`;
}

/**
 * Checks a password against a stored hash in any supported scheme. Never throws.
 * @example
 * if (await verifyPassword(given, account.passwordHash)) { ... }
 */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  try {
    if (typeof password !== "string" || password === "") return false;
    const found = parseStored(stored);
    if (!found) return false;
    const given = utf8.encode(password);
    const hash = found.parsed;
    switch (hash.kind) {
      case "plain":
        return equalDigests(sha256(given), sha256(hash.password));
      case "ssha": {
        const digest = createHash(hash.algorithm).update(given).update(hash.salt).digest();
        return equalDigests(digest, hash.digest);
      }
      case "sha-crypt": {
        const computed = await shaCrypt(hash.bits, given, hash.salt, hash.rounds);
        return equalDigests(utf8.encode(computed), utf8.encode(hash.hash));
      }
      case "bcrypt": {
        // bcrypt reads at most 72 bytes of the password; hash-wasm refuses longer input.
        const { bcrypt } = await hashWasm();
        const encoded = await bcrypt({
          password: given.subarray(0, 72),
          salt: hash.salt,
          costFactor: hash.cost,
          outputType: "encoded",
        });
        return equalDigests(utf8.encode(encoded.slice(-31)), utf8.encode(hash.hash));
      }
      case "argon2": {
        const { argon2i, argon2id } = await hashWasm();
        const run = hash.variant === "id" ? argon2id : argon2i;
        const computed = await run({
          password: given,
          salt: hash.salt,
          iterations: hash.iterations,
          parallelism: hash.parallelism,
          memorySize: hash.memoryKiB,
          hashLength: hash.hash.length,
          outputType: "binary",
        });
        return equalDigests(computed, hash.hash);
      }
    }
  } catch {
    return false;
  }
}

/**
 * True when a stored hash should be replaced by hashPassword's output after a successful login:
 * any scheme other than Argon2id, Argon2id weaker than `params` in memory, passes, lanes, salt
 * or output length, and Argon2id not in the exact `{ARGON2ID}$argon2id$…` form.
 * Unparseable hashes answer true.
 * @example
 * if (ok && needsRehash(stored, params)) await store.setPassword(id, await hashPassword(pw, params));
 */
export function needsRehash(stored: string, params: Argon2Params): boolean {
  const found = parseStored(stored);
  if (!found || !found.canonical) return true;
  const hash = found.parsed;
  if (hash.kind !== "argon2" || hash.variant !== "id") return true;
  return hash.memoryKiB < params.memoryKiB ||
    hash.iterations < params.iterations ||
    hash.parallelism < params.parallelism ||
    hash.salt.length < ARGON2_SALT_BYTES ||
    hash.hash.length < ARGON2_HASH_BYTES;
}

/**
 * Validates a hash an administrator supplies (`postern account add --hash`): a supported scheme,
 * well-formed, and within the cost limits verifyPassword accepts.
 * @example
 * isSupportedHash("{SHA512-CRYPT}$6$salt$…"); // true
 */
export function isSupportedHash(stored: string): boolean {
  return parseStored(stored) !== null;
}

// ---------------------------------------------------------------------------------------------
// Parsing

const PREFIX = /^\{([A-Za-z0-9-]+)(?:\.(b64|base64|hex))?\}/i;

function parseStored(stored: string): StoredHash | null {
  if (typeof stored !== "string") return null;
  const prefix = PREFIX.exec(stored);
  if (!prefix) {
    const parsed = parseCryptString(stored, "CRYPT");
    return parsed ? { parsed, canonical: false } : null;
  }
  const scheme = prefix[1].toUpperCase();
  const encoding = prefix[2]?.toLowerCase();
  const body = stored.slice(prefix[0].length);
  const canonical = scheme === "ARGON2ID" && encoding === undefined;

  if (scheme === "SSHA" || scheme === "SSHA256" || scheme === "SSHA512") {
    const raw = encoding === "hex" ? decodeHex(body) : decodeBase64(body, true);
    const algorithm = scheme === "SSHA" ? "sha1" : scheme === "SSHA256" ? "sha256" : "sha512";
    const digestLength = { sha1: 20, sha256: 32, sha512: 64 }[algorithm];
    if (!raw || raw.length <= digestLength) return null;
    return {
      parsed: {
        kind: "ssha",
        algorithm,
        digest: raw.subarray(0, digestLength),
        salt: raw.subarray(digestLength),
      },
      canonical,
    };
  }

  let bytes: Uint8Array | null;
  if (encoding === "hex") bytes = decodeHex(body);
  else if (encoding !== undefined) bytes = decodeBase64(body, true);
  else bytes = utf8.encode(body);
  if (!bytes) return null;

  if (scheme === "PLAIN" || scheme === "CLEAR" || scheme === "CLEARTEXT") {
    return bytes.length > 0 ? { parsed: { kind: "plain", password: bytes }, canonical } : null;
  }
  let text: string;
  try {
    text = encoding === undefined ? body : strictUtf8.decode(bytes);
  } catch {
    return null;
  }
  const parsed = parseCryptString(text, scheme);
  return parsed ? { parsed, canonical } : null;
}

/** Parses `$6$…`, `$5$…`, `$2y$…` or `$argon2id$…` if it belongs to `scheme`. */
function parseCryptString(text: string, scheme: string): ParsedHash | null {
  const any = scheme === "CRYPT";
  if (text.startsWith("$6$") && (any || scheme === "SHA512-CRYPT")) return parseShaCrypt(text, 512);
  if (text.startsWith("$5$") && (any || scheme === "SHA256-CRYPT")) return parseShaCrypt(text, 256);
  if (/^\$2[aby]\$/.test(text) && (any || scheme === "BLF-CRYPT")) return parseBcrypt(text);
  if (text.startsWith("$argon2id$") && (any || scheme === "ARGON2ID")) return parseArgon2(text);
  if (text.startsWith("$argon2i$") && (any || scheme === "ARGON2I")) return parseArgon2(text);
  return null;
}

const SHA_CRYPT = /^\$([56])\$(?:rounds=([0-9]{1,10})\$)?([^$\n\r\0]{0,16})\$([./0-9A-Za-z]+)$/;

function parseShaCrypt(text: string, bits: 256 | 512): ParsedHash | null {
  const match = SHA_CRYPT.exec(text);
  if (!match) return null;
  const hash = match[4];
  if (hash.length !== (bits === 512 ? 86 : 43)) return null;
  // glibc clamps rounds into [1000, 999999999]; 5000 when absent.
  let rounds = match[2] === undefined ? 5000 : Number(match[2]);
  rounds = Math.max(rounds, 1000);
  if (rounds > MAX_SHA_CRYPT_ROUNDS) return null;
  const salt = utf8.encode(match[3]);
  if (salt.length > 16) return null;
  return { kind: "sha-crypt", bits, rounds, salt, hash };
}

const BCRYPT = /^\$2[aby]\$([0-9]{2})\$([./A-Za-z0-9]{22})([./A-Za-z0-9]{31})$/;

function parseBcrypt(text: string): ParsedHash | null {
  const match = BCRYPT.exec(text);
  if (!match) return null;
  const cost = Number(match[1]);
  if (cost < 4 || cost > MAX_BCRYPT_COST) return null;
  const salt = decodeBcryptBase64(match[2]);
  if (!salt) return null;
  return { kind: "bcrypt", cost, salt, hash: match[3] };
}

const PHC_ARGON2 =
  /^\$argon2(id|i)\$v=19\$m=([0-9]{1,10}),t=([0-9]{1,10}),p=([0-9]{1,3})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

function parseArgon2(text: string): ParsedHash | null {
  const match = PHC_ARGON2.exec(text);
  if (!match) return null;
  const memoryKiB = Number(match[2]);
  const iterations = Number(match[3]);
  const parallelism = Number(match[4]);
  if (!validArgon2Cost(memoryKiB, iterations, parallelism)) return null;
  const salt = decodeBase64(match[5], false);
  const hash = decodeBase64(match[6], false);
  if (!salt || salt.length < 8 || !hash || hash.length < 4 || hash.length > MAX_ARGON2_HASH_BYTES) {
    return null;
  }
  return {
    kind: "argon2",
    variant: match[1] as "id" | "i",
    memoryKiB,
    iterations,
    parallelism,
    salt,
    hash,
  };
}

function validArgon2Cost(memoryKiB: number, iterations: number, parallelism: number): boolean {
  return [memoryKiB, iterations, parallelism].every(Number.isSafeInteger) &&
    parallelism >= 1 && parallelism <= MAX_ARGON2_PARALLELISM &&
    memoryKiB >= 8 * parallelism && memoryKiB <= MAX_ARGON2_MEMORY_KIB &&
    iterations >= 1 && iterations <= MAX_ARGON2_ITERATIONS;
}

// ---------------------------------------------------------------------------------------------
// SHA-crypt (Drepper, "Unix crypt using SHA-256 and SHA-512", version 0.6, 2016)

/** Digest bytes in the order the crypt base64 output takes them, three at a time (high first). */
const SHA512_CRYPT_ORDER = [
  [0, 21, 42],
  [22, 43, 1],
  [44, 2, 23],
  [3, 24, 45],
  [25, 46, 4],
  [47, 5, 26],
  [6, 27, 48],
  [28, 49, 7],
  [50, 8, 29],
  [9, 30, 51],
  [31, 52, 10],
  [53, 11, 32],
  [12, 33, 54],
  [34, 55, 13],
  [56, 14, 35],
  [15, 36, 57],
  [37, 58, 16],
  [59, 17, 38],
  [18, 39, 60],
  [40, 61, 19],
  [62, 20, 41],
];
const SHA256_CRYPT_ORDER = [
  [0, 10, 20],
  [21, 1, 11],
  [12, 22, 2],
  [3, 13, 23],
  [24, 4, 14],
  [15, 25, 5],
  [6, 16, 26],
  [27, 7, 17],
  [18, 28, 8],
  [9, 19, 29],
];
const CRYPT_ALPHABET = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** Returns the 86-character (SHA-512) or 43-character (SHA-256) hash part of a crypt string. */
async function shaCrypt(
  bits: 256 | 512,
  password: Uint8Array,
  salt: Uint8Array,
  rounds: number,
): Promise<string> {
  const algorithm = bits === 512 ? "sha512" : "sha256";
  const size = bits / 8;
  const digest = (...parts: Uint8Array[]): Uint8Array => {
    const hash = createHash(algorithm);
    for (const part of parts) hash.update(part);
    return hash.digest();
  };

  // Steps 4-8: digest B = H(password salt password).
  const b = digest(password, salt, password);
  // Steps 1-3, 9-12: digest A.
  const a = createHash(algorithm).update(password).update(salt);
  let count = password.length;
  for (; count > size; count -= size) a.update(b);
  a.update(b.subarray(0, count));
  for (count = password.length; count > 0; count >>= 1) a.update(count & 1 ? b : password);
  let c: Uint8Array = a.digest();

  // Steps 13-16: the P sequence, password.length bytes drawn from H(password repeated).
  const dp = createHash(algorithm);
  for (let i = 0; i < password.length; i++) dp.update(password);
  const dpDigest = dp.digest();
  const p = new Uint8Array(password.length);
  for (let i = 0; i < p.length; i++) p[i] = dpDigest[i % size];

  // Steps 17-20: the S sequence, salt.length bytes of H(salt repeated 16 + A[0] times).
  const ds = createHash(algorithm);
  for (let i = 0; i < 16 + c[0]; i++) ds.update(salt);
  const s = ds.digest().subarray(0, salt.length);

  // Step 21: the rounds.
  for (let round = 0; round < rounds; round++) {
    const hash = createHash(algorithm);
    hash.update(round & 1 ? p : c);
    if (round % 3) hash.update(s);
    if (round % 7) hash.update(p);
    hash.update(round & 1 ? c : p);
    c = hash.digest();
    if (round % SHA_CRYPT_YIELD_EVERY === SHA_CRYPT_YIELD_EVERY - 1) {
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }

  // Step 22: the crypt base64 encoding, 24 bits at a time, least significant 6 bits first.
  let out = "";
  const put = (word: number, chars: number) => {
    for (let i = 0; i < chars; i++, word >>= 6) out += CRYPT_ALPHABET[word & 0x3f];
  };
  for (const [high, mid, low] of bits === 512 ? SHA512_CRYPT_ORDER : SHA256_CRYPT_ORDER) {
    put((c[high] << 16) | (c[mid] << 8) | c[low], 4);
  }
  if (bits === 512) put(c[63], 2);
  else put((c[31] << 8) | c[30], 3);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Encodings and comparison

const STANDARD_BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const BCRYPT_BASE64 = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** Standard base64; `padded` requires `=` padding (Dovecot), otherwise forbids it (PHC). */
function decodeBase64(text: string, padded: boolean): Uint8Array | null {
  const shape = padded ? /^[A-Za-z0-9+/]*={0,2}$/ : /^[A-Za-z0-9+/]*$/;
  if (!shape.test(text)) return null;
  if (padded ? text.length % 4 !== 0 : text.length % 4 === 1) return null;
  try {
    const binary = atob(text);
    return Uint8Array.from(binary, (char) => char.charCodeAt(0));
  } catch {
    return null;
  }
}

function encodePhcBase64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replace(/=+$/, "");
}

/** bcrypt's 22-character salt: its own alphabet, 128 bits plus 4 unused. */
function decodeBcryptBase64(text: string): Uint8Array | null {
  let standard = "";
  for (const char of text) {
    const index = BCRYPT_BASE64.indexOf(char);
    if (index < 0) return null;
    standard += STANDARD_BASE64[index];
  }
  const bytes = decodeBase64(standard + "==", true);
  return bytes && bytes.length === 16 ? bytes : null;
}

function decodeHex(text: string): Uint8Array | null {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) return null;
  const bytes = new Uint8Array(text.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

function sha256(bytes: Uint8Array): Uint8Array {
  return createHash("sha256").update(bytes).digest();
}

function equalDigests(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
