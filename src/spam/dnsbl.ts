/**
 * DNS block lists (DNSBL/RBL for addresses, RHSBL/URIBL for domains, RFC 5782): for each
 * `DnsListRule`, the items of its target are looked up as A records under the list's zone and
 * the answers are mapped to points through `rule.answers`.
 *
 * Implementation notes:
 * - Query names (RFC 5782 2.1, 2.3, 3): an IPv4 address is its octets reversed
 *   ("192.0.2.99" → "99.2.0.192.zone"), an IPv6 address its 32 nibbles reversed, a domain is
 *   itself ("example.com.zone"). "ip" is the client's address; "sender" the MAIL FROM domain and
 *   the From domains; "helo" the HELO name (address literals skipped); "uri" the registered
 *   domains of the link hosts (`registeredDomain`), or the address for a link to an IP (in any
 *   form a browser reads: "0x2d21209c" is 45.33.32.156), at most `maxUriDomains` distinct items,
 *   in the order the message shows them.
 * - Private, loopback and reserved addresses are not looked up (a list cannot know them), unless
 *   `checkPrivate` is set (tests, which run on 127.0.0.x).
 * - Answers: an answer the rule lists gives its points; "*" gives points for any other answer in
 *   127.0.0.0/8. Answers outside 127/8 (a resolver that rewrites NXDOMAIN) and the codes lists use
 *   to refuse a query rather than list an item — 127.0.0.1 (URIBL/SURBL "query refused"; RFC 5782
 *   2.1 says lists never list 127.0.0.1) and 127.255.255.252–255 (Spamhaus: typing error, public
 *   resolver, over quota) — never match "*"; they are ignored and logged once per list and answer.
 * - Several answers for one item are different listings (Spamhaus ZEN: SBL and XBL): their points
 *   add up. Several listed items (From and MAIL FROM domains, many links) give one symbol per rule,
 *   scored as its highest item, with every listed item in the detail.
 * - Every lookup runs at once and each is capped at `timeoutMs`, so a check never takes much
 *   longer than `timeoutMs`. A timeout, SERVFAIL or REFUSED gives no symbol and is not cached;
 *   answers and NXDOMAIN/NODATA are cached `cacheTtlMs` in an LRU of `cacheSize` query names (the
 *   resolver's own cache is short; lists are refreshed every few minutes at most).
 *
 * @example
 * const lists = new DnsLists(resolver, { timeoutMs: 2_000, cacheSize: 10_000, maxUriDomains: 10 });
 * const symbols = await lists.check(rules.dnsLists, facts); // [{ name: "RBL_ZEN", score: 5, ... }]
 */
import { asciiHost, registeredDomain } from "./domains.ts";
import net from "node:net";
import { DnsError, type Resolver, reverseName } from "../dns/resolver.ts";
import { type Logger, logger } from "../observability/log.ts";
import type { DnsListRule, MessageFacts, SpamSymbol } from "./types.ts";

export interface DnsListOptions {
  /** Cap on each lookup (they run in parallel). */
  timeoutMs: number;
  /** Query names remembered (answers and "not listed"). */
  cacheSize: number;
  /** Distinct link domains looked up per message for "uri" rules. */
  maxUriDomains: number;
  /** How long an answer is remembered; 1 hour by default. */
  cacheTtlMs?: number;
  /** Look up private, loopback and reserved addresses too (tests); false by default. */
  checkPrivate?: boolean;
  log?: Logger;
}

const DEFAULT_CACHE_TTL_MS = 60 * 60 * 1000;
/** Distinct refused answers remembered for "log once"; past it they are no longer logged. */
const MAX_LOGGED_REFUSALS = 1_000;
const MAX_DNS_NAME = 253;

/** An item to look up for a rule: its display form and the name under the zone. */
interface ListItem {
  item: string;
  label: string;
}

/** Answer addresses; [] when the item is not listed. */
type Lookup = string[] | "failed";

export class DnsLists {
  readonly #resolver: Resolver;
  readonly #options: Required<Omit<DnsListOptions, "log">>;
  readonly #log: Logger;
  readonly #cache = new Map<string, { expires: number; answers: string[] }>();
  readonly #loggedRefusals = new Set<string>();

  constructor(resolver: Resolver, options: DnsListOptions) {
    this.#resolver = resolver;
    this.#options = {
      timeoutMs: options.timeoutMs,
      cacheSize: options.cacheSize,
      maxUriDomains: options.maxUriDomains,
      cacheTtlMs: options.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS,
      checkPrivate: options.checkPrivate ?? false,
    };
    this.#log = options.log ?? logger("dnsbl");
  }

  /** One symbol per rule whose zone lists an item of the message; never throws. */
  async check(rules: readonly DnsListRule[], facts: MessageFacts): Promise<SpamSymbol[]> {
    const itemsByTarget = new Map<DnsListRule["target"], ListItem[]>();
    const itemsOf = (target: DnsListRule["target"]) => {
      let items = itemsByTarget.get(target);
      if (!items) itemsByTarget.set(target, items = this.#items(target, facts));
      return items;
    };
    const results = await Promise.all(rules.map(async (rule) => {
      try {
        return await this.#checkRule(rule, itemsOf(rule.target));
      } catch (error) {
        this.#log.error("DNS list check failed", { zone: rule.zone, error });
        return null;
      }
    }));
    return results.filter((symbol): symbol is SpamSymbol => symbol !== null);
  }

  async #checkRule(rule: DnsListRule, items: ListItem[]): Promise<SpamSymbol | null> {
    const zone = rule.zone.toLowerCase().replace(/^\.+|\.+$/g, "");
    const queries = items
      .map((item) => ({ ...item, query: `${item.label}.${zone}` }))
      .filter((item) => item.query.length <= MAX_DNS_NAME);
    const lookups = await Promise.all(queries.map((item) => this.#lookup(item.query)));
    let best: number | null = null;
    const listed: string[] = [];
    for (const [i, item] of queries.entries()) {
      const answers = lookups[i];
      if (answers === "failed" || answers.length === 0) continue;
      const matched = this.#score(rule, zone, answers);
      if (!matched) continue;
      best = best === null ? matched.score : Math.max(best, matched.score);
      listed.push(`${item.item} ${matched.answers.join(",")}`);
    }
    if (best === null) return null;
    return { name: rule.name, score: best, detail: `${zone}: ${listed.join("; ")}` };
  }

  /** The points of one item's answers, or null when none of them counts. */
  #score(
    rule: DnsListRule,
    zone: string,
    answers: string[],
  ): { score: number; answers: string[] } | null {
    let score = 0;
    const counted: string[] = [];
    for (const answer of new Set(answers)) {
      const points = this.#pointsFor(rule, zone, answer);
      if (points === null) continue;
      score += points;
      counted.push(answer);
    }
    return counted.length ? { score, answers: counted } : null;
  }

  #pointsFor(rule: DnsListRule, zone: string, answer: string): number | null {
    if (!isLoopbackAnswer(answer)) {
      this.#logRefusal(zone, answer, "not in 127.0.0.0/8");
      return null;
    }
    if (Object.hasOwn(rule.answers, answer)) return rule.answers[answer];
    if (isRefusalAnswer(answer)) {
      this.#logRefusal(zone, answer, "the list refused the query");
      return null;
    }
    return Object.hasOwn(rule.answers, "*") ? rule.answers["*"] : null;
  }

  #logRefusal(zone: string, answer: string, reason: string) {
    const key = `${zone} ${answer}`;
    if (this.#loggedRefusals.has(key) || this.#loggedRefusals.size >= MAX_LOGGED_REFUSALS) return;
    this.#loggedRefusals.add(key);
    this.#log.warn("DNS list answer ignored", { zone, answer, reason });
  }

  async #lookup(query: string): Promise<Lookup> {
    const now = Date.now();
    const cached = this.#cache.get(query);
    if (cached) {
      this.#cache.delete(query);
      if (cached.expires > now) {
        this.#cache.set(query, cached); // most recently used goes last
        return cached.answers;
      }
    }
    const outcome = await this.#resolveCapped(query);
    if (outcome !== "failed") this.#remember(query, outcome);
    return outcome;
  }

  #resolveCapped(query: string): Promise<Lookup> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<Lookup>((resolve) => {
      timer = setTimeout(() => resolve("failed"), this.#options.timeoutMs);
    });
    const lookup = this.#resolver.a(query).then(
      (answers): Lookup => answers,
      (error): Lookup => {
        if (error instanceof DnsError && (error.code === "NXDOMAIN" || error.code === "NODATA")) {
          return [];
        }
        this.#log.debug("DNS list lookup failed", { query, error: String(error) });
        return "failed";
      },
    );
    return Promise.race([lookup, timeout]).finally(() => clearTimeout(timer));
  }

  #remember(query: string, answers: string[]) {
    if (this.#options.cacheSize <= 0) return;
    while (this.#cache.size >= this.#options.cacheSize) {
      this.#cache.delete(this.#cache.keys().next().value as string);
    }
    this.#cache.set(query, { expires: Date.now() + this.#options.cacheTtlMs, answers });
  }

  #items(target: DnsListRule["target"], facts: MessageFacts): ListItem[] {
    const envelope = facts.envelope;
    switch (target) {
      case "ip":
        return this.#addressItems([envelope.remoteAddress]);
      case "sender": {
        const domains = [domainOf(envelope.sender), ...facts.from.map((a) => domainOf(a.email))];
        return domainItems(domains);
      }
      case "helo":
        return domainItems([envelope.helo]);
      case "uri":
        return this.#uriItems(facts);
    }
  }

  #addressItems(addresses: string[]): ListItem[] {
    const items: ListItem[] = [];
    for (const raw of addresses) {
      const address = unmapIPv4(raw.replace(/^\[|\]$/g, ""));
      if (!net.isIP(address)) continue;
      if (!this.#options.checkPrivate && isPrivateAddress(address)) continue;
      items.push({ item: address, label: reversedAddress(address) });
    }
    return items;
  }

  #uriItems(facts: MessageFacts): ListItem[] {
    const seen = new Set<string>();
    const items: ListItem[] = [];
    for (const link of facts.links) {
      if (items.length >= this.#options.maxUriDomains) break;
      const host = canonicalHost(link.host);
      if (!host) continue;
      const candidates = net.isIP(unmapIPv4(host))
        ? this.#addressItems([host])
        : domainItems([registeredDomain(host)]);
      for (const item of candidates) {
        if (seen.has(item.label)) continue;
        seen.add(item.label);
        items.push(item);
      }
    }
    return items;
  }
}

/**
 * A link host as a browser reads it: IPv4 addresses in any form ("0x7f000001", "2130706433",
 * "127.1") as dotted quads, IDNs as A-labels, IPv6 without brackets; "" when unreadable.
 */
function canonicalHost(host: string): string {
  if (!host) return "";
  try {
    return new URL(`http://${host}/`).hostname.replace(/^\[|\]$/g, "");
  } catch {
    return "";
  }
}

const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

/** Domain items, distinct, skipping what is not a dotted host name (address literals, ""). */
function domainItems(domains: readonly string[]): ListItem[] {
  const items: ListItem[] = [];
  for (const domain of domains) {
    const name = asciiHost(domain);
    const labels = name.split(".");
    if (labels.length < 2 || !labels.every((label) => LABEL.test(label))) continue;
    if (/^\d+$/.test(labels.at(-1)!)) continue; // an address written bare
    if (items.some((item) => item.item === name)) continue;
    items.push({ item: name, label: name });
  }
  return items;
}

function domainOf(address: string): string {
  const at = address.lastIndexOf("@");
  return at < 0 ? "" : address.slice(at + 1);
}

/** "::ffff:192.0.2.1" → "192.0.2.1"; anything else unchanged. */
function unmapIPv4(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1] : address;
}

/** The query label of an address (RFC 5782 2.1 for IPv4, 2.4 for IPv6 nibbles). */
function reversedAddress(address: string): string {
  return reverseName(address).replace(/\.(in-addr|ip6)\.arpa$/, "");
}

function ipv4Number(address: string): number {
  return address.split(".").reduce((n, octet) => n * 256 + Number(octet), 0);
}

function inIPv4Block(n: number, block: string, bits: number): boolean {
  const size = 2 ** (32 - bits);
  return Math.floor(n / size) === Math.floor(ipv4Number(block) / size);
}

/** RFC 6890 special-purpose blocks no public list can know. */
const PRIVATE_IPV4: [string, number][] = [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
];

/** True for loopback, private, link-local, documentation, multicast and reserved addresses. */
export function isPrivateAddress(address: string): boolean {
  const ip = unmapIPv4(address);
  if (net.isIPv4(ip)) {
    const n = ipv4Number(ip);
    return PRIVATE_IPV4.some(([block, bits]) => inIPv4Block(n, block, bits));
  }
  if (!net.isIPv6(ip)) return false;
  const nibbles = reverseName(ip).slice(0, 63).split(".").reverse().join("");
  const first16 = parseInt(nibbles.slice(0, 4), 16);
  return /^0{31}[01]$/.test(nibbles) || // :: and ::1
    (first16 & 0xfe00) === 0xfc00 || // fc00::/7 unique local
    (first16 & 0xffc0) === 0xfe80 || // fe80::/10 link-local
    (first16 & 0xff00) === 0xff00 || // multicast
    nibbles.startsWith("20010db8") || // documentation
    nibbles.startsWith("0064ff9b") || // NAT64: the IPv4 address inside is what matters
    nibbles.startsWith("2002"); // 6to4, likewise
}

function isLoopbackAnswer(answer: string): boolean {
  return net.isIPv4(answer) && answer.startsWith("127.");
}

/** 127.0.0.1 and 127.255.255.252–255: "query refused" and error codes, never a listing. */
function isRefusalAnswer(answer: string): boolean {
  return answer === "127.0.0.1" || /^127\.255\.255\.25[2-5]$/.test(answer);
}
