/**
 * API tokens: long random secrets that stand for one account on the HTTP APIs (JMAP Bearer
 * authentication, RFC 6750), created, listed and revoked with `postern token …`.
 *
 * Implementation notes:
 * - A token reads "postern_<id>_<secret>": the id names its credential row (kind 'api_key'), the
 *   secret is 32 random bytes in base64url. Only the SHA-256 of the secret is stored, so the
 *   token is shown once, at creation, and a stolen database does not yield working tokens.
 * - Verification looks the row up by id and compares hashes in constant time; a revoked token
 *   (row deleted) or an account that is gone or disabled verifies to nothing.
 * - A wrong token is an authentication failure for the shared AuthLimiter, counted against the
 *   client address when the caller gives it, and against the account its id names; a blocked
 *   client or account is refused before any comparison, like a password login.
 * - last_used_at is written at most once a minute per token, so a busy client does not turn
 *   every request into a database write.
 */
import { timingSafeEqual } from "node:crypto";
import type { Account, ApiKey, Store } from "../store/types.ts";
import { sha256Hex } from "../store/blobs.ts";
import type { AuthLimiter } from "./ratelimit.ts";
import { logger } from "../observability/log.ts";

const PREFIX = "postern_";
const SECRET_BYTES = 32;
/** How stale last_used_at may get before a use writes it again. */
const TOUCH_INTERVAL_MS = 60_000;
const TOKEN = /^postern_([1-9][0-9]{0,15})_([A-Za-z0-9_-]{43})$/;

export interface CreatedToken {
  key: ApiKey;
  /** The bearer token; shown once, never stored. */
  token: string;
}

/**
 * Creates, lists, revokes and verifies API tokens; the TokenVerifier of src/jmap/http.ts.
 * @example
 * const tokens = new ApiTokens(app.store, app.directory.limiter);
 * const { token } = await tokens.create(account.id, "laptop");
 * (await tokens.verify(token, "192.0.2.1"))?.address; // the account's address
 */
export class ApiTokens {
  #log = logger("auth");

  constructor(readonly store: Store, readonly limiter: AuthLimiter | null = null) {}

  async create(accountId: number, label: string): Promise<CreatedToken> {
    const secret = crypto.getRandomValues(new Uint8Array(SECRET_BYTES)).toBase64({
      alphabet: "base64url",
      omitPadding: true,
    });
    const key = await this.store.createApiKey(accountId, label, hashSecret(secret));
    return { key, token: `${PREFIX}${key.id}_${secret}` };
  }

  list(accountId: number): Promise<ApiKey[]> {
    return this.store.listApiKeys(accountId);
  }

  /** Deletes the token; false when there is none with this id. */
  revoke(id: number): Promise<boolean> {
    return this.store.deleteApiKey(id);
  }

  /**
   * The account the token belongs to, or null (wrong, revoked, rate limited, disabled). `ip` is
   * the client's address for the rate limiter (see #limiterAddress when it is not given).
   */
  async verify(token: string, ip?: string): Promise<Account | null> {
    const match = TOKEN.exec(token);
    const stored = match ? await this.store.getApiKey(Number(match[1])) : null;
    const account = stored ? await this.store.getAccountById(stored.accountId) : null;
    const name = account?.address ?? "";
    const address = limiterAddress(ip, name);
    if (this.limiter && address !== null && this.limiter.isBlocked(address, name)) {
      this.#log.warn("token refused: too many failures", { user: name, ip });
      return null;
    }
    const valid = match !== null && stored !== null &&
      sameHash(hashSecret(match[2]), stored.secretHash);
    if (!valid || !account) {
      this.#log.info("token rejected", { user: name, ip });
      if (this.limiter && address !== null) {
        this.limiter.recordFailure(address, name);
        const delay = this.limiter.delayMs(address);
        if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      }
      return null;
    }
    if (account.disabled) return null;
    if (address !== null) this.limiter?.recordSuccess(address, name);
    const now = Date.now();
    if (!stored.lastUsedAt || now - stored.lastUsedAt.getTime() >= TOUCH_INTERVAL_MS) {
      await this.store.touchApiKey(stored.id, new Date(now));
    }
    return account;
  }
}

/**
 * The address a verification is counted under: the client's; without it, a key of the account
 * the token's id names (an empty address would be one counter shared by every client, so that
 * a few wrong tokens from anyone would block everyone); null when there is neither.
 */
function limiterAddress(ip: string | undefined, name: string): string | null {
  if (ip) return ip;
  return name ? `token:${name}` : null;
}

function hashSecret(secret: string): string {
  return sha256Hex(new TextEncoder().encode(secret));
}

function sameHash(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
