/**
 * Sender authentication for an accepted inbound message: SPF (MAIL FROM and HELO), DKIM, DMARC
 * and ARC through mailauth, iprev (RFC 8601 2.7.3) by PTR and forward lookup, all through the
 * project's own resolver. The result is the header block to prepend and the DMARC verdict.
 *
 * Implementation notes:
 * - mailauth runs on the message as received, before any header of ours is added and before
 *   forged Authentication-Results are removed, so a DKIM signature covering them still verifies.
 * - Authentication-Results claiming our authserv-id that arrive with the message are forgeries
 *   (RFC 8601 5) and are removed by `stripForgedResults`.
 * - Every lookup is bounded by the resolver timeout; DNS temporary failures come back from
 *   mailauth as temperror and the message is delivered. The whole check is also capped at
 *   `timeoutMs`; when it runs over or mailauth throws, the caller delivers without our header.
 * - DMARC `pct` (RFC 7489 6.6.4) samples: a failing message gets the policy with that chance.
 */
import { Buffer } from "node:buffer";
import { DnsError, type Resolver } from "../dns/resolver.ts";

export interface AuthInput {
  ip: string;
  helo: string;
  /** MAIL FROM; "" for the null sender. */
  sender: string;
}

export interface AuthOptions {
  /** Our authserv-id (the server host name). */
  hostname: string;
  resolver: Resolver;
  /** Cap for the whole check, in milliseconds. */
  timeoutMs: number;
  /** Where DMARC quarantine sends a message ([smtp] dmarc_quarantine). */
  quarantineTo: "junk" | "inbox";
}

export type DmarcAction = "none" | "reject" | "quarantine";

export interface AuthVerdict {
  /** Header fields to prepend, each ending in CR LF (Authentication-Results first). */
  headers: string;
  dmarc: { result: string; policy: string | null; domain: string } | null;
  /** What the DMARC policy asks for this message. */
  action: DmarcAction;
  /** The client's PTR name that maps back to its address (iprev pass), for Received. */
  reverseName?: string;
}

interface MailauthDmarc {
  status?: { result?: string };
  policy?: string;
  domain?: string;
  pct?: number;
}

interface MailauthResult {
  dmarc: MailauthDmarc | false;
  headers: string;
}

type Authenticate = (input: Buffer, options: Record<string, unknown>) => Promise<MailauthResult>;

/**
 * mailauth is loaded on first use: it is large, and an idle server should not carry it. `deno
 * bundle` cannot bundle it (its `require("../package")`), so the build leaves it external and
 * the bundle loads it by its npm name at run time. Keep this version in step with deno.json.
 */
const MAILAUTH_NPM = "npm:mailauth@4.9.5";
let mailauth: Promise<Authenticate> | null = null;

function loadAuthenticate(): Promise<Authenticate> {
  mailauth ??= import("mailauth")
    .catch(() => import(MAILAUTH_NPM))
    .then((module) => module.authenticate as unknown as Authenticate);
  return mailauth;
}

/** Runs the checks; throws when mailauth fails or the time cap runs out. */
export async function authenticateMessage(
  options: AuthOptions,
  message: Uint8Array,
  input: AuthInput,
): Promise<AuthVerdict> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`authentication checks took over ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
  });
  try {
    const authenticate = await loadAuthenticate();
    const [result, iprev] = await Promise.race([
      Promise.all([
        authenticate(
          Buffer.from(message.buffer, message.byteOffset, message.byteLength),
          {
            ip: input.ip,
            helo: input.helo,
            sender: input.sender || undefined,
            mta: options.hostname,
            resolver: options.resolver.mailauthResolver(),
            disableBimi: true,
          },
        ),
        iprevResult(options.resolver, input.ip),
      ]),
      deadline,
    ]);
    return verdictOf(result, iprev);
  } finally {
    clearTimeout(timer);
  }
}

function verdictOf(result: MailauthResult, iprev: string): AuthVerdict {
  const fields = result.headers.split(/\r\n(?=[^ \t])/).map((f) => f.replace(/\r\n$/, ""))
    .filter((f) => f.length > 0);
  const ar = fields.filter((f) => /^authentication-results:/i.test(f))
    .map((f) => `${f};\r\n ${iprev}`);
  const rest = fields.filter((f) => !/^authentication-results:/i.test(f));
  const headers = [...ar, ...rest].map((f) => f + "\r\n").join("");
  const dmarc = result.dmarc
    ? {
      result: result.dmarc.status?.result ?? "none",
      policy: result.dmarc.policy ?? null,
      domain: result.dmarc.domain ?? "",
    }
    : null;
  let action: DmarcAction = "none";
  if (dmarc?.result === "fail" && result.dmarc) {
    const pct = result.dmarc.pct ?? 100;
    const sampled = pct >= 100 || Math.random() * 100 < pct;
    if (sampled && (dmarc.policy === "reject" || dmarc.policy === "quarantine")) {
      action = dmarc.policy;
    }
  }
  const reverseName = /^iprev=pass .*\(([^()]+)\)$/.exec(iprev)?.[1];
  return { headers, dmarc, action, reverseName };
}

/** The iprev method's result (RFC 8601 2.7.3, RFC 8601 3): PTR names that map back to `ip`. */
export async function iprevResult(resolver: Resolver, ip: string): Promise<string> {
  const policy = `policy.iprev=${ip}`;
  let names: string[];
  try {
    names = await resolver.ptr(ip);
  } catch (error) {
    return `iprev=${dnsFailure(error)} ${policy}`;
  }
  let temporary = false;
  for (const name of names.slice(0, 10)) {
    try {
      const addresses = ip.includes(":") ? await resolver.aaaa(name) : await resolver.a(name);
      if (addresses.some((a) => a.toLowerCase() === ip.toLowerCase())) {
        return `iprev=pass ${policy} (${name})`;
      }
    } catch (error) {
      if (dnsFailure(error) === "temperror") temporary = true;
    }
  }
  return `iprev=${temporary ? "temperror" : "fail"} ${policy}`;
}

function dnsFailure(error: unknown): "fail" | "temperror" {
  return error instanceof DnsError && (error.code === "NXDOMAIN" || error.code === "NODATA")
    ? "fail"
    : "temperror";
}

/**
 * Removes header fields `Authentication-Results` whose authserv-id is `authservId` (RFC 8601 5);
 * every other byte is kept as it came.
 */
export function stripForgedResults(message: Uint8Array, authservId: string): Uint8Array {
  const ours = authservId.toLowerCase();
  return removeHeaderFields(message, (field) => {
    const match = /^authentication-results[ \t]*:(.*)$/is.exec(field);
    return match !== null && authservIdOf(match[1]) === ours;
  });
}

/**
 * Removes the header fields (each given whole, folded lines and line end included) for which
 * `remove` is true; every other byte is kept as it came. Returns `message` itself when nothing
 * was removed.
 */
export function removeHeaderFields(
  message: Uint8Array,
  remove: (field: string) => boolean,
): Uint8Array {
  const end = headerEnd(message);
  const decoder = new TextDecoder();
  const kept: Uint8Array[] = [];
  let removed = false;
  let start = 0;
  while (start < end) {
    let stop = start;
    // A field runs to the line end that is not followed by folding whitespace.
    for (;;) {
      const lf = message.indexOf(0x0a, stop);
      stop = lf < 0 || lf >= end ? end : lf + 1;
      if (stop >= end || (message[stop] !== 0x20 && message[stop] !== 0x09)) break;
    }
    if (remove(decoder.decode(message.subarray(start, stop)))) removed = true;
    else kept.push(message.subarray(start, stop));
    start = stop;
  }
  if (!removed) return message;
  kept.push(message.subarray(end));
  const out = new Uint8Array(kept.reduce((n, part) => n + part.length, 0));
  let offset = 0;
  for (const part of kept) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** The authserv-id of an Authentication-Results value, lower-cased (comments dropped). */
function authservIdOf(value: string): string {
  const text = value.replace(/\r?\n/g, "").replace(/\([^()]*\)/g, " ").trim();
  return (/^"?([^\s;"]+)/.exec(text)?.[1] ?? "").toLowerCase();
}

/** Offset of the empty line ending the header section (its CR LF kept in the body part). */
function headerEnd(message: Uint8Array): number {
  if (message[0] === 0x0d || message[0] === 0x0a) return 0;
  for (let i = 0; i < message.length; i++) {
    if (message[i] !== 0x0a) continue;
    const next = message[i + 1];
    if (next === 0x0a || (next === 0x0d && message[i + 2] === 0x0a)) return i + 1;
  }
  return message.length;
}
