/**
 * The verified-login cache (Dovecot's auth_cache): a login that passed Argon2 (or a legacy hash)
 * is remembered for ttlSeconds, so a client that logs in again and again with the same password
 * does not queue behind the password worker each time.
 *
 * Implementation notes:
 * - An entry is keyed by HMAC-SHA256(secret, accountId NUL storedHash NUL password), the secret
 *   32 random bytes made per process. The password, or an unkeyed hash of it, is never kept; a
 *   copy of the table is no help to someone guessing passwords without the secret.
 * - The stored hash is part of the key, so a password change, made here or on another node,
 *   misses the cache without being told. Callers still read the account and its stored hash on
 *   every login and check `disabled` and the rate limiter themselves; the cache only replaces the
 *   hash verification.
 * - Only successes are remembered. An entry lives ttlSeconds from the verification that made it;
 *   a hit does not extend it. ttlSeconds 0 turns the cache off.
 * - Memory is bounded: at most maxEntries, evicting the oldest. Every entry has the same
 *   lifetime, so a Map in insertion order is also in expiry order, and expired entries are
 *   dropped from its front whenever one is added.
 */
import { createHmac } from "node:crypto";

export interface LoginCacheOptions {
  /** Config [auth] cache_ttl; 0 turns the cache off. */
  ttlSeconds: number;
  /** Entries kept before the oldest is evicted; 10,000. */
  maxEntries?: number;
  /** Clock in milliseconds; Date.now by default. Tests inject their own. */
  now?: () => number;
}

const DEFAULT_MAX_ENTRIES = 10_000;

interface Entry {
  accountId: number;
  expiresAt: number;
}

/**
 * Remembers verified logins for a while, keyed so that nothing in it reveals a password.
 * @example
 * const cache = new LoginCache({ ttlSeconds: 600 });
 * const valid = cache.has(account.id, stored, password) ||
 *   await hasher.verify(password, stored);
 * if (valid) cache.remember(account.id, stored, password);
 */
export class LoginCache {
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  readonly #secret = crypto.getRandomValues(new Uint8Array(32));
  readonly #entries = new Map<string, Entry>();

  constructor(options: LoginCacheOptions) {
    const { ttlSeconds, maxEntries = DEFAULT_MAX_ENTRIES } = options;
    if (!(ttlSeconds >= 0) || !Number.isFinite(ttlSeconds)) {
      throw new RangeError(`LoginCache: ttlSeconds must not be negative, got ${ttlSeconds}`);
    }
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
      throw new RangeError(`LoginCache: maxEntries must be a positive integer, got ${maxEntries}`);
    }
    this.#ttlMs = ttlSeconds * 1000;
    this.#maxEntries = maxEntries;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** True when this password was verified against this stored hash within the TTL. */
  has(accountId: number, storedHash: string, password: string): boolean {
    if (this.#ttlMs === 0) return false;
    const key = this.#key(accountId, storedHash, password);
    const entry = this.#entries.get(key);
    if (!entry) return false;
    if (entry.expiresAt <= this.#now()) {
      this.#entries.delete(key);
      return false;
    }
    return true;
  }

  /** Records a successful verification of `password` against `storedHash`. */
  remember(accountId: number, storedHash: string, password: string): void {
    if (this.#ttlMs === 0) return;
    const now = this.#now();
    const key = this.#key(accountId, storedHash, password);
    this.#entries.delete(key);
    this.#entries.set(key, { accountId, expiresAt: now + this.#ttlMs });
    for (const [oldest, entry] of this.#entries) {
      if (entry.expiresAt > now && this.#entries.size <= this.#maxEntries) break;
      this.#entries.delete(oldest);
    }
  }

  /** Drops every entry of the account (its password changed, or it was deleted). */
  forget(accountId: number): void {
    for (const [key, entry] of this.#entries) {
      if (entry.accountId === accountId) this.#entries.delete(key);
    }
  }

  #key(accountId: number, storedHash: string, password: string): string {
    return createHmac("sha256", this.#secret)
      .update(`${accountId}\0${storedHash}\0${password}`)
      .digest("base64");
  }
}
