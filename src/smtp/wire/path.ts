/**
 * SMTP paths: the `<...>` argument of MAIL FROM and RCPT TO (RFC 5321 4.1.2), pure and
 * I/O-free so it can be fuzzed alone.
 *
 * Implementation notes:
 * - A source route (`<@a,@b:user@c>`) is accepted and dropped (RFC 5321 4.1.1.3, C.6); its
 *   domains are kept in `route` so `relayRisk` can flag it.
 * - Domains come back twice: `domain` is the ASCII form (A-labels, lower case, no trailing dot)
 *   that routing and the directory compare; `domainUnicode` is for display and logs.
 * - Non-ASCII (a UTF-8 local part or U-label) is accepted only with `utf8: true`, which the
 *   session passes when the transaction carries SMTPUTF8 (RFC 6531 3.3).
 * - Lengths are octets: local part 64, domain 255, whole path 256 (RFC 5321 4.5.3.1).
 */
import { domainToASCII, domainToUnicode } from "node:url";

/** RFC 5321 4.5.3.1.1 */
export const MAX_LOCAL_PART = 64;
/** RFC 5321 4.5.3.1.2 */
export const MAX_DOMAIN = 255;
/** RFC 5321 4.5.3.1.3, brackets included */
export const MAX_PATH = 256;

export interface AddressLiteral {
  family: 4 | 6;
  /** The address as written inside the brackets, without the `IPv6:` tag. */
  address: string;
}

export interface Mailbox {
  /** The local part with quoting and backslash escapes removed; case preserved. */
  localPart: string;
  /** The local part was sent as a quoted string. */
  quoted: boolean;
  /** ASCII domain (A-labels, lower case, trailing dot dropped) or `[1.2.3.4]` / `[IPv6:...]`. */
  domain: string;
  /** The domain with A-labels decoded; equal to `domain` for ASCII names and literals. */
  domainUnicode: string;
  literal: AddressLiteral | null;
  /** Source-route domains that were dropped (RFC 5321 C.6); empty when there was none. */
  route: string[];
  /** The local part or the domain held non-ASCII characters. */
  utf8: boolean;
  /** Canonical `local@domain`, the local part re-quoted only when it must be. */
  address: string;
}

export type SmtpPath =
  | { kind: "null" }
  | { kind: "postmaster" }
  | { kind: "mailbox"; mailbox: Mailbox };

export interface PathError {
  kind: "error";
  reason: "syntax" | "too-long" | "utf8";
  detail: string;
}

export interface PathOptions {
  /** Allow non-ASCII in the local part and domain (SMTPUTF8 transaction). Default false. */
  utf8?: boolean;
}

const encoder = new TextEncoder();
const octets = (text: string) => encoder.encode(text).length;

const DOT_STRING = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+(\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+)*$/;
const DOT_STRING_UTF8 =
  /^(?:[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]|[\u0080-\u{10ffff}])+(?:\.(?:[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]|[\u0080-\u{10ffff}])+)*$/u;
const LDH_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const NON_ASCII = /[\u0080-\uffff]/;
// C0/C1 controls, spaces and the characters that cannot appear in any domain form.
const BAD_IN_UNICODE_DOMAIN =
  // deno-lint-ignore no-control-regex
  /[\x00-\x2c\x2f\x3a-\x40\x5b-\x60\x7b-\x9f\u00a0\u2028\u2029\ufeff\ufffd]/;

function error(reason: PathError["reason"], detail: string): PathError {
  return { kind: "error", reason, detail };
}

/**
 * Parses a reverse- or forward-path including its angle brackets. `<>` and `<Postmaster>` come
 * back as their own kinds; the caller decides where each is allowed.
 *
 * @example
 * parsePath("<@relay.example:Joe@Example.COM.>")
 * // { kind: "mailbox", mailbox: { localPart: "Joe", domain: "example.com", route: ["relay.example"], ... } }
 */
export function parsePath(text: string, options: PathOptions = {}): SmtpPath | PathError {
  const utf8 = options.utf8 ?? false;
  if (octets(text) > MAX_PATH) return error("too-long", "path too long");
  if (text.length < 2 || text[0] !== "<" || text[text.length - 1] !== ">") {
    return error("syntax", "path must be enclosed in <>");
  }
  const inner = text.slice(1, -1);
  if (inner === "") return { kind: "null" };
  if (inner.toLowerCase() === "postmaster") return { kind: "postmaster" };

  let rest = inner;
  const route: string[] = [];
  if (rest.startsWith("@")) {
    const colon = rest.indexOf(":");
    if (colon < 0) return error("syntax", "source route without ':'");
    for (const hop of rest.slice(0, colon).split(",")) {
      if (!hop.startsWith("@")) return error("syntax", "bad source route");
      const domain = parseDomain(hop.slice(1), utf8);
      if ("kind" in domain) return domain;
      route.push(domain.ascii);
    }
    rest = rest.slice(colon + 1);
  }
  const mailbox = parseMailbox(rest, utf8);
  if (mailbox.kind === "error") return mailbox;
  mailbox.mailbox.route = route;
  return mailbox;
}

/**
 * Parses a bare `local@domain` (no brackets, no route), the form inside a path, in
 * `MAIL FROM:user@example.com` from sloppy clients, and in AUTH=/ORCPT values.
 */
export function parseMailbox(
  text: string,
  utf8: boolean,
): { kind: "mailbox"; mailbox: Mailbox } | PathError {
  if (!utf8 && NON_ASCII.test(text)) {
    return error("utf8", "non-ASCII address without SMTPUTF8");
  }
  let localPart: string;
  let localWritten: string;
  let quoted = false;
  let index: number;
  if (text.startsWith('"')) {
    quoted = true;
    localPart = "";
    index = 1;
    for (;;) {
      if (index >= text.length) return error("syntax", "unterminated quoted string");
      const c = text[index];
      if (c === '"') break;
      if (c === "\\") {
        const next = text[index + 1];
        if (next === undefined || !isQtextOrSpace(next, utf8, true)) {
          return error("syntax", "bad quoted pair");
        }
        localPart += next;
        index += 2;
        continue;
      }
      if (!isQtextOrSpace(c, utf8, false)) return error("syntax", "bad character in quoted string");
      localPart += c;
      index += c.length;
    }
    index++;
    localWritten = text.slice(0, index);
    if (text[index] !== "@") return error("syntax", "missing @ after the local part");
    if (localPart === "") return error("syntax", "empty local part");
  } else {
    const at = text.lastIndexOf("@");
    if (at <= 0) return error("syntax", "missing local part or @");
    localPart = text.slice(0, at);
    localWritten = localPart;
    index = at;
    if (!(utf8 ? DOT_STRING_UTF8 : DOT_STRING).test(localPart)) {
      return error("syntax", "bad local part");
    }
  }
  if (octets(localWritten) > MAX_LOCAL_PART) return error("too-long", "local part too long");
  const domainText = text.slice(index + 1);
  let domain: string;
  let domainUnicode: string;
  let literal: AddressLiteral | null = null;
  if (domainText.startsWith("[")) {
    const parsed = parseAddressLiteral(domainText);
    if ("kind" in parsed) return parsed;
    literal = parsed;
    domain = domainUnicode = parsed.family === 4
      ? `[${parsed.address}]`
      : `[IPv6:${parsed.address}]`;
  } else {
    const parsed = parseDomain(domainText, utf8);
    if ("kind" in parsed) return parsed;
    domain = parsed.ascii;
    domainUnicode = parsed.unicode;
  }
  const canonicalLocal = DOT_STRING_UTF8.test(localPart) ? localPart : quoteLocalPart(localPart);
  return {
    kind: "mailbox",
    mailbox: {
      localPart,
      quoted,
      domain,
      domainUnicode,
      literal,
      route: [],
      utf8: NON_ASCII.test(localPart) || NON_ASCII.test(domainText),
      address: `${canonicalLocal}@${domain}`,
    },
  };
}

function isQtextOrSpace(c: string, utf8: boolean, inPair: boolean): boolean {
  const code = c.codePointAt(0)!;
  if (code >= 0x80) return utf8;
  // RFC 5321 4.1.2: qtextSMTP = %d32-33 / %d35-91 / %d93-126; quoted-pairSMTP = "\" %d32-126
  if (inPair) return code >= 32 && code <= 126;
  return code >= 32 && code <= 126 && code !== 34 && code !== 92;
}

function quoteLocalPart(local: string): string {
  return `"${local.replace(/(["\\])/g, "\\$1")}"`;
}

/** Validates a domain name (LDH labels, U-labels with `utf8`); one trailing dot is dropped. */
export function parseDomain(
  text: string,
  utf8: boolean,
): { ascii: string; unicode: string } | PathError {
  let name = text.endsWith(".") ? text.slice(0, -1) : text;
  if (name === "") return error("syntax", "empty domain");
  if (NON_ASCII.test(name)) {
    if (!utf8) return error("utf8", "non-ASCII domain without SMTPUTF8");
    if (BAD_IN_UNICODE_DOMAIN.test(name)) return error("syntax", "bad character in domain");
    name = domainToASCII(name);
    if (name === "" || NON_ASCII.test(name)) {
      return error("syntax", "invalid internationalized domain");
    }
  } else {
    name = name.toLowerCase();
  }
  if (octets(name) > MAX_DOMAIN) return error("too-long", "domain too long");
  for (const label of name.split(".")) {
    if (!LDH_LABEL.test(label)) return error("syntax", "bad domain name");
  }
  if (name.split(".").some((label) => label.startsWith("xn--"))) {
    // A-labels must decode; domainToASCII returns "" for invalid punycode.
    if (domainToASCII(name) !== name) return error("syntax", "invalid A-label");
  }
  const unicode = domainToUnicode(name) || name;
  return { ascii: name, unicode };
}

/** `[1.2.3.4]` or `[IPv6:...]` (RFC 5321 4.1.3); general address literals are refused. */
export function parseAddressLiteral(text: string): AddressLiteral | PathError {
  if (!text.startsWith("[") || !text.endsWith("]")) return error("syntax", "bad address literal");
  const inner = text.slice(1, -1);
  if (isIPv4(inner)) return { family: 4, address: inner };
  if (/^ipv6:/i.test(inner)) {
    const address = inner.slice(5);
    if (isIPv6(address)) return { family: 6, address: address.toLowerCase() };
  }
  return error("syntax", "bad address literal");
}

function isIPv4(text: string): boolean {
  const parts = text.split(".");
  return parts.length === 4 && parts.every((p) => /^[0-9]{1,3}$/.test(p) && Number(p) <= 255);
}

function isIPv6(text: string): boolean {
  let head = text;
  let v4Groups = 0;
  const lastColon = text.lastIndexOf(":");
  if (text.includes(".")) {
    if (lastColon < 0 || !isIPv4(text.slice(lastColon + 1))) return false;
    // Keep the colon so "::1.2.3.4" leaves "::" behind.
    head = text.slice(0, lastColon + 1);
    if (head.endsWith("::")) head = head.slice(0, -1) + ":";
    else head = head.slice(0, -1);
    v4Groups = 2;
  }
  const max = 8 - v4Groups;
  const hex = /^[0-9A-Fa-f]{1,4}$/;
  const halves = head.split("::");
  if (halves.length > 2) return false;
  const groups = (part: string) => (part === "" ? [] : part.split(":"));
  if (halves.length === 1) {
    const all = groups(halves[0]);
    return all.length === max && all.every((g) => hex.test(g));
  }
  const left = groups(halves[0]);
  const right = groups(halves[1]);
  // "::" stands for at least two groups (RFC 5321 4.1.3: IPv6-comp has at most 6 explicit).
  return left.length + right.length <= max - 2 &&
    [...left, ...right].every((g) => hex.test(g));
}

export type RelayRisk = "percent" | "bang" | "at-sign" | "source-route";

/**
 * Why a recipient could be a relay trick: `user%remote@local` (percent hack), `remote!user@local`
 * (UUCP bang path), `"user@remote"@local` (an @ in the local part, quoted or escaped) and
 * `<@local:user@remote>` (source route). Empty when none; the session refuses the rest.
 *
 * @example
 * relayRisk(mailbox) // ["percent"] for user%remote@example.com
 */
export function relayRisk(mailbox: Mailbox): RelayRisk[] {
  const risks: RelayRisk[] = [];
  if (mailbox.localPart.includes("%")) risks.push("percent");
  if (mailbox.localPart.includes("!")) risks.push("bang");
  if (mailbox.localPart.includes("@")) risks.push("at-sign");
  if (mailbox.route.length > 0) risks.push("source-route");
  return risks;
}
