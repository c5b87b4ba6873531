/**
 * The authentication failure limiter, one instance shared by SMTP submission, IMAP, POP3,
 * ManageSieve, JMAP and DAV, so that guesses spread across protocols add up.
 *
 * Implementation notes:
 * - Two counters: per client address and per account name. A login is refused (isBlocked) once
 *   either has reached its maximum. Callers check isBlocked before verifying a password, record
 *   every failed verification, and answer a blocked login exactly like a wrong password, so the
 *   reply says nothing about whether the account exists.
 * - A counter is forgotten windowSeconds after its most recent failure. Failures recorded while
 *   blocked therefore keep the block in place: a client that keeps guessing stays locked out
 *   until it has been quiet for a whole window.
 * - recordSuccess clears the account's counter but not the address's. Someone holding one valid
 *   account must not be able to wipe their address's record of guesses against other accounts
 *   by logging in between guesses (Dovecot's auth_penalty likewise survives a success).
 * - Address keys: an IPv4-mapped IPv6 address (::ffff:192.0.2.1) counts as the IPv4 address, any
 *   other IPv6 address as its /64, since one host commonly owns a whole /64. Anything that is not
 *   an IP address (a Unix socket peer, "") is used as given, lower-cased.
 * - Account keys are lower-cased; an empty account name is neither counted nor blocked.
 * - Memory is bounded: each table keeps at most maxEntries counters, evicting the one whose last
 *   failure is oldest. Expired counters are dropped lazily, when they are looked up and from the
 *   oldest end of the table whenever a failure is recorded. A Map keeps insertion order, and a
 *   counter is re-inserted on every failure, so the oldest is always first.
 */

export interface AuthLimiterOptions {
  /** Config [auth] max_failures_per_ip. */
  maxFailuresPerIp: number;
  /** Config [auth] max_failures_per_account. */
  maxFailuresPerAccount: number;
  /** Config [auth] failure_window. */
  windowSeconds: number;
  /** Clock in milliseconds; Date.now by default. Tests inject their own. */
  now?: () => number;
  /** Counters kept per table (addresses, accounts) before the oldest is evicted; 100,000. */
  maxEntries?: number;
  /** Ceiling of delayMs; 2,000 ms. */
  maxDelayMs?: number;
}

const DEFAULT_MAX_ENTRIES = 100_000;
const DEFAULT_MAX_DELAY_MS = 2_000;
/** delayMs after the first failure; it doubles with each further failure up to maxDelayMs. */
const FIRST_DELAY_MS = 250;

interface Counter {
  failures: number;
  lastFailureAt: number;
}

class CounterTable {
  readonly #entries = new Map<string, Counter>();

  constructor(private readonly windowMs: number, private readonly maxEntries: number) {}

  get size(): number {
    return this.#entries.size;
  }

  failures(key: string, now: number): number {
    const counter = this.#entries.get(key);
    if (!counter) return 0;
    if (this.#expired(counter, now)) {
      this.#entries.delete(key);
      return 0;
    }
    return counter.failures;
  }

  add(key: string, now: number): void {
    const failures = this.failures(key, now) + 1;
    this.#entries.delete(key);
    this.#entries.set(key, { failures, lastFailureAt: now });
    this.#sweep(now);
    for (const oldest of this.#entries.keys()) {
      if (this.#entries.size <= this.maxEntries) break;
      this.#entries.delete(oldest);
    }
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  #sweep(now: number): void {
    for (const [key, counter] of this.#entries) {
      if (!this.#expired(counter, now)) break;
      this.#entries.delete(key);
    }
  }

  #expired(counter: Counter, now: number): boolean {
    return now - counter.lastFailureAt >= this.windowMs;
  }
}

/**
 * Counts authentication failures per client address and per account.
 * @example
 * const limiter = new AuthLimiter({ maxFailuresPerIp: 10, maxFailuresPerAccount: 20, windowSeconds: 900 });
 * if (limiter.isBlocked(ip, user) || !(await verifyPassword(password, stored))) {
 *   limiter.recordFailure(ip, user);
 *   await delay(limiter.delayMs(ip));
 *   return "NO [AUTHENTICATIONFAILED] Authentication failed.";
 * }
 * limiter.recordSuccess(ip, user);
 */
export class AuthLimiter {
  readonly #maxFailuresPerIp: number;
  readonly #maxFailuresPerAccount: number;
  readonly #maxDelayMs: number;
  readonly #now: () => number;
  readonly #ips: CounterTable;
  readonly #accounts: CounterTable;

  constructor(options: AuthLimiterOptions) {
    const {
      maxFailuresPerIp,
      maxFailuresPerAccount,
      windowSeconds,
      maxEntries = DEFAULT_MAX_ENTRIES,
      maxDelayMs = DEFAULT_MAX_DELAY_MS,
    } = options;
    for (
      const [name, value] of Object.entries({ maxFailuresPerIp, maxFailuresPerAccount, maxEntries })
    ) {
      if (!Number.isSafeInteger(value) || value < 1) {
        throw new RangeError(`AuthLimiter: ${name} must be a positive integer, got ${value}`);
      }
    }
    if (!(windowSeconds > 0) || !Number.isFinite(windowSeconds)) {
      throw new RangeError(`AuthLimiter: windowSeconds must be positive, got ${windowSeconds}`);
    }
    if (!(maxDelayMs >= 0) || !Number.isFinite(maxDelayMs)) {
      throw new RangeError(`AuthLimiter: maxDelayMs must not be negative, got ${maxDelayMs}`);
    }
    this.#maxFailuresPerIp = maxFailuresPerIp;
    this.#maxFailuresPerAccount = maxFailuresPerAccount;
    this.#maxDelayMs = maxDelayMs;
    this.#now = options.now ?? Date.now;
    this.#ips = new CounterTable(windowSeconds * 1000, maxEntries);
    this.#accounts = new CounterTable(windowSeconds * 1000, maxEntries);
  }

  /** True when the address or the account has reached its maximum within the window. */
  isBlocked(ip: string, account: string): boolean {
    const now = this.#now();
    if (this.#ips.failures(ipKey(ip), now) >= this.#maxFailuresPerIp) return true;
    const key = accountKey(account);
    return key !== "" && this.#accounts.failures(key, now) >= this.#maxFailuresPerAccount;
  }

  /** Counts one failed authentication against the address and the account. */
  recordFailure(ip: string, account: string): void {
    const now = this.#now();
    this.#ips.add(ipKey(ip), now);
    const key = accountKey(account);
    if (key !== "") this.#accounts.add(key, now);
  }

  /** Clears the account's counter; the address's counter stays (see the module notes). */
  recordSuccess(_ip: string, account: string): void {
    const key = accountKey(account);
    if (key !== "") this.#accounts.delete(key);
  }

  /**
   * How long to wait before answering a failed login from this address: 0 with no failures in
   * the window, then 250 ms doubling per failure up to maxDelayMs (2 s by default).
   */
  delayMs(ip: string): number {
    const failures = this.#ips.failures(ipKey(ip), this.#now());
    if (failures === 0) return 0;
    return Math.min(this.#maxDelayMs, FIRST_DELAY_MS * 2 ** Math.min(failures - 1, 30));
  }

  /** Counters currently held, for metrics. */
  size(): { ips: number; accounts: number } {
    return { ips: this.#ips.size, accounts: this.#accounts.size };
  }
}

/**
 * The key an address is counted under: IPv4 as dotted decimal, IPv4-mapped IPv6 as IPv4, other
 * IPv6 as its /64 ("2001:db8:0:1::/64"); anything else lower-cased as given.
 * @example
 * ipKey("::ffff:192.0.2.7"); // "192.0.2.7"
 * ipKey("2001:DB8:0:1:2:3:4:5"); // "2001:db8:0:1::/64"
 */
export function ipKey(ip: string): string {
  let text = ip.trim().toLowerCase();
  if (text.startsWith("[") && text.endsWith("]")) text = text.slice(1, -1);
  const zone = text.indexOf("%");
  if (zone >= 0) text = text.slice(0, zone);
  const v4 = parseIpv4(text);
  if (v4) return v4.join(".");
  const v6 = parseIpv6(text);
  if (!v6) return ip.trim().toLowerCase();
  const mapped = v6.slice(0, 5).every((group) => group === 0) && v6[5] === 0xffff;
  if (mapped) return [v6[6] >> 8, v6[6] & 0xff, v6[7] >> 8, v6[7] & 0xff].join(".");
  return `${v6.slice(0, 4).map((group) => group.toString(16)).join(":")}::/64`;
}

function accountKey(account: string): string {
  return account.toLowerCase();
}

function parseIpv4(text: string): number[] | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const octets = parts.map((part) => /^[0-9]{1,3}$/.test(part) ? Number(part) : 256);
  return octets.every((octet) => octet <= 255) ? octets : null;
}

/** Eight 16-bit groups, or null. Accepts "::" compression and a trailing dotted IPv4. */
function parseIpv6(text: string): number[] | null {
  if (!text.includes(":")) return null;
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (half: string): number[] | null => {
    if (half === "") return [];
    const result: number[] = [];
    const parts = half.split(":");
    for (const [index, part] of parts.entries()) {
      if (index === parts.length - 1 && part.includes(".")) {
        const v4 = parseIpv4(part);
        if (!v4) return null;
        result.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (/^[0-9a-f]{1,4}$/.test(part)) {
        result.push(parseInt(part, 16));
      } else {
        return null;
      }
    }
    return result;
  };
  const head = groups(halves[0]);
  if (!head) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  const tail = groups(halves[1]);
  // A dotted IPv4 may only end the address, so it cannot sit in the head before "::".
  if (!tail || head.length + tail.length > 7 || halves[0].includes(".")) return null;
  return [...head, ...new Array(8 - head.length - tail.length).fill(0), ...tail];
}
