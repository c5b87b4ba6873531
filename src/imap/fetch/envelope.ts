/**
 * The ENVELOPE of a message (RFC 9051 7.5.2, RFC 3501 7.4.2), byte for byte as Dovecot 2.3
 * writes it.
 *
 * Implementation notes:
 * - Values are the raw header bytes, never decoded: encoded-words and 8-bit text go out as
 *   written (8-bit text as a literal). Subjects and display names go through humanString.
 * - Date, Subject, In-Reply-To and Message-ID: the last occurrence counts; From, Sender,
 *   Reply-To, To, Cc and Bcc: the address lists of all occurrences are joined (as Dovecot).
 *   Sender and Reply-To default to From (RFC 9051 7.5.2).
 * - Addresses are read like Dovecot's message_address_parse: a missing local part or domain is
 *   "MISSING_MAILBOX" / "MISSING_DOMAIN", a broken `<...>` after a display name has the domain
 *   "SYNTAX_ERROR"; a group is (NIL NIL "name" NIL) ... (NIL NIL NIL NIL);
 *   a comment names an address without a display name; the list stops at the first byte that
 *   is not a "," after an address (the addresses before it are kept).
 */
import type { MimePart } from "../../mail/mime.ts";
import { rawFields } from "./content.ts";
import { fromByteString, humanString, nstringNoLf } from "./imap_string.ts";
import { isAtext, Rfc822Cursor, type Str } from "./rfc822_parser.ts";

export interface EnvelopeAddress {
  name: string | null;
  route: string | null;
  mailbox: string | null;
  domain: string | null;
}

const ADDRESS_FIELDS = ["from", "sender", "reply-to", "to", "cc", "bcc"] as const;
const TEXT_FIELDS = ["date", "subject", "in-reply-to", "message-id"] as const;

class AddressParser {
  readonly addresses: EnvelopeAddress[] = [];
  private addr: EnvelopeAddress = { name: null, route: null, mailbox: null, domain: null };
  private readonly c: Rfc822Cursor;

  constructor(value: string) {
    this.c = new Rfc822Cursor(value);
  }

  private add(): void {
    this.addresses.push(this.addr);
    this.addr = { name: null, route: null, mailbox: null, domain: null };
  }

  parse(): void {
    const c = this.c;
    if (c.skipLwsp() <= 0) return;
    for (;;) {
      if (this.address() === 0) break;
      if (c.cur() !== ",") break;
      c.pos++;
      if (c.skipLwsp() <= 0) break;
    }
  }

  private address(): number {
    const start = this.c.pos;
    const ret = this.group();
    if (ret >= 0) return ret;
    this.c.pos = start;
    return this.mailbox();
  }

  /** -1 when this is not a group; else 0 at the end of input, 1 with more. */
  private group(): number {
    const c = this.c;
    const name: Str = { s: "" };
    if (c.phrase(name) <= 0 || c.cur() !== ":") return -1;
    c.pos++;
    let ret = c.skipLwsp();
    this.addr.mailbox = name.s;
    this.add();
    if (ret > 0 && c.cur() !== ";") {
      // Like the list: a broken member does not end the group while a "," follows.
      for (;;) {
        ret = this.mailbox();
        if (ret === 0) break;
        if (c.cur() !== ",") break;
        c.pos++;
        if (c.skipLwsp() <= 0) {
          ret = -1;
          break;
        }
      }
    }
    if (ret >= 0) {
      if (c.cur() !== ";") ret = -1;
      else {
        c.pos++;
        ret = c.skipLwsp();
      }
    }
    this.add();
    return ret === 0 ? 0 : 1;
  }

  private mailbox(): number {
    const c = this.c;
    const start = c.pos;
    c.lastComment = "";
    let ret = this.nameAddr();
    if (ret < 0) {
      c.pos = start;
      ret = this.addrSpec();
    }
    if (!this.addr.mailbox) this.addr.mailbox = "MISSING_MAILBOX";
    if (!this.addr.domain) this.addr.domain = "MISSING_DOMAIN";
    this.add();
    return ret;
  }

  private nameAddr(): number {
    const c = this.c;
    const name: Str = { s: "" };
    if (c.phrase(name) <= 0 || c.cur() !== "<") return -1;
    this.addr.name = name.s === "" ? null : name.s;
    if (this.angleAddr() < 0) {
      // Broken inside the brackets: Dovecot keeps the address and marks its domain.
      this.addr.domain = "SYNTAX_ERROR";
    }
    return c.atEnd ? 0 : 1;
  }

  private angleAddr(): number {
    const c = this.c;
    c.pos++;
    if (c.skipLwsp() <= 0) return -1;
    if (c.cur() === "@") {
      if (this.domainList() > 0 && c.cur() === ":") c.pos++;
      else {
        this.addr.route = "INVALID_ROUTE";
        if (c.atEnd) return -1;
      }
      if (c.skipLwsp() <= 0) return -1;
    }
    if (c.cur() !== ">") {
      if (this.addrSpec(true) < 0) return -1;
      if (c.cur() !== ">") return -1;
    }
    c.pos++;
    return c.skipLwsp();
  }

  private domainList(): number {
    const c = this.c;
    const route: Str = { s: "" };
    for (;;) {
      if (c.atEnd) return 0;
      if (c.cur() !== "@") break;
      if (route.s !== "") route.s += ",";
      route.s += "@";
      const ret = c.domain(route);
      if (ret <= 0) return ret;
      while (c.cur() === ",") {
        c.pos++;
        if (c.skipLwsp() <= 0) break;
      }
    }
    this.addr.route = route.s;
    return 1;
  }

  /**
   * An unquoted local part as Dovecot takes it: atoms and dots in any order ("..a", "a.b.",
   * "."), except that one ending in a dot must be followed by "@" or the end.
   */
  private localPart(out: Str): number {
    const c = this.c;
    let run = "";
    for (;;) {
      const start = c.pos;
      while (!c.atEnd && isAtext(c.cur())) c.pos++;
      run += c.text.slice(start, c.pos);
      // Blanks and comments may come before a dot ("a .b"), not after a last one.
      const beforeBlanks = c.pos;
      const comment = c.lastComment;
      c.skipLwsp();
      if (c.cur() !== ".") {
        c.pos = beforeBlanks;
        c.lastComment = comment;
        break;
      }
      run += ".";
      c.pos++;
    }
    // A failed local part leaves the cursor after it; its text may still start a display name.
    out.s += run;
    if (run === "" || (run.endsWith(".") && !c.atEnd && c.cur() !== "@")) return -1;
    return c.skipLwsp();
  }

  /** local-part "@" domain; outside angle brackets a comment may name the address. */
  private addrSpec(inAngle = false): number {
    const c = this.c;
    c.lastComment = "";
    const quoted = c.cur() === '"';
    const local: Str = { s: "" };
    let ret = quoted ? c.quotedString(local) : this.localPart(local);
    if (ret >= 0) this.addr.mailbox = local.s;
    let domainRet = -2;
    if (ret !== 0 && c.cur() === "@") {
      const domain: Str = { s: "" };
      domainRet = c.domain(domain);
      if (domainRet >= 0) this.addr.domain = domain.s;
      if (domainRet <= 0) ret = domainRet;
    }
    if (c.lastComment !== "") {
      if (!inAngle) this.addr.name = c.lastComment;
    } else if (domainRet === -2 && inAngle) {
      // "<user>": a local address, if ">" follows (the caller checks).
      if (!quoted) this.addr.domain = "";
    } else if (domainRet === -2) {
      // "user" alone is a local address; "some words" or a quoted "word" are a display name.
      const words: Str = { s: "" };
      c.phrase(words);
      if (words.s !== "" || (quoted && ret >= 0)) {
        this.addr.mailbox = null;
        this.addr.name = words.s === "" ? local.s : `${local.s} ${words.s}`;
      } else if (!quoted) {
        this.addr.domain = "";
      }
      ret = -1;
    }
    return ret;
  }
}

/** Addresses of one header value as ENVELOPE lists them (groups as start/end markers). */
export function parseEnvelopeAddresses(value: string): EnvelopeAddress[] {
  const parser = new AddressParser(value);
  parser.parse();
  return parser.addresses;
}

function addressList(addresses: EnvelopeAddress[] | null): string {
  if (addresses === null || addresses.length === 0) return "NIL";
  return `(${
    addresses.map((a) =>
      `(${humanString(a.name)} ${nstringNoLf(a.route)} ${nstringNoLf(a.mailbox)} ${
        nstringNoLf(a.domain)
      })`
    ).join("")
  })`;
}

/** The envelope as a byte string (see imap_string.ts). */
export function envelopeString(raw: Uint8Array, part: MimePart): string {
  const text: Record<string, string | null> = {};
  const addresses: Record<string, EnvelopeAddress[] | null> = {};
  for (const { name, value } of rawFields(raw, part.headerStart, part.headerEnd)) {
    if ((TEXT_FIELDS as readonly string[]).includes(name)) text[name] = value;
    else if ((ADDRESS_FIELDS as readonly string[]).includes(name)) {
      const list = addresses[name] ??= [];
      for (const address of parseEnvelopeAddresses(value)) list.push(address);
    }
  }
  const from = addresses["from"] ?? null;
  const list = (name: string) => addressList(addresses[name] ?? null);
  return [
    nstringNoLf(text["date"] ?? null),
    humanString(text["subject"] ?? null),
    addressList(from),
    addresses["sender"]?.length ? list("sender") : addressList(from),
    addresses["reply-to"]?.length ? list("reply-to") : addressList(from),
    list("to"),
    list("cc"),
    list("bcc"),
    nstringNoLf(text["in-reply-to"] ?? null),
    nstringNoLf(text["message-id"] ?? null),
  ].join(" ");
}

/**
 * The ENVELOPE value (the parenthesised list) of a message or of the message a
 * message/rfc822 part encapsulates (pass `part.message`), as bytes ready for the wire.
 *
 * @example
 * envelope(raw, parseMime(raw, limits)); // bytes of ("date" "subject" (("Alice" NIL ...)) ...)
 */
export function envelope(raw: Uint8Array, part: MimePart): Uint8Array {
  return fromByteString(`(${envelopeString(raw, part)})`);
}
