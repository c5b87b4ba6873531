/**
 * MTA-STS for the outbound queue (RFC 8461): which policy, if any, a recipient domain publishes,
 * so the SMTP client can refuse to deliver to an MX host the policy does not list, or over TLS it
 * cannot verify, when the policy is in "enforce" mode.
 *
 * Implementation notes:
 * - Discovery never throws for DNS, network or policy-host trouble. Whatever goes wrong, the
 *   answer is the cached policy while it is unexpired, else null (no MTA-STS). A failed fetch
 *   never evicts or shortens a cached policy; only a successful fetch replaces it (RFC 8461 3.3,
 *   5.1). A TXT record that disappears does not end a cached policy either: domains leave
 *   MTA-STS by publishing mode "none" (RFC 8461 8.3).
 * - The policy is fetched here over node:tls, not with fetch(): the policy host's address comes
 *   from the project Resolver (the configured name server, a loopback one in tests), never the
 *   system resolver; redirects are never followed and the body is read to at most 64 KiB
 *   (RFC 8461 3.3). The certificate must chain to the system/Node roots or `options.ca` and name
 *   the policy host (RFC 6125 DNS-ID, Node's default checkServerIdentity).
 * - One timeout covers the policy host's A/AAAA lookups, the connections and the read.
 * - Concurrent lookups of the same domain share one discovery.
 * - Checking the MX host's own certificate (RFC 8461 4.2) is the SMTP client's job;
 *   `policyAllowsHost` only answers whether the policy lists the host (RFC 8461 4.1).
 *
 * @example
 * const sts = new MtaSts({ resolver, cache: new FilePolicyCache("data/mta-sts.json") });
 * const policy = await sts.policyFor("example.com");
 * if (policy && !policyAllowsHost(policy, "mx1.example.com")) { // defer: not an allowed MX }
 */
import tls from "node:tls";
import { dirname } from "node:path";
import { DnsError, normalizeName, type Resolver } from "../dns/resolver.ts";
import { logger } from "../observability/log.ts";

const log = logger("mta-sts");

export type MtaStsMode = "enforce" | "testing" | "none";

export interface MtaStsPolicy {
  /** The policy domain (the recipient domain), lower case, no trailing dot. */
  domain: string;
  /** The `id` of the TXT record the policy was fetched under. */
  id: string;
  mode: MtaStsMode;
  mx: string[];
  /** Seconds the policy stays in force after `fetchedAt`. */
  maxAge: number;
  /** When the policy was fetched, ms since the epoch. */
  fetchedAt: number;
}

export interface PolicyCache {
  get(domain: string): Promise<MtaStsPolicy | null>;
  set(policy: MtaStsPolicy): Promise<void>;
}

export interface MtaStsOptions {
  resolver: Resolver;
  cache: PolicyCache;
  /** Extra trusted CA certificates (PEM) besides the system/Node roots (tls.rootCertificates). */
  ca?: string[];
  /** Port of the policy host; 443 except in tests. */
  httpsPort?: number;
  /** Time allowed for one policy fetch: address lookups, connecting, reading. */
  timeoutMs?: number;
  now?: () => number;
}

const DEFAULTS = {
  httpsPort: 443,
  timeoutMs: 10_000,
};

/** RFC 8461 3.2: max_age is at most 31557600 seconds (about a year). */
export const MAX_AGE_LIMIT = 31_557_600;
/** RFC 8461 3.3: senders should limit the policy's size; 64 KiB as the RFC suggests. */
export const MAX_POLICY_BYTES = 64 * 1024;
const MAX_HEAD_BYTES = 16 * 1024;
/** Room for chunked framing around a policy of MAX_POLICY_BYTES. */
const MAX_CHUNK_FRAMING_BYTES = 16 * 1024;
const POLICY_PATH = "/.well-known/mta-sts.txt";

function isExpired(policy: MtaStsPolicy, now: number): boolean {
  return policy.fetchedAt + policy.maxAge * 1000 <= now;
}

/**
 * Whether a policy lets mail go to `host`: always unless it enforces, and then only to a host
 * one of its mx patterns matches (RFC 8461 4.1, 5).
 *
 * @example
 * policyAllowsHost({ ...policy, mode: "enforce", mx: ["*.example.com"] }, "mx.example.com"); // true
 */
export function policyAllowsHost(policy: MtaStsPolicy, host: string): boolean {
  return policy.mode !== "enforce" || mxMatches(policy.mx, host);
}

/**
 * Whether an MX host name matches one of a policy's mx patterns (RFC 8461 4.1): exactly, or
 * "*.example.com" for any name with one more label on the left ("mx.example.com", not
 * "example.com" nor "a.mx.example.com"). Case and a trailing dot do not matter.
 *
 * @example
 * mxMatches(["*.example.com"], "MX1.example.com."); // true
 */
export function mxMatches(patterns: string[], host: string): boolean {
  const name = normalizeName(host);
  return patterns.some((raw) => {
    const pattern = normalizeName(raw);
    if (!pattern.startsWith("*.")) return pattern === name;
    const suffix = pattern.slice(1); // ".example.com"
    if (!name.endsWith(suffix)) return false;
    const label = name.slice(0, -suffix.length);
    return label.length > 0 && !label.includes(".");
  });
}

export interface ParsedPolicy {
  version: "STSv1";
  mode: MtaStsMode;
  mx: string[];
  maxAge: number;
}

export type PolicyParseResult =
  | { ok: true; policy: ParsedPolicy }
  | { ok: false; error: string };

const FIELD_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
const LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
const MX_PATTERN = new RegExp(`^(?:\\*\\.)?${LABEL}(?:\\.${LABEL})+$`);
const MODES: readonly string[] = ["enforce", "testing", "none"];

/**
 * Parses a policy file (RFC 8461 3.2): "key: value" lines ending in CRLF or LF. version STSv1,
 * mode and max_age are required, mx (repeatable) too unless mode is none; max_age is capped at
 * one year; unknown keys are ignored; blank lines are skipped. An error names the line.
 *
 * @example
 * parsePolicy("version: STSv1\nmode: enforce\nmx: *.example.com\nmax_age: 86400\n");
 * // { ok: true, policy: { version: "STSv1", mode: "enforce", mx: ["*.example.com"], maxAge: 86400 } }
 */
export function parsePolicy(text: string): PolicyParseResult {
  const fail = (error: string): PolicyParseResult => ({ ok: false, error });
  let version: string | undefined;
  let mode: MtaStsMode | undefined;
  let maxAge: number | undefined;
  const mx: string[] = [];
  const lines = text.split("\n");
  for (let index = 0; index < lines.length; index++) {
    const number = index + 1;
    const line = lines[index].replace(/\r$/, "").replace(/[ \t]+$/, "");
    if (line === "") continue;
    const colon = line.indexOf(":");
    const key = colon < 0 ? "" : line.slice(0, colon);
    if (!FIELD_NAME.test(key)) return fail(`line ${number}: expected "key: value"`);
    const value = line.slice(colon + 1).replace(/^[ \t]+/, "");
    const duplicate = () => fail(`line ${number}: ${key} given twice`);
    switch (key) {
      case "version":
        if (version !== undefined) return duplicate();
        if (value !== "STSv1") return fail(`line ${number}: version must be STSv1`);
        version = value;
        break;
      case "mode":
        if (mode !== undefined) return duplicate();
        if (!MODES.includes(value)) {
          return fail(`line ${number}: mode must be enforce, testing or none`);
        }
        mode = value as MtaStsMode;
        break;
      case "max_age":
        if (maxAge !== undefined) return duplicate();
        if (!/^[0-9]{1,10}$/.test(value)) {
          return fail(`line ${number}: max_age must be 1 to 10 digits`);
        }
        maxAge = Math.min(Number(value), MAX_AGE_LIMIT);
        break;
      case "mx": {
        const pattern = normalizeName(value);
        if (!MX_PATTERN.test(pattern)) return fail(`line ${number}: mx is not a host name`);
        mx.push(pattern);
        break;
      }
      default: // extension fields: ignored (RFC 8461 3.2)
    }
  }
  if (version === undefined) return fail("version is missing");
  if (mode === undefined) return fail("mode is missing");
  if (maxAge === undefined) return fail("max_age is missing");
  if (mode !== "none" && mx.length === 0) return fail(`mode ${mode} needs at least one mx`);
  return { ok: true, policy: { version, mode, mx, maxAge } as ParsedPolicy };
}

/**
 * The policy id of an `_mta-sts` TXT record (RFC 8461 3.1): "v=STSv1; id=<1-32 alphanumerics>"
 * with optional extension fields; null when the record is not a valid one.
 *
 * @example
 * parseStsRecord("v=STSv1; id=20160831085700Z;"); // "20160831085700Z"
 */
export function parseStsRecord(text: string): string | null {
  const fields = text.split(";").map((field) => field.trim());
  if (fields[0] !== "v=STSv1") return null;
  if (fields.at(-1) === "") fields.pop();
  let id: string | null = null;
  for (const field of fields.slice(1)) {
    const equals = field.indexOf("=");
    const name = field.slice(0, equals);
    const value = field.slice(equals + 1);
    if (name === "id") {
      if (id !== null || !/^[A-Za-z0-9]{1,32}$/.test(value)) return null;
      id = value;
    } else if (!FIELD_NAME.test(name) || !/^[\x21-\x3a\x3c\x3e-\x7e]+$/.test(value)) {
      return null;
    }
  }
  return id;
}

/**
 * The policy id from the `_mta-sts` TXT records; null when there is no single valid record.
 * Throws DnsError for SERVFAIL and timeouts.
 */
async function lookupPolicyId(resolver: Resolver, domain: string): Promise<string | null> {
  let records: string[];
  try {
    records = await resolver.txt(`_mta-sts.${domain}`);
  } catch (error) {
    if (error instanceof DnsError && (error.code === "NXDOMAIN" || error.code === "NODATA")) {
      return null;
    }
    throw error;
  }
  // RFC 8461 3.1: records not starting "v=STSv1;" are discarded; other than one left → none.
  const sts = records.filter((record) => /^v=STSv1[ \t]*;/.test(record));
  if (sts.length !== 1) return null;
  return parseStsRecord(sts[0]);
}

export class MtaSts {
  readonly #resolver: Resolver;
  readonly #cache: PolicyCache;
  readonly #ca: string[];
  readonly #httpsPort: number;
  readonly #timeoutMs: number;
  readonly #now: () => number;
  readonly #inFlight = new Map<string, Promise<MtaStsPolicy | null>>();

  constructor(options: MtaStsOptions) {
    this.#resolver = options.resolver;
    this.#cache = options.cache;
    this.#ca = [...tls.rootCertificates, ...(options.ca ?? [])];
    this.#httpsPort = options.httpsPort ?? DEFAULTS.httpsPort;
    this.#timeoutMs = options.timeoutMs ?? DEFAULTS.timeoutMs;
    this.#now = options.now ?? Date.now;
  }

  /**
   * The policy in force for a recipient domain, or null (no MTA-STS). Never throws for
   * network/DNS trouble: falls back to a cached unexpired policy, else null.
   */
  policyFor(domain: string): Promise<MtaStsPolicy | null> {
    const name = normalizeName(domain);
    const pending = this.#inFlight.get(name);
    if (pending) return pending;
    const discovery = this.#discover(name).finally(() => this.#inFlight.delete(name));
    this.#inFlight.set(name, discovery);
    return discovery;
  }

  async #discover(domain: string): Promise<MtaStsPolicy | null> {
    let cached: MtaStsPolicy | null = null;
    try {
      cached = await this.#cache.get(domain);
    } catch (error) {
      log.warn("policy cache unreadable", { domain, error: String(error) });
    }
    if (cached && isExpired(cached, this.#now())) cached = null;

    let id: string | null;
    try {
      id = await lookupPolicyId(this.#resolver, domain);
    } catch (error) {
      log.info("TXT lookup failed; using the cached policy if any", {
        domain,
        error: String(error),
        cached: cached?.id ?? null,
      });
      return cached;
    }
    if (id === null) return cached; // RFC 8461 3.3: a cached policy outlives its TXT record.
    if (cached && cached.id === id) return cached; // RFC 8461 3.1: same id, nothing new to fetch.

    const host = `mta-sts.${domain}`;
    let parsed: ParsedPolicy;
    try {
      const text = await this.#fetchPolicyText(host);
      const result = parsePolicy(text);
      if (!result.ok) throw new PolicyFetchError(`invalid policy: ${result.error}`);
      parsed = result.policy;
    } catch (error) {
      log.warn("policy fetch failed; using the cached policy if any", {
        domain,
        id,
        error: error instanceof Error ? error.message : String(error),
        cached: cached?.id ?? null,
      });
      return cached;
    }
    const policy: MtaStsPolicy = {
      domain,
      id,
      mode: parsed.mode,
      mx: parsed.mx,
      maxAge: parsed.maxAge,
      fetchedAt: this.#now(),
    };
    log.info("policy fetched", { domain, id, mode: policy.mode, maxAge: policy.maxAge });
    try {
      await this.#cache.set(policy);
    } catch (error) {
      log.warn("policy cache not written", { domain, error: String(error) });
    }
    return policy;
  }

  async #fetchPolicyText(host: string): Promise<string> {
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new PolicyFetchError(`no policy within ${this.#timeoutMs} ms`)),
      this.#timeoutMs,
    );
    try {
      const addresses = await untilAborted(this.#addresses(host), controller.signal);
      let lastError: unknown = new PolicyFetchError(`${host} has no address`);
      for (const address of addresses) {
        try {
          return await fetchPolicyFile({
            address,
            port: this.#httpsPort,
            host,
            ca: this.#ca,
            signal: controller.signal,
          });
        } catch (error) {
          lastError = error;
          if (controller.signal.aborted) break;
        }
      }
      throw lastError;
    } finally {
      clearTimeout(timer);
    }
  }

  async #addresses(host: string): Promise<string[]> {
    const [v4, v6] = await Promise.allSettled([
      this.#resolver.a(host),
      this.#resolver.aaaa(host),
    ]);
    const addresses = [
      ...(v4.status === "fulfilled" ? v4.value : []),
      ...(v6.status === "fulfilled" ? v6.value : []),
    ];
    if (addresses.length === 0) {
      const reason = v4.status === "rejected" ? v4.reason : "no A/AAAA records";
      throw new PolicyFetchError(`${host}: ${reason}`);
    }
    return addresses;
  }
}

/** Why a policy could not be fetched; never leaves this module. */
class PolicyFetchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PolicyFetchError";
  }
}

function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

interface FetchTarget {
  address: string;
  port: number;
  /** The policy host: SNI, Host header and the name the certificate must carry. */
  host: string;
  ca: string[];
  signal: AbortSignal;
}

interface ResponseHead {
  status: number;
  headers: Map<string, string[]>;
  bodyStart: number;
}

/**
 * GETs the policy from one address of the policy host (RFC 8461 3.3): TLS verified against the
 * host name, status 200 only, media type text/plain, at most MAX_POLICY_BYTES.
 */
function fetchPolicyFile(target: FetchTarget): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: target.address,
      port: target.port,
      servername: target.host,
      ca: target.ca,
      rejectUnauthorized: true,
    });
    const chunks: Uint8Array[] = [];
    let received = 0;
    let head: ResponseHead | null = null;
    let settled = false;
    const finish = (error: Error | null, text?: string) => {
      if (settled) return;
      settled = true;
      target.signal.removeEventListener("abort", onAbort);
      socket.destroy();
      if (error) reject(error);
      else resolve(text!);
    };
    const onAbort = () => finish(target.signal.reason as Error);
    if (target.signal.aborted) return onAbort();
    target.signal.addEventListener("abort", onAbort, { once: true });

    const complete = () => {
      if (!head) return finish(new PolicyFetchError("connection closed before a response"));
      try {
        finish(null, new TextDecoder().decode(responseBody(head, concat(chunks, received))));
      } catch (error) {
        finish(error as Error);
      }
    };

    socket.on("secureConnect", () => {
      socket.write(
        `GET ${POLICY_PATH} HTTP/1.1\r\nHost: ${target.host}\r\n` +
          "Accept: text/plain\r\nUser-Agent: Postern\r\nConnection: close\r\n\r\n",
      );
    });
    socket.on("data", (chunk: Uint8Array) => {
      chunks.push(chunk);
      received += chunk.length;
      try {
        if (!head) {
          head = parseHead(concat(chunks, received));
          if (!head) return;
          checkHead(head);
        }
        const bodyBytes = received - head.bodyStart;
        const length = contentLength(head);
        if (length !== null && bodyBytes >= length) return complete();
        const limit = isChunked(head)
          ? MAX_POLICY_BYTES + MAX_CHUNK_FRAMING_BYTES
          : MAX_POLICY_BYTES;
        if (bodyBytes > limit) {
          throw new PolicyFetchError(`policy larger than ${MAX_POLICY_BYTES} bytes`);
        }
      } catch (error) {
        finish(error as Error);
      }
    });
    socket.on("end", complete);
    socket.on("close", complete);
    socket.on("error", (error: Error) => finish(new PolicyFetchError(error.message)));
  });
}

function concat(chunks: Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

function indexOfBlankLine(bytes: Uint8Array): number {
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) {
      return i;
    }
  }
  return -1;
}

/** The status line and header fields (RFC 9112 2.1), or null while the head is incomplete. */
function parseHead(bytes: Uint8Array): ResponseHead | null {
  const end = indexOfBlankLine(bytes);
  if (end < 0) {
    if (bytes.length > MAX_HEAD_BYTES) throw new PolicyFetchError("response head too long");
    return null;
  }
  const [statusLine, ...fields] = new TextDecoder().decode(bytes.subarray(0, end)).split("\r\n");
  const status = /^HTTP\/1\.[01] ([0-9]{3})(?: .*)?$/.exec(statusLine);
  if (!status) throw new PolicyFetchError(`not an HTTP/1.x response: ${statusLine.slice(0, 80)}`);
  const headers = new Map<string, string[]>();
  for (const field of fields) {
    const colon = field.indexOf(":");
    if (colon <= 0 || /^[ \t]/.test(field)) throw new PolicyFetchError("malformed header field");
    const name = field.slice(0, colon).toLowerCase();
    headers.set(name, [...headers.get(name) ?? [], field.slice(colon + 1).trim()]);
  }
  return { status: Number(status[1]), headers, bodyStart: end + 4 };
}

/** RFC 8461 3.3: only 200 (no redirects), text/plain, and a declared length within the limit. */
function checkHead(head: ResponseHead): void {
  if (head.status !== 200) throw new PolicyFetchError(`HTTP status ${head.status}`);
  const contentType = head.headers.get("content-type")?.[0] ?? "";
  const mediaType = contentType.split(";")[0].trim().toLowerCase();
  if (mediaType !== "text/plain") {
    throw new PolicyFetchError(`media type "${mediaType}", not text/plain`);
  }
  const length = contentLength(head);
  if (length !== null && length > MAX_POLICY_BYTES) {
    throw new PolicyFetchError(`policy larger than ${MAX_POLICY_BYTES} bytes`);
  }
}

function isChunked(head: ResponseHead): boolean {
  const codings = (head.headers.get("transfer-encoding") ?? []).join(",").toLowerCase();
  return codings.split(",").map((c) => c.trim()).filter(Boolean).at(-1) === "chunked";
}

/** The Content-Length, or null when the body is chunked or ends with the connection. */
function contentLength(head: ResponseHead): number | null {
  if (head.headers.has("transfer-encoding")) return null;
  const values = head.headers.get("content-length");
  if (!values) return null;
  const distinct = new Set(values.flatMap((v) => v.split(",")).map((v) => v.trim()));
  const [value] = distinct;
  if (distinct.size !== 1 || !/^[0-9]{1,15}$/.test(value)) {
    throw new PolicyFetchError("invalid Content-Length");
  }
  return Number(value);
}

/** The body as framed by Content-Length, chunked coding or the end of the connection. */
function responseBody(head: ResponseHead, bytes: Uint8Array): Uint8Array {
  const raw = bytes.subarray(head.bodyStart);
  let body: Uint8Array;
  if (head.headers.has("transfer-encoding")) {
    if (!isChunked(head)) throw new PolicyFetchError("unsupported Transfer-Encoding");
    body = decodeChunked(raw);
  } else {
    const length = contentLength(head);
    if (length !== null && raw.length < length) throw new PolicyFetchError("body truncated");
    body = length === null ? raw : raw.subarray(0, length);
  }
  if (body.length > MAX_POLICY_BYTES) {
    throw new PolicyFetchError(`policy larger than ${MAX_POLICY_BYTES} bytes`);
  }
  return body;
}

/** Decodes chunked transfer coding (RFC 9112 7.1); trailer fields are ignored. */
function decodeChunked(raw: Uint8Array): Uint8Array {
  const pieces: Uint8Array[] = [];
  let total = 0;
  let at = 0;
  for (;;) {
    const lineEnd = raw.indexOf(10, at);
    if (lineEnd < 0) throw new PolicyFetchError("chunked body truncated");
    const sizeLine = new TextDecoder().decode(raw.subarray(at, lineEnd)).replace(/\r$/, "");
    const size = /^([0-9a-fA-F]{1,8})[ \t]*(?:;.*)?$/.exec(sizeLine);
    if (!size) throw new PolicyFetchError("malformed chunk size");
    const length = parseInt(size[1], 16);
    if (length === 0) return concat(pieces, total);
    const start = lineEnd + 1;
    if (start + length + 2 > raw.length) throw new PolicyFetchError("chunked body truncated");
    pieces.push(raw.subarray(start, start + length));
    total += length;
    if (total > MAX_POLICY_BYTES) {
      throw new PolicyFetchError(`policy larger than ${MAX_POLICY_BYTES} bytes`);
    }
    at = start + length;
    if (raw[at] === 13) at++;
    if (raw[at] !== 10) throw new PolicyFetchError("malformed chunk");
    at++;
  }
}

interface CacheFile {
  version: 1;
  policies: MtaStsPolicy[];
}

/** Keeps policies in memory only (tests, or a server that does not persist them). */
export class MemoryPolicyCache implements PolicyCache {
  readonly #policies = new Map<string, MtaStsPolicy>();

  get(domain: string): Promise<MtaStsPolicy | null> {
    return Promise.resolve(this.#policies.get(normalizeName(domain)) ?? null);
  }

  set(policy: MtaStsPolicy): Promise<void> {
    this.#policies.set(normalizeName(policy.domain), policy);
    return Promise.resolve();
  }
}

function isPolicy(value: unknown): value is MtaStsPolicy {
  const p = value as MtaStsPolicy;
  return typeof p === "object" && p !== null && typeof p.domain === "string" &&
    typeof p.id === "string" && MODES.includes(p.mode) && Array.isArray(p.mx) &&
    p.mx.every((mx) => typeof mx === "string") && Number.isFinite(p.maxAge) &&
    Number.isFinite(p.fetchedAt);
}

/**
 * A JSON file cache (e.g. data/mta-sts.json), loaded on first use and written whole after each
 * change: temp file (0600) + rename, so a crash leaves the old file or the new one. Entries past
 * their max_age are dropped on load; an unreadable file is logged and treated as empty.
 *
 * @example
 * const cache = new FilePolicyCache("data/mta-sts.json");
 */
export class FilePolicyCache implements PolicyCache {
  readonly #path: string;
  readonly #now: () => number;
  #policies: Promise<Map<string, MtaStsPolicy>> | null = null;
  #writing: Promise<void> = Promise.resolve();

  constructor(path: string, options: { now?: () => number } = {}) {
    this.#path = path;
    this.#now = options.now ?? Date.now;
  }

  async get(domain: string): Promise<MtaStsPolicy | null> {
    return (await this.#load()).get(normalizeName(domain)) ?? null;
  }

  async set(policy: MtaStsPolicy): Promise<void> {
    const policies = await this.#load();
    policies.set(normalizeName(policy.domain), policy);
    const write = this.#writing.catch(() => {}).then(() => this.#write(policies));
    this.#writing = write;
    await write;
  }

  #load(): Promise<Map<string, MtaStsPolicy>> {
    this.#policies ??= this.#read();
    return this.#policies;
  }

  async #read(): Promise<Map<string, MtaStsPolicy>> {
    const policies = new Map<string, MtaStsPolicy>();
    let text: string;
    try {
      text = await Deno.readTextFile(this.#path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) {
        log.warn("policy cache unreadable; starting empty", {
          path: this.#path,
          error: String(error),
        });
      }
      return policies;
    }
    let entries: unknown[] = [];
    try {
      const parsed = JSON.parse(text) as Partial<CacheFile>;
      entries = Array.isArray(parsed.policies) ? parsed.policies : [];
    } catch (error) {
      log.warn("policy cache is not JSON; starting empty", {
        path: this.#path,
        error: String(error),
      });
    }
    const now = this.#now();
    for (const entry of entries) {
      if (isPolicy(entry) && !isExpired(entry, now)) {
        policies.set(normalizeName(entry.domain), entry);
      }
    }
    return policies;
  }

  async #write(policies: Map<string, MtaStsPolicy>): Promise<void> {
    const now = this.#now();
    const file: CacheFile = {
      version: 1,
      policies: [...policies.values()].filter((policy) => !isExpired(policy, now)),
    };
    await Deno.mkdir(dirname(this.#path), { recursive: true });
    const temp = `${this.#path}.${crypto.randomUUID()}.tmp`;
    try {
      await Deno.writeTextFile(temp, JSON.stringify(file, null, 2) + "\n", { mode: 0o600 });
      await Deno.chmod(temp, 0o600); // the umask may have narrowed or the file pre-existed
      await Deno.rename(temp, this.#path);
    } catch (error) {
      await Deno.remove(temp).catch(() => {});
      throw error;
    }
  }
}
