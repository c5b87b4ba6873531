/**
 * Greylisting (RFC 6647): the first delivery attempt of an unknown (client network, sender,
 * recipient) triplet is answered with a temporary failure; a real MTA queues the message and
 * retries (RFC 5321 4.5.4.1), and the retry passes. Much spamware never retries.
 *
 * What Postgrey (the reference Postfix policy server) does, with its defaults:
 * - the triplet is the client's /24 (IPv4; `--ipv4cidr`, and /64 for IPv6 with `--ipv6cidr`,
 *   under `--lookup-by-subnet`, the default), the sender and the recipient, lower-cased. The
 *   sender goes through substitutions so that per-message return paths keep one key: the
 *   "+extension" of the local part is dropped and every run of digits standing alone as a word
 *   becomes "#" (VERP and bounce-tracking addresses); BATV "prvs=" tags are removed;
 * - a retry after `--delay` (300 s) passes; an earlier one is deferred again and does not restart
 *   the clock; a first retry later than `--retry-window` (2 days) counts as a new triplet;
 * - a triplet that passed keeps passing while it is seen at least once every `--max-age`
 *   (35 days); `--privacy` stores a hash of the triplet instead of the triplet;
 * - it also whitelists a client after `--auto-whitelist-clients` (5) passed deliveries, and ships
 *   a whitelist of big senders that retry from other addresses (pools).
 *
 * What this module does: the same triplet and the same times, hashed (SHA-256) always, so the
 * database never holds who writes to whom. Sender substitutions as Postgrey's, plus SRS
 * ("SRS0=hash=tt=domain=user@forwarder": hash and timestamp change daily) reduced to its stable
 * parts. The store (`SpamStore.greylist`) keeps first/last seen and whether the triplet passed.
 * No client auto-whitelist and no built-in whitelist (yet): every triplet the caller asks about
 * waits once, and a sender whose pool retries from another /24 waits once per /24. Callers leave
 * authenticated clients out (the SMTP server asks only for unauthenticated ones, at RCPT).
 *
 * @example
 * const greylist = new Greylist(store.spam, { delaySeconds: 300, retryWindowHours: 48,
 *   passDays: 35, ipv4Prefix: 24, ipv6Prefix: 64 });
 * const { defer } = await greylist.check("192.0.2.7", "bob@example.org", "alice@example.com");
 * if (defer) reply(450, "4.7.1", "Greylisted, try again later");
 */
import net from "node:net";
import type { GreylistAnswer, SpamStore } from "../store/spam_types.ts";

export interface GreylistOptions {
  /** A retry earlier than this after the first attempt is deferred again. Postgrey: 300. */
  delaySeconds: number;
  /** A first retry later than this after the first attempt starts over. Postgrey: 48. */
  retryWindowHours: number;
  /** A triplet that passed keeps passing while seen at least this often. Postgrey: 35. */
  passDays: number;
  /** Bits of the client's IPv4 address in the triplet (24: the /24 a server pool sits in). */
  ipv4Prefix: number;
  /** Bits of the client's IPv6 address in the triplet (64: one subnet). */
  ipv6Prefix: number;
  /** Client networks never greylisted ("127.0.0.0/8", "::1/128", "192.0.2.7"). */
  exempt?: readonly string[];
}

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

export interface GreylistCheck {
  /** True: answer this recipient with a temporary failure. */
  defer: boolean;
  answer: GreylistAnswer;
}

export class Greylist {
  readonly #store: SpamStore;
  readonly #options: GreylistOptions;

  constructor(store: SpamStore, options: GreylistOptions) {
    this.#store = store;
    this.#options = options;
  }

  /** Records an attempt to deliver from `sender` ("" for <>) to `recipient` and judges it. */
  async check(
    remoteAddress: string,
    sender: string,
    recipient: string,
    now: number = Date.now(),
  ): Promise<GreylistCheck> {
    if (isExempt(remoteAddress, this.#options.exempt ?? [])) {
      return { defer: false, answer: "pass" };
    }
    const key = await greylistKey(
      clientNetwork(remoteAddress, this.#options.ipv4Prefix, this.#options.ipv6Prefix),
      normalizeSender(sender),
      recipient.toLowerCase(),
    );
    const answer = await this.#store.greylist(
      key,
      now,
      this.#options.delaySeconds * 1000,
      this.#options.retryWindowHours * HOUR_MS,
      this.#options.passDays * DAY_MS,
    );
    return { defer: answer !== "pass", answer };
  }

  /**
   * Forgets triplets no longer of use at `now`: passed ones not seen for `passDays`, and waiting
   * ones first seen longer ago than the retry window (a retry would start over anyway).
   * Returns how many went.
   */
  async prune(now: number = Date.now()): Promise<number> {
    return await this.#store.pruneGreylist(
      now - this.#options.passDays * DAY_MS,
      now - this.#options.retryWindowHours * HOUR_MS,
    );
  }
}

/** The hashed triplet: nothing in the database says who writes to whom. */
async function greylistKey(network: string, sender: string, recipient: string): Promise<string> {
  const text = new TextEncoder().encode(`${network}\n${sender}\n${recipient}`);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", text));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The network a client address belongs to, as "address/prefix"; an IPv4-mapped IPv6 address
 * counts as IPv4, and anything that is not an address is used as it is.
 *
 * @example
 * clientNetwork("192.0.2.77", 24, 64); // "192.0.2.0/24"
 */
export function clientNetwork(address: string, ipv4Prefix: number, ipv6Prefix: number): string {
  const plain = address.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(plain);
  const ip = mapped ? mapped[1] : plain;
  if (net.isIPv4(ip)) {
    const value = ip.split(".").reduce((n, octet) => (n << 8n) | BigInt(octet), 0n);
    const masked = maskBits(value, 32, ipv4Prefix);
    const octets = [24n, 16n, 8n, 0n].map((shift) => String((masked >> shift) & 0xffn));
    return `${octets.join(".")}/${clamp(ipv4Prefix, 32)}`;
  }
  if (net.isIPv6(ip)) {
    const masked = maskBits(ipv6Value(ip), 128, ipv6Prefix);
    const groups = [];
    for (let shift = 112n; shift >= 0n; shift -= 16n) {
      groups.push(((masked >> shift) & 0xffffn).toString(16));
    }
    return `${groups.join(":")}/${clamp(ipv6Prefix, 128)}`;
  }
  return plain.toLowerCase();
}

/**
 * Whether `address` lies in one of `networks` ("address/prefix", or a lone address for just
 * that one): both are masked to the entry's prefix and compared.
 *
 * @example
 * isExempt("127.0.0.9", ["127.0.0.0/8"]); // true
 */
export function isExempt(address: string, networks: readonly string[]): boolean {
  return networks.some((entry) => {
    const [base, bits] = entry.split("/");
    const prefix = bits === undefined ? (base.includes(":") ? 128 : 32) : Number(bits);
    if (!Number.isInteger(prefix)) return false;
    const network = clientNetwork(base, prefix, prefix);
    return network.includes("/") && clientNetwork(address, prefix, prefix) === network;
  });
}

function clamp(prefix: number, width: number): number {
  return Math.min(width, Math.max(0, Math.trunc(prefix)));
}

function maskBits(value: bigint, width: number, prefix: number): bigint {
  const hostBits = BigInt(width - clamp(prefix, width));
  return (value >> hostBits) << hostBits;
}

function ipv6Value(ip: string): bigint {
  let text = ip.toLowerCase();
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4[1].split(".").map(Number);
    text = text.slice(0, -v4[1].length) +
      `${(a << 8 | b).toString(16)}:${(c << 8 | d).toString(16)}`;
  }
  const [head, tail] = text.includes("::") ? text.split("::") : [text, null];
  const headGroups = head ? head.split(":") : [];
  const tailGroups = tail ? tail.split(":") : [];
  const fill = tail === null ? [] : Array(8 - headGroups.length - tailGroups.length).fill("0");
  return [...headGroups, ...fill, ...tailGroups].reduce(
    (n, group) => (n << 16n) | BigInt(parseInt(group, 16)),
    0n,
  );
}

/**
 * The sender as it goes into the triplet: lower-case, "<>" for the null sender, and the parts
 * that change from message to message taken out (Postgrey's substitutions, plus SRS).
 *
 * @example
 * normalizeSender("List+bounces-4711-alice=example.com@lists.example.org");
 * // "list@lists.example.org"
 */
export function normalizeSender(sender: string): string {
  const address = sender.toLowerCase();
  if (address === "") return "<>";
  const at = address.lastIndexOf("@");
  if (at < 0) return address;
  let local = address.slice(0, at);
  const domain = address.slice(at + 1);
  // BATV (draft-levine-smtp-batv): prvs=KDDDSSSSSS=user.
  local = local.replace(/^prvs=[0-9a-z]{10}=/, "");
  // SRS: SRS0=HHH=TT=domain=user and SRS1=HHH=forwarder==HHH=TT=domain=user (hash, timestamp).
  local = local
    .replace(/^srs0[=+-][^=]+=[^=]+=/, "srs0=#=#=")
    .replace(/^srs1[=+-][^=]+=(.+?)==[^=]+=[^=]+=/, "srs1=#=$1==#=#=");
  local = local.replace(/\+.*$/, "");
  local = local.replace(/\b\d+\b/g, "#");
  return `${local}@${domain}`;
}
