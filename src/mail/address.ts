/**
 * Address lists (RFC 5322 3.4) read leniently: groups, comments, quoted names, routes, missing
 * angle brackets and plain garbage all give a best-effort list; nothing throws.
 *
 * Implementation notes:
 * - A display name is the phrase before "<", unquoted, then RFC 2047-decoded; with no phrase, a
 *   comment next to the address serves as the name (as RFC 8621 4.1.2.3 allows).
 * - Without angle brackets, the whitespace-free run around "@" is the address and the other
 *   words are the name ("John john@example.com"). A lone unquoted word without "@" is a local
 *   address ("postmaster"); anything else without "@" is a name with an empty address.
 */
import { decodeEncodedWords } from "./encoded_words.ts";

export interface EmailAddress {
  name: string | null;
  email: string;
}

export interface AddressGroup {
  name: string;
  addresses: EmailAddress[];
}

type TokenType = "atom" | "quoted" | "comment" | "literal" | "special";

interface Token {
  type: TokenType;
  text: string;
  /** Whitespace (or a comment) came before this token. */
  spaced: boolean;
}

const SPECIALS = "<>,:;@";
const STOP = '()<>,:;@"[] \t\r\n';

function tokenize(value: string): Token[] {
  const tokens: Token[] = [];
  let spaced = false;
  let i = 0;
  const n = value.length;
  while (i < n) {
    const c = value[i];
    if (c === " " || c === "\t" || c === "\r" || c === "\n") {
      spaced = true;
      i++;
    } else if (c === '"') {
      let text = "";
      i++;
      while (i < n && value[i] !== '"') {
        if (value[i] === "\\" && i + 1 < n) i++;
        if (value[i] !== "\r" && value[i] !== "\n") text += value[i];
        i++;
      }
      i++;
      tokens.push({ type: "quoted", text, spaced });
      spaced = false;
    } else if (c === "(") {
      let depth = 1;
      let text = "";
      i++;
      while (i < n && depth > 0) {
        const d = value[i];
        if (d === "\\" && i + 1 < n) {
          text += value[i + 1];
          i += 2;
          continue;
        }
        if (d === "(") depth++;
        else if (d === ")") depth--;
        if (depth > 0) text += d;
        i++;
      }
      tokens.push({ type: "comment", text, spaced });
      spaced = true;
    } else if (c === "[") {
      const close = value.indexOf("]", i);
      const stop = close < 0 ? n : close + 1;
      tokens.push({ type: "literal", text: value.slice(i, stop), spaced });
      spaced = false;
      i = stop;
    } else if (SPECIALS.includes(c)) {
      tokens.push({ type: "special", text: c, spaced });
      spaced = false;
      i++;
    } else {
      const start = i;
      while (i < n && !STOP.includes(value[i])) i++;
      if (i === start) i++; // a stray ")" or "]"
      tokens.push({ type: "atom", text: value.slice(start, i), spaced });
      spaced = false;
    }
  }
  return tokens;
}

function phrase(tokens: Token[]): string | null {
  let text = "";
  for (const t of tokens) {
    if (t.type === "comment") continue;
    if (text && t.spaced) text += " ";
    text += t.text;
  }
  const decoded = decodeEncodedWords(text).replace(/\s+/g, " ").trim();
  return decoded || null;
}

function commentName(tokens: Token[]): string | null {
  for (const t of tokens) {
    if (t.type === "comment") {
      const name = decodeEncodedWords(t.text).replace(/\s+/g, " ").trim();
      if (name) return name;
    }
  }
  return null;
}

function addrText(tokens: Token[]): string {
  let text = "";
  for (const t of tokens) {
    if (t.type === "comment") continue;
    if (t.type === "quoted") {
      text += /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]+$/.test(t.text) ? t.text : `"${t.text}"`;
    } else text += t.text;
  }
  return text;
}

function angleAddress(tokens: Token[]): string {
  // An obsolete route ("@a,@b:user@host") ends at the last colon.
  let from = 0;
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i].type === "special" && tokens[i].text === ":") from = i + 1;
  }
  return addrText(tokens.slice(from).filter((t) => !(t.type === "special" && t.text === ",")));
}

function mailbox(tokens: Token[], angle: Token[] | null): EmailAddress | null {
  if (angle !== null) {
    const email = angleAddress(angle);
    const name = phrase(tokens) ?? commentName(tokens) ?? commentName(angle);
    return email || name ? { name, email } : null;
  }
  const words = tokens.filter((t) => t.type !== "comment");
  if (words.length === 0) return null;
  const at = words.findIndex((t) => t.type === "special" && t.text === "@");
  if (at < 0) {
    const oneWord = words.every((t, i) => i === 0 || !t.spaced);
    if (oneWord && !words.some((t) => t.type === "quoted")) {
      return { name: commentName(tokens), email: addrText(words) };
    }
    return { name: phrase(words), email: "" };
  }
  let first = at;
  while (first > 0 && !words[first].spaced) first--;
  let last = at;
  while (last + 1 < words.length && !words[last + 1].spaced) last++;
  const email = addrText(words.slice(first, last + 1));
  const rest = [...words.slice(0, first), ...words.slice(last + 1)];
  return { name: phrase(rest) ?? commentName(tokens), email };
}

/**
 * Addresses and groups in order, as IMAP ENVELOPE needs them.
 *
 * @example
 * parseGroupedAddresses("team: a@x, b@x;, c@x");
 * // [{ name: "team", addresses: [{ name: null, email: "a@x" }, ...] }, { name: null, email: "c@x" }]
 */
export function parseGroupedAddresses(value: string): (EmailAddress | AddressGroup)[] {
  const result: (EmailAddress | AddressGroup)[] = [];
  let group: AddressGroup | null = null;
  let current: Token[] = [];
  let angle: Token[] | null = null;
  let inAngle = false;
  const flush = () => {
    const m = mailbox(current, angle);
    if (m) (group ? group.addresses : result).push(m);
    current = [];
    angle = null;
  };
  for (const t of tokenize(value)) {
    if (inAngle) {
      if (t.type === "special" && t.text === ">") inAngle = false;
      else angle?.push(t);
      continue;
    }
    if (t.type !== "special") {
      current.push(t);
      continue;
    }
    switch (t.text) {
      case "<":
        if (angle === null) {
          angle = [];
          inAngle = true;
        }
        break;
      case ",":
        flush();
        break;
      case ":":
        if (group === null && angle === null && !current.some((c) => c.text === "@")) {
          group = { name: phrase(current) ?? "", addresses: [] };
          current = [];
        } else current.push(t);
        break;
      case ";":
        flush();
        if (group) result.push(group);
        group = null;
        break;
      case ">":
        break;
      default:
        current.push(t);
    }
  }
  flush();
  if (group) result.push(group);
  return result;
}

/**
 * A flat address list with groups expanded (JMAP `asAddresses`).
 *
 * @example
 * parseAddressList('"Doe, John" <john@example.com>, =?utf-8?q?J=C3=BCrgen?= <j@x.de>');
 * // [{ name: "Doe, John", email: "john@example.com" }, { name: "Jürgen", email: "j@x.de" }]
 */
export function parseAddressList(value: string): EmailAddress[] {
  const out: EmailAddress[] = [];
  for (const item of parseGroupedAddresses(value)) {
    if ("addresses" in item) out.push(...item.addresses);
    else out.push(item);
  }
  return out;
}
