/**
 * A small authoritative DNS server on loopback for tests, so no test ever asks the real internet.
 * UDP (node:dgram) and TCP (node:net) on the same port; packets are decoded and encoded with
 * dns-packet. It answers from an in-memory zone:
 *
 * - names are case-insensitive and a trailing dot is ignored;
 * - an unknown name → NXDOMAIN; a known name without the asked type → NOERROR, no answers (NODATA);
 * - `SERVFAIL: true` → SERVFAIL for every type; `DROP: true` → no reply at all (client timeout);
 * - `CNAME` answers with the alias and, when the target is in the zone, its records of the type;
 * - TXT strings longer than 255 bytes are split into 255-byte character-strings (RFC 1035 3.3.14);
 * - a UDP answer over 512 bytes goes out with TC set and no records (RFC 1035 4.2.1), and the
 *   client is expected to retry over TCP, which gets the whole answer.
 *
 * @example
 * const dns = await startDnsServer({ "example.com": { MX: [{ exchange: "mx.example.com", preference: 10 }] } });
 * const resolver = new Resolver({ nameServer: { ipAddr: dns.host, port: dns.port } });
 * await dns.close();
 */
import dgram from "node:dgram";
import net from "node:net";
import { Buffer } from "node:buffer";
import dnsPacketModule from "dns-packet";

export interface ZoneEntry {
  A?: string[];
  AAAA?: string[];
  MX?: { exchange: string; preference: number }[];
  /** Each string is one TXT record; strings over 255 bytes are split into chunks on the wire. */
  TXT?: string[];
  PTR?: string[];
  CNAME?: string;
  /** RFC 2782 service records; target "." means "no service". */
  SRV?: { priority: number; weight: number; port: number; target: string }[];
  SERVFAIL?: true;
  DROP?: true;
}

export type Zone = Record<string, ZoneEntry>;

export interface DnsServerOptions {
  host?: string;
  port?: number;
  /** Largest UDP answer before TC is set; 512 per RFC 1035 (EDNS sizes are deliberately ignored). */
  udpMaxSize?: number;
}

export interface QueryLogEntry {
  name: string;
  type: string;
  transport: "udp" | "tcp";
}

export interface TestDnsServer {
  host: string;
  port: number;
  /** Every question received, in order (names lower-cased, without the trailing dot). */
  queries: QueryLogEntry[];
  setZone(zone: Zone): void;
  close(): Promise<void>;
}

// dns-packet ships no types; this is the part of it used here.
interface DnsQuestion {
  name: string;
  type: string;
  class?: string;
}
interface DnsAnswer {
  name: string;
  type: string;
  class?: string;
  ttl?: number;
  data: unknown;
}
interface DnsPacket {
  id?: number;
  type?: "query" | "response";
  flags?: number;
  questions?: DnsQuestion[];
  answers?: DnsAnswer[];
  authorities?: DnsAnswer[];
  additionals?: DnsAnswer[];
}
interface DnsPacketCodec {
  encode(packet: DnsPacket): Buffer;
  decode(buf: Buffer): DnsPacket;
  AUTHORITATIVE_ANSWER: number;
  TRUNCATED_RESPONSE: number;
  RECURSION_DESIRED: number;
  RECURSION_AVAILABLE: number;
}
const dnsPacket = dnsPacketModule as unknown as DnsPacketCodec;

const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4 } as const;
const TTL = 300;
const MAX_CNAME_CHAIN = 8;

export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/\.+$/, "");
}

/** Splits a string into RFC 1035 character-strings of at most 255 bytes each. */
export function txtChunks(text: string): Buffer[] {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length === 0) return [Buffer.alloc(0)];
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += 255) chunks.push(bytes.subarray(i, i + 255));
  return chunks;
}

function normalizeZone(zone: Zone): Map<string, ZoneEntry> {
  return new Map(Object.entries(zone).map(([name, entry]) => [normalizeName(name), entry]));
}

function recordsOf(name: string, type: string, entry: ZoneEntry): DnsAnswer[] {
  const rr = (data: unknown): DnsAnswer => ({ name, type, class: "IN", ttl: TTL, data });
  switch (type) {
    case "A":
      return (entry.A ?? []).map(rr);
    case "AAAA":
      return (entry.AAAA ?? []).map(rr);
    case "MX":
      return (entry.MX ?? []).map((mx) => rr({ preference: mx.preference, exchange: mx.exchange }));
    case "TXT":
      return (entry.TXT ?? []).map((text) => rr(txtChunks(text)));
    case "PTR":
      return (entry.PTR ?? []).map(rr);
    case "CNAME":
      return entry.CNAME ? [rr(entry.CNAME)] : [];
    case "SRV":
      return (entry.SRV ?? []).map((srv) => rr({ ...srv }));
    default:
      return [];
  }
}

type Outcome = { rcode: number; answers: DnsAnswer[] } | "drop";

function answer(zone: Map<string, ZoneEntry>, question: DnsQuestion): Outcome {
  let name = normalizeName(question.name);
  const answers: DnsAnswer[] = [];
  for (let hop = 0; hop <= MAX_CNAME_CHAIN; hop++) {
    const entry = zone.get(name);
    if (!entry) {
      // NXDOMAIN only for the name asked; a dangling CNAME target out of the zone is just NOERROR.
      return { rcode: hop === 0 ? RCODE.NXDOMAIN : RCODE.NOERROR, answers };
    }
    if (entry.DROP) return "drop";
    if (entry.SERVFAIL) return { rcode: RCODE.SERVFAIL, answers: [] };
    if (entry.CNAME && question.type !== "CNAME") {
      answers.push(...recordsOf(name, "CNAME", entry));
      name = normalizeName(entry.CNAME);
      continue;
    }
    answers.push(...recordsOf(name, question.type, entry));
    return { rcode: RCODE.NOERROR, answers };
  }
  return { rcode: RCODE.SERVFAIL, answers: [] };
}

function respond(
  zone: Map<string, ZoneEntry>,
  query: DnsPacket,
  log: QueryLogEntry[],
  transport: "udp" | "tcp",
  udpMaxSize: number,
): Buffer | null {
  const questions = query.questions ?? [];
  const baseFlags = dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_AVAILABLE |
    ((query.flags ?? 0) & dnsPacket.RECURSION_DESIRED);
  const reply = (rcode: number, answers: DnsAnswer[], extraFlags = 0) =>
    dnsPacket.encode({
      id: query.id,
      type: "response",
      flags: baseFlags | extraFlags | rcode,
      questions,
      answers,
    });
  if (questions.length !== 1) return reply(RCODE.FORMERR, []);
  const question = questions[0];
  log.push({ name: normalizeName(question.name), type: question.type, transport });
  const outcome = answer(zone, question);
  if (outcome === "drop") return null;
  const full = reply(outcome.rcode, outcome.answers);
  if (transport === "udp" && full.length > udpMaxSize) {
    return reply(outcome.rcode, [], dnsPacket.TRUNCATED_RESPONSE);
  }
  return full;
}

/** Starts the server; `port: 0` (the default) picks a free port shared by UDP and TCP. */
export async function startDnsServer(
  initialZone: Zone,
  options: DnsServerOptions = {},
): Promise<TestDnsServer> {
  const host = options.host ?? "127.0.0.1";
  const udpMaxSize = options.udpMaxSize ?? 512;
  let zone = normalizeZone(initialZone);
  const queries: QueryLogEntry[] = [];
  const tcpSockets = new Set<net.Socket>();

  // An ephemeral UDP port may be taken on TCP; try a few times before giving up.
  let udp: dgram.Socket | null = null;
  let tcp: net.Server | null = null;
  for (let attempt = 0; attempt < 10 && !tcp; attempt++) {
    udp = dgram.createSocket(host.includes(":") ? "udp6" : "udp4");
    const boundUdp = udp;
    await new Promise<void>((resolve, reject) => {
      boundUdp.once("error", reject);
      boundUdp.bind(options.port ?? 0, host, () => {
        boundUdp.off("error", reject);
        resolve();
      });
    });
    const port = udp.address().port;
    const server = net.createServer((socket) => handleTcp(socket));
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          resolve();
        });
      });
      tcp = server;
    } catch (error) {
      await new Promise<void>((resolve) => boundUdp.close(() => resolve()));
      udp = null;
      if (options.port) throw error;
    }
  }
  if (!udp || !tcp) throw new Error("test DNS server: no free port for both UDP and TCP");
  const udpSocket = udp;
  const tcpServer = tcp;

  udpSocket.on("message", (message, remote) => {
    let query: DnsPacket;
    try {
      query = dnsPacket.decode(message);
    } catch {
      return;
    }
    const out = respond(zone, query, queries, "udp", udpMaxSize);
    if (out) udpSocket.send(out, remote.port, remote.address);
  });

  function handleTcp(socket: net.Socket) {
    tcpSockets.add(socket);
    socket.on("close", () => tcpSockets.delete(socket));
    socket.on("error", () => socket.destroy());
    let buffered = Buffer.alloc(0);
    socket.on("data", (data: Buffer) => {
      buffered = Buffer.concat([buffered, data]);
      while (buffered.length >= 2) {
        const length = buffered.readUInt16BE(0);
        if (buffered.length < length + 2) break;
        const message = buffered.subarray(2, length + 2);
        buffered = buffered.subarray(length + 2);
        let query: DnsPacket;
        try {
          query = dnsPacket.decode(message);
        } catch {
          socket.destroy();
          return;
        }
        const out = respond(zone, query, queries, "tcp", udpMaxSize);
        if (!out) continue;
        const prefix = Buffer.alloc(2);
        prefix.writeUInt16BE(out.length);
        socket.write(Buffer.concat([prefix, out]));
      }
    });
  }

  return {
    host,
    port: udpSocket.address().port,
    queries,
    setZone(next) {
      zone = normalizeZone(next);
    },
    async close() {
      for (const socket of tcpSockets) socket.destroy();
      await Promise.all([
        new Promise<void>((resolve) => udpSocket.close(() => resolve())),
        new Promise<void>((resolve) => tcpServer.close(() => resolve())),
      ]);
    },
  };
}
