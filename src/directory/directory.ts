/**
 * The directory: domains, accounts, aliases, catch-all, sub-addressing, and the authentication
 * service every protocol shares.
 *
 * Implementation notes:
 * - Addresses compare case-insensitively (local part included, as Stalwart and Dovecot do).
 * - Recipient resolution order: exact account, exact alias, the address without its +tag (account,
 *   then alias), the domain's catch-all alias (@domain). Aliases expand recursively (depth 10).
 * - authenticate() answers the same way, and takes as long, whether or not the account exists.
 *   A login found in the LoginCache skips the hash verification and answers sooner, but only the
 *   right password of an existing account can be found there, so failures still cost the same.
 * - Two-step sign-in (totp.ts) is for the web sign-ins only: they ask authenticate() with
 *   `secondStep`, and a right password of an account with a TOTP secret is "code_required", not
 *   a success. Its failure counter is cleared only when verifyTotp accepts the code, so knowing
 *   the password never wipes the record of wrong codes. Wrong and replayed codes count in the
 *   same limiter as wrong passwords. Mail protocols, JMAP, DAV and /api never pass it.
 */
import type { Account, AppPassword, DkimKey, Domain, Store } from "../store/types.ts";
import { generateDkimKeys } from "../smtp/dkim_keys.ts";
import { DEFAULT_MAILBOXES } from "./mailboxes.ts";

export { DEFAULT_MAILBOXES };
import { StoreError } from "../store/types.ts";
import { type Argon2Params, isSupportedHash, needsRehash } from "./password.ts";
import { PasswordHasher } from "./hasher.ts";
import { AuthLimiter } from "./ratelimit.ts";
import { LoginCache } from "./login_cache.ts";
import {
  appPasswordName,
  formatAppPassword,
  MAX_APP_PASSWORDS,
  newAppPasswordSecret,
  parseAppPassword,
} from "./app_passwords.ts";
import { matchTotp } from "./totp.ts";
import { logger } from "../observability/log.ts";

export class DirectoryError extends Error {
  constructor(readonly code: "invalid" | "not_found" | "conflict", message: string) {
    super(message);
    this.name = "DirectoryError";
  }
}

export interface DirectoryOptions {
  subAddressSeparator: string;
  defaultQuota: number;
  argon2: Argon2Params;
  limiter: AuthLimiter;
  /** Verified logins remembered for [auth] cache_ttl (login_cache.ts). */
  loginCache: LoginCache;
}

export interface Recipients {
  accounts: Account[];
  /** Alias targets outside our domains (forwarding; delivered by the outbound queue). */
  external: string[];
}

export type AuthResult =
  | { ok: true; account: Account }
  | { ok: false; reason: "invalid" | "rate_limited" | "disabled" }
  /** The password is right, and the account's TOTP code is still to come (verifyTotp). */
  | { ok: false; reason: "code_required"; account: Account };

const ALIAS_DEPTH = 10;
/** How stale an app password's last use may get before a login writes it again. */
const APP_PASSWORD_TOUCH_MS = 60_000;
const LOCAL_PART = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$/;
const DOMAIN =
  /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

export function normalizeDomain(domain: string): string {
  let name = domain.trim().toLowerCase().replace(/\.$/, "");
  if ([...name].some((c) => c.charCodeAt(0) > 0x7f)) name = new URL(`http://${name}`).hostname;
  return name;
}

/** Splits and validates local@domain; throws DirectoryError("invalid"). */
export function parseAddress(address: string): { local: string; domain: string } {
  const at = address.lastIndexOf("@");
  if (at <= 0 || at === address.length - 1) {
    throw new DirectoryError(
      "invalid",
      `${JSON.stringify(address)} is not an address (local@domain)`,
    );
  }
  const local = address.slice(0, at).toLowerCase();
  let domain: string;
  try {
    domain = normalizeDomain(address.slice(at + 1));
  } catch {
    throw new DirectoryError("invalid", `${JSON.stringify(address)} has an invalid domain`);
  }
  if (
    !LOCAL_PART.test(local) || local.startsWith(".") || local.endsWith(".") || local.includes("..")
  ) {
    throw new DirectoryError("invalid", `${JSON.stringify(address)} has an invalid local part`);
  }
  if (!DOMAIN.test(domain)) {
    throw new DirectoryError("invalid", `${JSON.stringify(address)} has an invalid domain`);
  }
  return { local, domain };
}

export class Directory {
  readonly limiter: AuthLimiter;
  readonly #loginCache: LoginCache;
  #log = logger("auth");
  readonly hasher = new PasswordHasher();
  /** Verified against when the account does not exist, so both cases cost the same. */
  #dummyHash: Promise<string> | null = null;

  constructor(readonly store: Store, readonly options: DirectoryOptions) {
    this.limiter = options.limiter;
    this.#loginCache = options.loginCache;
  }

  close(): void {
    this.hasher.close();
  }

  // ---- domains ----

  async addDomain(name: string): Promise<Domain> {
    const domain = normalizeDomain(name);
    if (!DOMAIN.test(domain)) {
      throw new DirectoryError("invalid", `${JSON.stringify(name)} is not a domain name`);
    }
    const keys = await generateDkimKeys(new Date());
    return await this.#mapStoreErrors(() => this.store.createDomain(domain, keys));
  }

  /** The domain's DKIM keys, generating them first for a domain that has none. */
  async dkimKeys(name: string): Promise<DkimKey[]> {
    const domain = await this.store.getDomain(normalizeDomain(name));
    if (!domain) throw new DirectoryError("not_found", `no domain ${name}`);
    let keys = await this.store.listDkimKeys(domain.id);
    if (keys.length === 0) {
      keys = await generateDkimKeys(new Date());
      await this.store.addDkimKeys(domain.id, keys);
    }
    return keys;
  }

  async deleteDomain(name: string): Promise<void> {
    await this.#mapStoreErrors(() => this.store.deleteDomain(normalizeDomain(name)));
  }

  async isLocalDomain(name: string): Promise<boolean> {
    return (await this.store.getDomain(normalizeDomain(name))) !== null;
  }

  // ---- accounts ----

  /** Creates an account with its default mailboxes. `password` is plain text, or `hash` a stored hash. */
  async addAccount(
    address: string,
    credential: { password: string } | { hash: string } | null,
    options: { displayName?: string; quota?: number } = {},
  ): Promise<Account> {
    const { local, domain } = parseAddress(address);
    let passwordHash: string | null = null;
    if (credential && "password" in credential) {
      if (credential.password.length === 0) {
        throw new DirectoryError("invalid", "the password is empty");
      }
      passwordHash = await this.hasher.hash(credential.password, this.options.argon2);
    } else if (credential && "hash" in credential) {
      if (!isSupportedHash(credential.hash)) {
        throw new DirectoryError(
          "invalid",
          "unsupported or malformed password hash; expected a {SCHEME} prefix such as {SHA512-CRYPT} or {ARGON2ID}",
        );
      }
      passwordHash = credential.hash;
    }
    const domainRow = await this.store.getDomain(domain);
    if (!domainRow) {
      throw new DirectoryError(
        "not_found",
        `domain ${domain} does not exist; add it first (domain add ${domain})`,
      );
    }
    return await this.#mapStoreErrors(() =>
      this.store.createAccount({
        address: `${local}@${domain}`,
        domainId: domainRow.id,
        displayName: options.displayName ?? "",
        quota: options.quota ?? this.options.defaultQuota,
        passwordHash,
        mailboxes: DEFAULT_MAILBOXES,
      })
    );
  }

  async getAccount(address: string): Promise<Account | null> {
    const { local, domain } = parseAddress(address);
    return await this.store.getAccount(`${local}@${domain}`);
  }

  async requireAccount(address: string): Promise<Account> {
    const account = await this.getAccount(address);
    if (!account) throw new DirectoryError("not_found", `no account ${address}`);
    return account;
  }

  async setPassword(address: string, password: string): Promise<void> {
    const account = await this.requireAccount(address);
    if (password.length === 0) throw new DirectoryError("invalid", "the password is empty");
    await this.store.setPasswordHash(
      account.id,
      await this.hasher.hash(password, this.options.argon2),
    );
    this.#loginCache.forget(account.id);
  }

  async deleteAccount(address: string): Promise<void> {
    const account = await this.requireAccount(address);
    await this.store.deleteAccount(account.id);
    this.#loginCache.forget(account.id);
  }

  // ---- aliases ----

  async addAlias(address: string, target: string) {
    const catchAll = address.startsWith("@");
    const domain = catchAll ? normalizeDomain(address.slice(1)) : parseAddress(address).domain;
    const source = catchAll ? `@${domain}` : (() => {
      const parsed = parseAddress(address);
      return `${parsed.local}@${parsed.domain}`;
    })();
    const parsedTarget = parseAddress(target);
    const domainRow = await this.store.getDomain(domain);
    if (!domainRow) {
      throw new DirectoryError("not_found", `domain ${domain} does not exist; add it first`);
    }
    return await this.#mapStoreErrors(() =>
      this.store.addAlias(source, `${parsedTarget.local}@${parsedTarget.domain}`, domainRow.id)
    );
  }

  async deleteAlias(address: string, target?: string): Promise<void> {
    const source = address.startsWith("@")
      ? `@${normalizeDomain(address.slice(1))}`
      : address.toLowerCase();
    const removed = await this.store.deleteAlias(source, target?.toLowerCase());
    if (removed === 0) {
      throw new DirectoryError("not_found", `no alias ${address}${target ? ` -> ${target}` : ""}`);
    }
  }

  // ---- recipient resolution ----

  /** Resolves a recipient to local accounts (and external forward targets); null = unknown. */
  async resolveRecipient(address: string): Promise<Recipients | null> {
    let parsed: { local: string; domain: string };
    try {
      parsed = parseAddress(address);
    } catch {
      return null;
    }
    if (!(await this.store.getDomain(parsed.domain))) return null;
    const accounts = new Map<number, Account>();
    const external = new Set<string>();
    const found = await this.#expand(`${parsed.local}@${parsed.domain}`, accounts, external, 0);
    if (!found) {
      const separator = this.options.subAddressSeparator;
      const cut = separator ? parsed.local.indexOf(separator) : -1;
      const base = cut > 0 ? `${parsed.local.slice(0, cut)}@${parsed.domain}` : null;
      const viaBase = base !== null && await this.#expand(base, accounts, external, 0);
      if (!viaBase) {
        const catchAll = await this.store.aliasTargets(`@${parsed.domain}`);
        if (catchAll.length === 0) return null;
        for (const target of catchAll) await this.#expand(target, accounts, external, 1);
      }
    }
    if (accounts.size === 0 && external.size === 0) return null;
    return { accounts: [...accounts.values()], external: [...external] };
  }

  async #expand(
    address: string,
    accounts: Map<number, Account>,
    external: Set<string>,
    depth: number,
  ): Promise<boolean> {
    const account = await this.store.getAccount(address);
    if (account) {
      accounts.set(account.id, account);
      return true;
    }
    const targets = await this.store.aliasTargets(address);
    if (targets.length === 0) {
      if (depth > 0 && !(await this.isLocalDomain(address.slice(address.lastIndexOf("@") + 1)))) {
        external.add(address);
        return true;
      }
      return false;
    }
    if (depth >= ALIAS_DEPTH) return false;
    for (const target of targets) await this.#expand(target, accounts, external, depth + 1);
    return true;
  }

  // ---- authentication ----

  /**
   * Verifies a login for any protocol. Failures are rate limited per IP and per account and look
   * the same whether the account exists or not. Legacy hashes are upgraded to Argon2id. A
   * password verified within [auth] cache_ttl is not verified again (login_cache.ts). An app
   * password (app_passwords.ts) is accepted in place of the password unless `appPasswords` is
   * false (the account page, which can create them, wants the password itself). With
   * `secondStep`, an account with two-step sign-in on answers "code_required" (see the notes).
   */
  async authenticate(
    username: string,
    password: string,
    ip: string,
    options: { appPasswords?: boolean; secondStep?: boolean } = {},
  ): Promise<AuthResult> {
    const key = username.toLowerCase();
    if (this.limiter.isBlocked(ip, key)) {
      this.#log.warn("login refused: too many failures", { user: key, ip });
      return { ok: false, reason: "rate_limited" };
    }
    let account: Account | null = null;
    try {
      account = await this.getAccount(username);
    } catch {
      account = null;
    }
    const stored = account ? await this.store.getPasswordHash(account.id) : null;
    const shaped = options.appPasswords === false ? null : parseAppPassword(password);
    const appRow = shaped && account ? await this.store.getAppPassword(shaped.id) : null;
    const appPassword = appRow && account && appRow.accountId === account.id ? appRow : null;
    let valid: "password" | "app" | null = null;
    if (account && appPassword && this.#loginCache.has(account.id, appPassword.hash, password)) {
      valid = "app";
    } else if (account && stored && this.#loginCache.has(account.id, stored, password)) {
      valid = "password";
    }
    const cached = valid !== null;
    if (!cached) {
      // Something shaped like an app password costs two verifications, anything else one,
      // whether or not the account or the app password exists.
      this.#dummyHash ??= this.hasher.hash(crypto.randomUUID(), this.options.argon2);
      if (shaped) {
        const ok = await this.hasher.verify(
          shaped.secret,
          appPassword?.hash ?? await this.#dummyHash,
        );
        if (ok && appPassword) valid = "app";
      }
      if (valid === null) {
        const ok = await this.hasher.verify(password, stored ?? await this.#dummyHash);
        if (ok && stored) valid = "password";
      }
    }
    if (!account || valid === null) {
      this.limiter.recordFailure(ip, key);
      this.#log.info("login failed", { user: key, ip });
      const delay = this.limiter.delayMs(ip);
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      return { ok: false, reason: "invalid" };
    }
    if (account.disabled) return { ok: false, reason: "disabled" };
    const codeRequired = options.secondStep === true &&
      (await this.store.getTotpSecret(account.id)) !== null;
    if (!codeRequired) this.limiter.recordSuccess(ip, key);
    if (valid === "app" && appPassword) {
      if (!cached) this.#loginCache.remember(account.id, appPassword.hash, password);
      const now = Date.now();
      const last = appPassword.lastUsedAt?.getTime() ?? 0;
      if (now - last >= APP_PASSWORD_TOUCH_MS) {
        await this.store.touchAppPassword(appPassword.id, new Date(now));
      }
      return { ok: true, account };
    }
    let current = stored!;
    if (needsRehash(current, this.options.argon2)) {
      current = await this.hasher.hash(password, this.options.argon2);
      await this.store.setPasswordHash(account.id, current);
      this.#log.info("password hash upgraded to Argon2id", { user: account.address });
    }
    if (!cached) this.#loginCache.remember(account.id, current, password);
    return codeRequired ? { ok: false, reason: "code_required", account } : { ok: true, account };
  }

  // ---- two-step sign-in (totp.ts) ----

  /**
   * The second step of a web sign-in: true when `code` is the account's current TOTP code and
   * its step was not used before (recorded atomically). Rate limited, counted and delayed like a
   * wrong password; a blocked client is "rate_limited" before the code is looked at.
   */
  async verifyTotp(
    account: Account,
    code: string,
    ip: string,
  ): Promise<"ok" | "invalid" | "rate_limited"> {
    const key = account.address.toLowerCase();
    if (this.limiter.isBlocked(ip, key)) {
      this.#log.warn("sign-in code refused: too many failures", { user: key, ip });
      return "rate_limited";
    }
    const stored = await this.store.getTotpSecret(account.id);
    const step = stored ? await matchTotp(stored.secret, code, Date.now(), stored.lastStep) : null;
    if (step === null || !(await this.store.acceptTotpStep(account.id, step))) {
      this.limiter.recordFailure(ip, key);
      this.#log.info("sign-in code wrong or used before", { user: key, ip });
      const delay = this.limiter.delayMs(ip);
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      return "invalid";
    }
    this.limiter.recordSuccess(ip, key);
    return "ok";
  }

  /** True when the account has two-step sign-in on. */
  async totpEnabled(accountId: number): Promise<boolean> {
    return (await this.store.getTotpSecret(accountId)) !== null;
  }

  /**
   * Turns two-step sign-in on with `secret` once `code` is one of its current codes (the user's
   * app has it); the code's step counts as used. False when the code is wrong.
   */
  async enableTotp(accountId: number, secret: Uint8Array, code: string): Promise<boolean> {
    const step = await matchTotp(secret, code, Date.now(), 0);
    if (step === null) return false;
    await this.store.setTotpSecret(accountId, secret, step);
    return true;
  }

  /** Turns two-step sign-in off (a lost phone); throws not_found when it was not on. */
  async disableTotp(address: string): Promise<void> {
    const account = await this.requireAccount(address);
    if (!(await this.store.deleteTotpSecret(account.id))) {
      throw new DirectoryError("not_found", `two-step sign-in is not on for ${account.address}`);
    }
    this.#log.info("two-step sign-in turned off", { user: account.address });
  }

  // ---- app passwords (app_passwords.ts) ----

  /** Creates an app password; `password` is what the user types, shown once. */
  async addAppPassword(
    address: string,
    name: string,
  ): Promise<{ appPassword: AppPassword; password: string }> {
    const account = await this.requireAccount(address);
    let label: string;
    try {
      label = appPasswordName(name);
    } catch (error) {
      throw new DirectoryError("invalid", (error as Error).message);
    }
    if ((await this.store.listAppPasswords(account.id)).length >= MAX_APP_PASSWORDS) {
      throw new DirectoryError(
        "conflict",
        `${account.address} already has ${MAX_APP_PASSWORDS} app passwords; revoke one first`,
      );
    }
    const secret = newAppPasswordSecret();
    const hash = await this.hasher.hash(secret, this.options.argon2);
    const appPassword = await this.store.createAppPassword(account.id, label, hash);
    return { appPassword, password: formatAppPassword(appPassword.id, secret) };
  }

  async listAppPasswords(address: string): Promise<AppPassword[]> {
    const account = await this.requireAccount(address);
    return await this.store.listAppPasswords(account.id);
  }

  /** Revokes one app password of the account at once; throws not_found when it has none with id. */
  async revokeAppPassword(address: string, id: number): Promise<void> {
    const account = await this.requireAccount(address);
    if (!(await this.store.deleteAppPassword(account.id, id))) {
      throw new DirectoryError("not_found", `no app password ${id} for ${account.address}`);
    }
    this.#loginCache.forget(account.id);
  }

  async #mapStoreErrors<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (
        error instanceof StoreError &&
        (error.code === "conflict" || error.code === "not_found" || error.code === "invalid")
      ) {
        throw new DirectoryError(error.code, error.message);
      }
      throw error;
    }
  }
}
