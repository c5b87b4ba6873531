/**
 * The DNS resolver every part of Postern uses (MX lookup, SPF/DKIM/DMARC through mailauth,
 * iprev, DNSBL, later DANE). It asks one configured recursive name server, or the first
 * `nameserver` in /etc/resolv.conf.
 *
 * Implementation notes:
 * - It speaks DNS itself (dns-packet over UDP, retrying over TCP when the answer has TC set,
 *   RFC 1035 4.2.1/4.2.2, RFC 7766) instead of calling Deno.resolveDns: on Deno 2.9.6,
 *   Deno.resolveDns throws the same `Deno.errors.NotFound` ("no records found") for NXDOMAIN,
 *   for NOERROR-without-data and for SERVFAIL, and only times out after ~15 s. Mail delivery
 *   must tell them apart: NXDOMAIN bounces, SERVFAIL defers (RFC 5321 5.1). The wire client
 *   also gives DANE its TLSA records later.
 * - Each query uses a fresh UDP socket (random source port) and a random id, and only a reply
 *   with that id and the same question is accepted.
 * - The cache has no notion of record TTLs: answers live `positiveCacheMs`, NXDOMAIN/NODATA live
 *   `negativeCacheMs`, SERVFAIL/REFUSED/timeouts are never cached. Concurrent lookups of the same
 *   question share one query. The cache holds at most `cacheMaxEntries` questions.
 *
 * @example
 * const resolver = new Resolver({ nameServer: { ipAddr: "127.0.0.1", port: 53 } });
 * const mx = await resolver.mx("example.com"); // [{ exchange: "mx.example.com", preference: 10 }]
 */
import dgram from "node:dgram";
import net from "node:net";
import { Buffer } from "node:buffer";
import dnsPacketModule from "dns-packet";

export interface NameServer {
  ipAddr: string;
  port: number;
}

export interface ResolverOptions {
  /** The recursive name server to ask; null or absent → first nameserver in /etc/resolv.conf. */
  nameServer?: NameServer | null;
  /** Total time for one question, UDP retransmissions and TCP fallback included. */
  timeoutMs?: number;
  cacheMaxEntries?: number;
  /** How long an answer with records is cached. */
  positiveCacheMs?: number;
  /** How long NXDOMAIN and NODATA are cached. */
  negativeCacheMs?: number;
}

const DEFAULTS = {
  timeoutMs: 5_000,
  cacheMaxEntries: 10_000,
  positiveCacheMs: 60_000,
  negativeCacheMs: 30_000,
  /** UDP retransmissions within timeoutMs (RFC 1123 6.1.3.3: retransmit, don't wait it all out). */
  udpTries: 3,
};

export type DnsErrorCode = "NXDOMAIN" | "NODATA" | "SERVFAIL" | "TIMEOUT" | "REFUSED";

export class DnsError extends Error {
  constructor(readonly code: DnsErrorCode, message: string) {
    super(message);
    this.name = "DnsError";
  }
}

/** The error codes Node's dns module uses, which mailauth checks for. */
export const NODE_ERROR_CODES: Record<DnsErrorCode, string> = {
  NXDOMAIN: "ENOTFOUND",
  NODATA: "ENODATA",
  SERVFAIL: "ESERVFAIL",
  TIMEOUT: "ETIMEOUT",
  REFUSED: "EREFUSED",
};

/** Maps a DNS response code (RFC 1035 4.1.1, RFC 6895) with its answer count to an outcome. */
export function classifyRcode(rcode: string, matchingAnswers: number): DnsErrorCode | "OK" {
  switch (rcode) {
    case "NOERROR":
      return matchingAnswers > 0 ? "OK" : "NODATA";
    case "NXDOMAIN":
      return "NXDOMAIN";
    case "REFUSED":
      return "REFUSED";
    default: // SERVFAIL, FORMERR, NOTIMP and the rest: the server could not answer this time.
      return "SERVFAIL";
  }
}

/** An Error shaped like the ones Node's dns.promises throws (`code`, `hostname`, `syscall`). */
export function toNodeDnsError(error: DnsError, hostname: string, rrtype: string): Error {
  const code = NODE_ERROR_CODES[error.code];
  const nodeError = new Error(`query${rrtype} ${code} ${hostname}`) as Error & {
    code: string;
    errno: undefined;
    syscall: string;
    hostname: string;
  };
  nodeError.code = code;
  nodeError.syscall = `query${rrtype}`;
  nodeError.hostname = hostname;
  return nodeError;
}

/** The reverse-lookup name of an IPv4 or IPv6 address (RFC 1035 3.5, RFC 3596 2.5). */
export function reverseName(ip: string): string {
  if (net.isIPv4(ip)) return ip.split(".").reverse().join(".") + ".in-addr.arpa";
  if (!net.isIPv6(ip)) throw new DnsError("NXDOMAIN", `not an IP address: ${ip}`);
  return expandIPv6(ip).split("").reverse().join(".") + ".ip6.arpa";
}

function expandIPv6(ip: string): string {
  let text = ip.toLowerCase().replace(/%.*$/, "");
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4[1].split(".").map(Number);
    const hex = (n: number) => n.toString(16).padStart(2, "0");
    text = text.slice(0, -v4[1].length) + `${hex(a)}${hex(b)}:${hex(c)}${hex(d)}`;
  }
  const [head, tail] = text.includes("::") ? text.split("::") : [text, null];
  const headGroups = head ? head.split(":") : [];
  const tailGroups = tail ? tail.split(":") : [];
  const fill = tail === null ? [] : Array(8 - headGroups.length - tailGroups.length).fill("0");
  return [...headGroups, ...fill, ...tailGroups].map((g) => g.padStart(4, "0")).join("");
}

export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/\.+$/, "");
}

/** Sorts MX records by preference, lowest first (RFC 5321 5.1); stable for equal preferences. */
export function sortByPreference<T extends { preference: number }>(records: readonly T[]): T[] {
  return [...records].sort((x, y) => x.preference - y.preference);
}

// dns-packet ships no types; this is the part of it used here.
interface WireAnswer {
  name: string;
  type: string;
  data: unknown;
}
interface WirePacket {
  id?: number;
  type?: "query" | "response";
  flags?: number;
  rcode?: string;
  flag_tc?: boolean;
  questions?: { name: string; type: string; class?: string }[];
  answers?: WireAnswer[];
}
interface DnsPacketCodec {
  encode(packet: WirePacket): Buffer;
  decode(buf: Buffer): WirePacket;
  RECURSION_DESIRED: number;
}
const dnsPacket = dnsPacketModule as unknown as DnsPacketCodec;

export type RecordType = "A" | "AAAA" | "MX" | "TXT" | "PTR" | "CNAME" | "NS" | "SRV" | "TLSA";

/** One SRV record (RFC 2782): target without the trailing dot; "." means "no service here". */
export interface SrvRecord {
  priority: number;
  weight: number;
  port: number;
  target: string;
}

/**
 * Checks one SRV answer's data as dns-packet decoded it (RFC 2782: priority, weight and port are
 * 16-bit unsigned, target a domain name) and normalizes the target; null when it is malformed.
 */
export function srvRecordFrom(data: unknown): SrvRecord | null {
  if (typeof data !== "object" || data === null) return null;
  const { priority, weight, port, target } = data as Record<string, unknown>;
  const u16 = (n: unknown): n is number =>
    Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 0xffff;
  if (!u16(priority) || !u16(weight) || !u16(port) || typeof target !== "string") return null;
  return {
    priority,
    weight,
    port,
    target: target === "" || target === "." ? "." : normalizeName(target),
  };
}

/** Record data as decoded from the wire, by type. */
type RecordData = string | { preference: number; exchange: string } | Uint8Array[] | unknown;

interface CacheEntry {
  expires: number;
  records?: RecordData[];
  error?: DnsError;
}

export class Resolver {
  readonly #options: Required<Omit<ResolverOptions, "nameServer">>;
  readonly #nameServer: NameServer | null;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #inFlight = new Map<string, Promise<RecordData[]>>();

  constructor(options: ResolverOptions = {}) {
    this.#options = {
      timeoutMs: options.timeoutMs ?? DEFAULTS.timeoutMs,
      cacheMaxEntries: options.cacheMaxEntries ?? DEFAULTS.cacheMaxEntries,
      positiveCacheMs: options.positiveCacheMs ?? DEFAULTS.positiveCacheMs,
      negativeCacheMs: options.negativeCacheMs ?? DEFAULTS.negativeCacheMs,
    };
    this.#nameServer = options.nameServer ?? null;
  }

  /** MX records sorted by preference; exchange names without the trailing dot ("." stays "."). */
  async mx(name: string): Promise<{ exchange: string; preference: number }[]> {
    const records = await this.#lookup(name, "MX") as { preference: number; exchange: string }[];
    return sortByPreference(records.map((r) => ({
      exchange: r.exchange === "." || r.exchange === "" ? "." : normalizeName(r.exchange),
      preference: r.preference,
    })));
  }

  async a(name: string): Promise<string[]> {
    return await this.#lookup(name, "A") as string[];
  }

  async aaaa(name: string): Promise<string[]> {
    return await this.#lookup(name, "AAAA") as string[];
  }

  /** TXT records, each record's character-strings joined (RFC 7208 3.3, RFC 6376 3.6.2.2). */
  async txt(name: string): Promise<string[]> {
    return (await this.txtChunks(name)).map((chunks) => chunks.join(""));
  }

  /** TXT records as their character-strings, unjoined (Node's resolveTxt shape). */
  async txtChunks(name: string): Promise<string[][]> {
    const records = await this.#lookup(name, "TXT") as Uint8Array[][];
    const decoder = new TextDecoder();
    return records.map((chunks) => chunks.map((chunk) => decoder.decode(chunk)));
  }

  /** Host names for an IP address (the reverse zone's PTR records), without trailing dots. */
  async ptr(ip: string): Promise<string[]> {
    const records = await this.#lookup(reverseName(ip), "PTR") as string[];
    return records.map(normalizeName);
  }

  /**
   * SRV records (RFC 2782), sorted by priority; malformed answers are dropped, and a name whose
   * answers are all malformed is NODATA.
   *
   * @example
   * await resolver.srv("_imaps._tcp.example.com"); // [{ priority: 0, weight: 1, port: 993, target: "mail.example.com" }]
   */
  async srv(name: string): Promise<SrvRecord[]> {
    const records = (await this.#lookup(name, "SRV")).map(srvRecordFrom);
    const valid = records.filter((r): r is SrvRecord => r !== null);
    if (valid.length === 0) throw new DnsError("NODATA", `DNS SRV ${normalizeName(name)}: NODATA`);
    return [...valid].sort((x, y) => x.priority - y.priority);
  }

  async cname(name: string): Promise<string[]> {
    const records = await this.#lookup(name, "CNAME") as string[];
    return records.map(normalizeName);
  }

  async ns(name: string): Promise<string[]> {
    const records = await this.#lookup(name, "NS") as string[];
    return records.map(normalizeName);
  }

  /**
   * The resolver function mailauth takes: `(name, rrtype)` resolving like Node's
   * `dns.promises.resolve` (MX as `{ exchange, priority }`, TXT as chunk arrays) and rejecting
   * with Node-style errors whose `code` is ENOTFOUND, ENODATA, ESERVFAIL, ETIMEOUT or EREFUSED.
   */
  mailauthResolver(): (name: string, rrtype: string) => Promise<unknown> {
    return async (name, rrtype) => {
      const type = rrtype.toUpperCase();
      try {
        switch (type) {
          case "A":
            return await this.a(name);
          case "AAAA":
            return await this.aaaa(name);
          case "MX":
            return (await this.mx(name)).map((r) => ({
              exchange: r.exchange === "." ? "" : r.exchange,
              priority: r.preference,
            }));
          case "TXT":
            return await this.txtChunks(name);
          case "PTR":
            return (await this.#lookup(name, "PTR") as string[]).map(normalizeName);
          case "CNAME":
            return await this.cname(name);
          case "NS":
            return await this.ns(name);
          case "SRV": // Node's resolveSrv shape: the target is `name`.
            return (await this.srv(name)).map((r) => ({
              priority: r.priority,
              weight: r.weight,
              port: r.port,
              name: r.target === "." ? "" : r.target,
            }));
          default:
            throw Object.assign(new Error(`unsupported record type ${rrtype}`), {
              code: "ENOTIMP",
            });
        }
      } catch (error) {
        if (error instanceof DnsError) throw toNodeDnsError(error, name, type);
        throw error;
      }
    };
  }

  /** Forgets every cached answer. */
  clearCache(): void {
    this.#cache.clear();
  }

  async #lookup(name: string, type: RecordType): Promise<RecordData[]> {
    const qname = normalizeName(name);
    const key = `${type} ${qname}`;
    const cached = this.#cache.get(key);
    if (cached && cached.expires > Date.now()) {
      if (cached.error) throw cached.error;
      return cached.records!;
    }
    if (cached) this.#cache.delete(key);
    const pending = this.#inFlight.get(key);
    if (pending) return await pending;
    const query = this.#resolve(qname, type, key);
    this.#inFlight.set(key, query);
    try {
      return await query;
    } finally {
      this.#inFlight.delete(key);
    }
  }

  async #resolve(qname: string, type: RecordType, key: string): Promise<RecordData[]> {
    try {
      const records = await this.#query(qname, type);
      this.#remember(key, { expires: Date.now() + this.#options.positiveCacheMs, records });
      return records;
    } catch (error) {
      if (error instanceof DnsError && (error.code === "NXDOMAIN" || error.code === "NODATA")) {
        this.#remember(key, { expires: Date.now() + this.#options.negativeCacheMs, error });
      }
      throw error;
    }
  }

  #remember(key: string, entry: CacheEntry) {
    if (this.#options.cacheMaxEntries <= 0) return;
    while (this.#cache.size >= this.#options.cacheMaxEntries) {
      const oldest = this.#cache.keys().next().value as string;
      this.#cache.delete(oldest);
    }
    this.#cache.set(key, entry);
  }

  async #query(qname: string, type: RecordType): Promise<RecordData[]> {
    const server = this.#nameServer ?? await systemNameServer();
    const id = crypto.getRandomValues(new Uint16Array(1))[0];
    const request = dnsPacket.encode({
      id,
      type: "query",
      flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ name: qname, type, class: "IN" }],
    });
    const deadline = Date.now() + this.#options.timeoutMs;
    const accept = (buf: Buffer): WirePacket | null => {
      let packet: WirePacket;
      try {
        packet = dnsPacket.decode(buf);
      } catch {
        return null;
      }
      const question = packet.questions?.[0];
      if (packet.type !== "response" || packet.id !== id || !question) return null;
      if (normalizeName(question.name) !== qname || question.type !== type) return null;
      return packet;
    };
    let response = await udpExchange(server, request, accept, deadline, DEFAULTS.udpTries);
    if (response?.flag_tc) response = await tcpExchange(server, request, accept, deadline);
    if (!response) {
      throw new DnsError(
        "TIMEOUT",
        `DNS ${type} ${qname}: no answer within ${this.#options.timeoutMs} ms`,
      );
    }
    const records = (response.answers ?? []).filter((rr) => rr.type === type).map((rr) => rr.data);
    const outcome = classifyRcode(response.rcode ?? "SERVFAIL", records.length);
    if (outcome !== "OK") throw new DnsError(outcome, `DNS ${type} ${qname}: ${outcome}`);
    return records;
  }
}

let systemServer: Promise<NameServer> | null = null;

/** The first `nameserver` line of /etc/resolv.conf, or 127.0.0.1:53. */
function systemNameServer(): Promise<NameServer> {
  systemServer ??= Deno.readTextFile("/etc/resolv.conf").then(parseResolvConf).catch(() => null)
    .then((server) => server ?? { ipAddr: "127.0.0.1", port: 53 });
  return systemServer;
}

export function parseResolvConf(text: string): NameServer | null {
  for (const line of text.split("\n")) {
    const match = /^\s*nameserver\s+(\S+)/.exec(line);
    if (match && net.isIP(match[1].replace(/%.*$/, ""))) return { ipAddr: match[1], port: 53 };
  }
  return null;
}

function udpExchange(
  server: NameServer,
  request: Buffer,
  accept: (buf: Buffer) => WirePacket | null,
  deadline: number,
  tries: number,
): Promise<WirePacket | null> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket(net.isIPv6(server.ipAddr) ? "udp6" : "udp4");
    let timer: ReturnType<typeof setTimeout> | undefined;
    let done = false;
    const finish = (packet: WirePacket | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.close();
      resolve(packet);
    };
    const interval = Math.max(1, Math.floor((deadline - Date.now()) / tries));
    const send = () => {
      if (Date.now() >= deadline) return finish(null);
      socket.send(request);
      timer = setTimeout(send, Math.min(interval, Math.max(1, deadline - Date.now())));
    };
    socket.on("message", (message, remote) => {
      if (remote.port !== server.port) return;
      const packet = accept(message);
      if (packet) finish(packet);
    });
    socket.on("error", () => finish(null));
    socket.connect(server.port, server.ipAddr, () => send());
  });
}

function tcpExchange(
  server: NameServer,
  request: Buffer,
  accept: (buf: Buffer) => WirePacket | null,
  deadline: number,
): Promise<WirePacket | null> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: server.ipAddr, port: server.port });
    let done = false;
    const finish = (packet: WirePacket | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(packet);
    };
    const timer = setTimeout(() => finish(null), Math.max(1, deadline - Date.now()));
    let buffered = Buffer.alloc(0);
    socket.on("connect", () => {
      const prefix = Buffer.alloc(2);
      prefix.writeUInt16BE(request.length);
      socket.write(Buffer.concat([prefix, request]));
    });
    socket.on("data", (data: Buffer) => {
      buffered = Buffer.concat([buffered, data]);
      while (buffered.length >= 2 && buffered.length >= buffered.readUInt16BE(0) + 2) {
        const length = buffered.readUInt16BE(0);
        const packet = accept(buffered.subarray(2, length + 2));
        buffered = buffered.subarray(length + 2);
        if (packet) return finish(packet);
      }
    });
    socket.on("error", () => finish(null));
    socket.on("close", () => finish(null));
  });
}
