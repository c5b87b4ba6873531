/**
 * The second step of a web sign-in (/admin and /account) for an account with two-step sign-in
 * on: after the right password, a pending sign-in waits for the account's TOTP code
 * (Directory.verifyTotp); only then is a session made.
 *
 * Implementation notes:
 * - A pending sign-in is kept in memory under a random 256-bit id, sent in a cookie of its own
 *   (HttpOnly, SameSite=Strict, the page's path, Max-Age the remaining lifetime). Its form
 *   carries a CSRF token of its own, compared with the one stored here.
 * - It ends `lifetimeMs` after the password was right, after `maxAttempts` wrong codes, or at
 *   the first right one: then the user starts again from the password. Wrong codes also count in
 *   the shared limiter (Directory.verifyTotp), which bounds guesses across pending sign-ins.
 * - Memory is bounded: ended entries are dropped on every create, and at most `maxEntries` are
 *   kept, the oldest evicted first. Creating one needs the right password, so this table cannot
 *   be filled by strangers.
 */
import type { Directory } from "../directory/directory.ts";
import type { Account } from "../store/types.ts";
import { randomToken } from "./session.ts";
import { CSRF_FIELD, csrfValid } from "./csrf.ts";

export interface PendingSignIn {
  id: string;
  accountId: number;
  address: string;
  /** The token the code form carries (csrf.ts). */
  csrfToken: string;
  createdAt: number;
  wrongCodes: number;
}

export interface PendingSignInLimits {
  lifetimeMs: number;
  maxAttempts: number;
  maxEntries: number;
}

/** Five minutes, five wrong codes. */
export const SECOND_STEP_LIMITS: PendingSignInLimits = {
  lifetimeMs: 5 * 60_000,
  maxAttempts: 5,
  maxEntries: 10_000,
};

export type SecondStepResult =
  | { ok: true; account: Account }
  | { ok: false; reason: "expired" | "exhausted" | "rate_limited" }
  | { ok: false; reason: "wrong"; attemptsLeft: number };

/**
 * The sign-ins waiting for their code.
 *
 * @example
 * const pending = new PendingSignIns();
 * const signIn = pending.create(account, Date.now()); // its id goes in a cookie
 * await pending.check(directory, signIn.id, "492039", ip, Date.now()); // { ok: true, account }
 */
export class PendingSignIns {
  readonly #entries = new Map<string, PendingSignIn>();

  constructor(readonly limits: PendingSignInLimits = SECOND_STEP_LIMITS) {}

  create(account: Account, now: number): PendingSignIn {
    this.#prune(now);
    while (this.#entries.size >= this.limits.maxEntries) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
    const entry: PendingSignIn = {
      id: randomToken(),
      accountId: account.id,
      address: account.address,
      csrfToken: randomToken(),
      createdAt: now,
      wrongCodes: 0,
    };
    this.#entries.set(entry.id, entry);
    return entry;
  }

  /** The live pending sign-in with this id, or null when unknown or ended. */
  get(id: string, now: number): PendingSignIn | null {
    const entry = this.#entries.get(id);
    if (!entry) return null;
    if (now - entry.createdAt >= this.limits.lifetimeMs) {
      this.#entries.delete(id);
      return null;
    }
    return entry;
  }

  /** Seconds the pending sign-in has left, for the cookie's Max-Age. */
  secondsLeft(entry: { createdAt: number }, now: number): number {
    return Math.max(0, Math.ceil((entry.createdAt + this.limits.lifetimeMs - now) / 1000));
  }

  delete(id: string): void {
    this.#entries.delete(id);
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * Checks the code typed for pending sign-in `id`: the account on success (the entry is then
   * gone), otherwise why not. "expired", "exhausted" and "rate_limited" end the entry too.
   */
  async check(
    directory: Directory,
    id: string,
    code: string,
    ip: string,
    now: number,
  ): Promise<SecondStepResult> {
    const entry = this.get(id, now);
    if (!entry) return { ok: false, reason: "expired" };
    const account = await directory.store.getAccountById(entry.accountId);
    if (!account || account.disabled) {
      this.delete(id);
      return { ok: false, reason: "expired" };
    }
    const verdict = await directory.verifyTotp(account, code, ip);
    if (verdict === "ok") {
      this.delete(id);
      return { ok: true, account };
    }
    if (verdict === "rate_limited") {
      this.delete(id);
      return { ok: false, reason: "rate_limited" };
    }
    entry.wrongCodes++;
    if (entry.wrongCodes >= this.limits.maxAttempts) {
      this.delete(id);
      return { ok: false, reason: "exhausted" };
    }
    return { ok: false, reason: "wrong", attemptsLeft: this.limits.maxAttempts - entry.wrongCodes };
  }

  #prune(now: number): void {
    for (const [id, entry] of this.#entries) {
      if (now - entry.createdAt < this.limits.lifetimeMs) break;
      this.#entries.delete(id);
    }
  }
}

/** What the code form's POST leads to; the pages turn it into their own responses. */
export type CodeFormOutcome =
  /** The code was right: start the session. */
  | { kind: "session"; account: Account }
  /** A wrong code with attempts left: the code page again. */
  | { kind: "code"; entry: PendingSignIn; message: string }
  /** The pending sign-in is over (expired, exhausted, blocked): back to the password. */
  | { kind: "login"; status: 401 | 429; message: string; counted: boolean }
  /** The form's CSRF token is missing or wrong. */
  | { kind: "forbidden" };

/**
 * The POST of the code form, the same on /admin/login/code and /account/login/code: the pending
 * sign-in named by the cookie `id`, the form's CSRF token, then the code. `counted` tells whether
 * a code was checked (for the authentication metric).
 */
export async function submitCode(
  pending: PendingSignIns,
  directory: Directory,
  id: string,
  form: URLSearchParams,
  ip: string,
): Promise<CodeFormOutcome> {
  const expired = "The sign-in has expired; enter your password again.";
  const entry = pending.get(id, Date.now());
  if (!entry) return { kind: "login", status: 401, message: expired, counted: false };
  if (!csrfValid(entry.csrfToken, form.get(CSRF_FIELD))) return { kind: "forbidden" };
  const outcome = await pending.check(directory, id, form.get("code") ?? "", ip, Date.now());
  if (outcome.ok) return { kind: "session", account: outcome.account };
  switch (outcome.reason) {
    case "wrong":
      return { kind: "code", entry, message: `Wrong code; ${outcome.attemptsLeft} attempts left.` };
    case "rate_limited":
      return {
        kind: "login",
        status: 429,
        message: "Too many failed sign-ins; try again later.",
        counted: true,
      };
    case "exhausted":
      return {
        kind: "login",
        status: 401,
        message: "Too many wrong codes; enter your password again.",
        counted: true,
      };
    case "expired":
      return { kind: "login", status: 401, message: expired, counted: false };
  }
}
