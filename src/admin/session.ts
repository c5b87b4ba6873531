/**
 * Web admin sessions: a random 256-bit id in a cookie, the signed-in administrator and a CSRF
 * token, kept in memory.
 *
 * Implementation notes:
 * - Sessions live in this process only: a restart signs everyone out, and in a multi-node setup
 *   a browser must stay on one node (or sign in again).
 * - A session ends `idleMs` after its last request or `maxMs` after its login, whichever comes
 *   first ([admin] session_idle, session_max). Ended sessions are dropped when looked up and by
 *   `prune`, which runs on every login, so the map never holds more than the live ones plus
 *   those that ended since the last login.
 * - The cookie is HttpOnly, SameSite=Strict, Path=/admin, and Secure unless the request came
 *   over plain http (answered only for loopback clients).
 */
import { encodeHex } from "./hex.ts";

export interface AdminSession {
  id: string;
  accountId: number;
  address: string;
  /** The token every form of this session carries (csrf.ts). */
  csrfToken: string;
  createdAt: number;
  lastSeenAt: number;
  /** A one-shot message for the next page (after a POST's redirect). */
  flash: { kind: "ok" | "error"; text: string } | null;
  /** The account page: a TOTP secret shown for setup, kept until a code from it confirms it. */
  totpSetup: Uint8Array | null;
}

export interface SessionLimits {
  idleMs: number;
  maxMs: number;
}

export const SESSION_COOKIE = "postern_admin";

/** 32 random bytes as 64 hex digits. */
export function randomToken(): string {
  return encodeHex(crypto.getRandomValues(new Uint8Array(32)));
}

/**
 * The sessions of the web admin.
 *
 * @example
 * const sessions = new SessionStore({ idleMs: 1800_000, maxMs: 43_200_000 });
 * const session = sessions.create(account.id, account.address, Date.now());
 * sessions.get(session.id, Date.now()); // the session, its idle timer restarted
 */
export class SessionStore {
  readonly #sessions = new Map<string, AdminSession>();

  constructor(readonly limits: SessionLimits) {}

  create(accountId: number, address: string, now: number): AdminSession {
    this.prune(now);
    const session: AdminSession = {
      id: randomToken(),
      accountId,
      address,
      csrfToken: randomToken(),
      createdAt: now,
      lastSeenAt: now,
      flash: null,
      totpSetup: null,
    };
    this.#sessions.set(session.id, session);
    return session;
  }

  /** The live session with this id, its idle timer restarted; null if unknown or ended. */
  get(id: string, now: number): AdminSession | null {
    const session = this.#sessions.get(id);
    if (!session) return null;
    if (this.#ended(session, now)) {
      this.#sessions.delete(id);
      return null;
    }
    session.lastSeenAt = now;
    return session;
  }

  delete(id: string): void {
    this.#sessions.delete(id);
  }

  /** Ends every session of an account (deleted or disabled). */
  deleteAccount(accountId: number): void {
    for (const [id, session] of this.#sessions) {
      if (session.accountId === accountId) this.#sessions.delete(id);
    }
  }

  prune(now: number): void {
    for (const [id, session] of this.#sessions) {
      if (this.#ended(session, now)) this.#sessions.delete(id);
    }
  }

  get size(): number {
    return this.#sessions.size;
  }

  #ended(session: AdminSession, now: number): boolean {
    return now - session.lastSeenAt >= this.limits.idleMs ||
      now - session.createdAt >= this.limits.maxMs;
  }
}

/** The Set-Cookie value for a session id; an empty id with maxAge 0 clears the cookie. */
export function sessionCookie(
  value: string,
  options: { secure: boolean; maxAgeSeconds?: number; name?: string; path?: string },
): string {
  const parts = [
    `${options.name ?? SESSION_COOKIE}=${value}`,
    `Path=${options.path ?? "/admin"}`,
    "HttpOnly",
    "SameSite=Strict",
  ];
  if (options.secure) parts.push("Secure");
  if (options.maxAgeSeconds !== undefined) parts.push(`Max-Age=${options.maxAgeSeconds}`);
  return parts.join("; ");
}

/** The value of cookie `name` in a Cookie header, or null. */
export function readCookie(header: string | null, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}
