/**
 * The classifier's features: a message's analysed facts turned into a set of distinct token
 * hashes, which bayes.ts weighs and the store counts.
 *
 * Implementation notes:
 * - A token is a short string; what is stored is its 52-bit hash (tokenHash), an integer that
 *   SQLite keeps exactly and a JavaScript number holds without loss. Two 32-bit hashes over the
 *   UTF-16 code units (FNV-1a and a multiply-xorshift one, each finished with murmur3's fmix32)
 *   give the low 32 and the high 20 bits. Changing the hash or a token's spelling orphans every
 *   trained count: treat both as a storage format.
 * - Header tokens carry the field's name ("subject:free", "from:domain:example.com") so the same
 *   word means different things in different places; body words carry none. Body words are
 *   lower-cased and NFKC-normalised, stripped of surrounding punctuation except "!", "$" and
 *   "%", and kept at 3..40 characters; a longer one becomes "skip:<first char> <length rounded
 *   down to 10>" as SpamBayes does. Each pair of neighbouring kept words is a bigram token too.
 * - Header fields give tokens only through what they say: addresses, subject words, the
 *   Message-ID domain, mailer and list ids. Left out on purpose: field names ("has a
 *   List-Unsubscribe field"), Delivered-To, Return-Path, Date, the "for <address>" part of
 *   Received and filters' X-Spam-* fields. Names are a property of the collection more than of
 *   the mail: in the SpamAssassin corpus list fields marked nearly all ham, so spam sent
 *   through a list slipped by (five-fold cross-validation on the train part: 95 spam missed
 *   with name tokens, 86 without, false positives equal). Delivered-To and "for" say where a
 *   copy was stored; in the corpus they even differ by collection ("yyyy" and "zzzz" were the
 *   owner's address in different years), so they would teach the classifier the corpus.
 *   Received is read only for the sending side ("from" host, its site, the address's /24 and
 *   /16) of the first RECEIVED_HOPS fields: every relay the message passed, the ones that
 *   handed it to us and, further down, the sender's own (forgeable, but a spammer's relays and
 *   a list's servers recur). In the corpus the topmost hops are the collector's own machines,
 *   the same for ham and spam, so they weigh nothing; reading down to the origin and adding the
 *   /16, as SpamBayes mines Received, took cross-validated misses from 82 to 76 (false
 *   positives 4, as with the top four hops only).
 * - HTML gives a few tag tokens (HINT_TAGS: font, img, form, script, iframe, center), no
 *   attributes: tokens for every tag and attribute are strongly correlated with each other
 *   (table width, td width, ...) and made commercial newsletters look like spam
 *   (cross-validation: 12 false positives at p >= 0.9 with all, 7 with these).
 * - gramTokens is a second feature family for the 4-gram logistic model (logistic.ts): every
 *   character 4-gram of the message's first GRAM_CHARS characters, header fields first (as
 *   "name: value" lines, in order, without the fields that differ between the copy scored and
 *   the copy later learnt: X-Spam-*, Return-Path, Delivered-To) and then the body text, hashed
 *   into GRAM_BUCKETS buckets so one model never holds more rows than that. 2,000 characters
 *   were chosen by cross-validation among 1,500..5,000.
 * - At most MAX_TOKENS distinct tokens: header, link, MIME and HTML tokens first (few and
 *   telling), then body words and bigrams in reading order until the cap. Cheap by design:
 *   one pass over the text with a hand-written splitter, NFKC only for non-ASCII text.
 */
import type { MimePart } from "../mail/mime.ts";
import type { EmailAddress } from "../mail/address.ts";
import type { MessageFacts } from "./types.ts";

/** The most distinct tokens one message yields. */
export const MAX_TOKENS = 3000;
const MIN_WORD = 3;
const MAX_WORD = 40;
/** Received fields read from the top: every hop of ordinary mail, not a forged pile of them. */
const RECEIVED_HOPS = 20;
const MAX_HTML_TAGS = 2000;
const MAX_LINKS = 100;
const MAX_PARTS = 100;
const MAX_TEXT = 200_000;
const MAX_HEADER_VALUE = 80;

/** How much of a message its 4-grams are taken from, and how many buckets they hash into. */
export const GRAM_CHARS = 2000;
export const GRAM_BUCKETS = 1 << 20;
const GRAM_SIZE = 4;
/** Header fields left out of the 4-gram text: they differ between scoring and learning. */
const GRAM_SKIPPED_FIELDS = new Set(["return-path", "delivered-to"]);

const TWO_POW_32 = 4294967296;

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The 52-bit hash of a token's text, a non-negative integer below 2^52.
 *
 * @example
 * tokenHash("subject:free") === tokenHash("subject:free"); // true
 */
export function tokenHash(text: string): number {
  let a = 0x811c9dc5;
  let b = 0x3c6ef372;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 13;
  }
  return (fmix32(b ^ text.length) & 0xfffff) * TWO_POW_32 + fmix32(a);
}

class TokenSet {
  readonly hashes = new Set<number>();
  add(text: string): boolean {
    if (this.hashes.size >= MAX_TOKENS) return false;
    this.hashes.add(tokenHash(text));
    return true;
  }
  get full(): boolean {
    return this.hashes.size >= MAX_TOKENS;
  }
}

/**
 * The distinct token hashes of a message (at most MAX_TOKENS), in no particular order.
 *
 * @example
 * const tokens = tokenize(analyzeMessage(raw, mime, envelope, "mx.example.com"));
 * tokens.length <= MAX_TOKENS; // true
 */
export function tokenize(facts: MessageFacts): number[] {
  const out = new TokenSet();
  headerTokens(facts, out);
  addressTokens("from", facts.from, out);
  if (facts.from.length === 0) out.add("from:none");
  if (facts.replyTo.length > 0) {
    addressTokens("reply-to", facts.replyTo, out);
    const fromDomain = domainOf(facts.from[0]?.email ?? "");
    const replyDomain = domainOf(facts.replyTo[0].email);
    out.add(replyDomain === fromDomain ? "reply-to:same-domain" : "reply-to:other-domain");
  }
  out.add(`to:count:${bucket(facts.to.length)}`);
  for (const word of words(facts.subject, MAX_TEXT)) out.add(`subject:${word}`);
  out.add(`auth:spf:${facts.auth.spf}`);
  out.add(`auth:dmarc:${facts.auth.dmarc}`);
  for (const dkim of facts.auth.dkim.slice(0, 4)) {
    out.add(`auth:dkim:${dkim.result}`);
    if (dkim.result === "pass") out.add(`auth:dkim:pass:${dkim.domain.toLowerCase()}`);
  }
  mimeTokens(facts.mime, out);
  attachmentTokens(facts, out);
  linkTokens(facts, out);
  if (facts.html !== "") htmlTokens(facts.html, out);
  bodyTokens(facts.text, out);
  return [...out.hashes];
}

/**
 * The distinct 4-gram buckets (0..GRAM_BUCKETS-1) of the message's first GRAM_CHARS characters:
 * its header fields, then its text.
 *
 * @example
 * gramTokens(facts).every((g) => g < GRAM_BUCKETS); // true
 */
export function gramTokens(facts: MessageFacts): number[] {
  let text = "";
  for (const { name, value } of facts.headers) {
    if (GRAM_SKIPPED_FIELDS.has(name) || name.startsWith("x-spam-")) continue;
    text += `${name}: ${value}\n`;
    if (text.length >= GRAM_CHARS) break;
  }
  if (text.length < GRAM_CHARS) text += "\n" + facts.text.slice(0, GRAM_CHARS);
  text = text.slice(0, GRAM_CHARS);
  const grams = new Set<number>();
  for (let i = 0; i + GRAM_SIZE <= text.length; i++) {
    grams.add(tokenHash(text.slice(i, i + GRAM_SIZE)) % GRAM_BUCKETS);
  }
  return [...grams];
}

function headerTokens(facts: MessageFacts, out: TokenSet): void {
  let received = 0;
  let messageId = false;
  for (const { name, value } of facts.headers) {
    switch (name) {
      case "received":
        if (++received <= RECEIVED_HOPS) receivedTokens(value, out);
        break;
      case "message-id": {
        messageId = true;
        const at = value.lastIndexOf("@");
        const domain = at < 0 ? "" : value.slice(at + 1).replace(/[>\s].*$/s, "").toLowerCase();
        out.add(`message-id:domain:${domain === "" ? "none" : domain}`);
        break;
      }
      case "x-mailer":
      case "user-agent":
      case "x-mimeole":
      case "precedence":
      case "importance":
      case "x-priority":
      case "x-msmail-priority":
        out.add(`${name}:${value.trim().toLowerCase().slice(0, MAX_HEADER_VALUE)}`);
        break;
      case "list-id": {
        const open = value.lastIndexOf("<");
        const close = value.indexOf(">", open);
        const id = open < 0 ? value : value.slice(open + 1, close < 0 ? undefined : close);
        out.add(`list-id:${id.trim().toLowerCase().slice(0, MAX_HEADER_VALUE)}`);
        break;
      }
    }
  }
  out.add(`received:count:${bucket(received)}`);
  if (!messageId) out.add("message-id:domain:none");
}

const HOST_RE = /(?:[a-z0-9](?:[a-z0-9-]{0,62})\.)+[a-z]{2,24}/g;
const IP_RE = /\b(\d{1,3}\.\d{1,3}\.\d{1,3})\.\d{1,3}\b/g;

/**
 * The sending side of one Received field: "from HELO (rdns [ip])", before " by ": its hosts'
 * sites and its addresses' /24 and /16.
 */
function receivedTokens(value: string, out: TokenSet): void {
  const lower = value.toLowerCase();
  if (!lower.startsWith("from")) return;
  const by = lower.search(/\sby\s/);
  const from = (by < 0 ? lower : lower.slice(0, by)).slice(0, 300);
  for (const match of from.matchAll(HOST_RE)) out.add(`received:${siteOf(match[0])}`);
  for (const match of from.matchAll(IP_RE)) {
    out.add(`received:ip:${match[1]}`);
    out.add(`received:ip:${match[1].slice(0, match[1].lastIndexOf("."))}`);
  }
}

function addressTokens(field: string, addresses: EmailAddress[], out: TokenSet): void {
  for (const address of addresses.slice(0, 3)) {
    const email = address.email.toLowerCase();
    out.add(`${field}:addr:${email}`);
    const domain = domainOf(email);
    out.add(`${field}:domain:${domain}`);
    if (domain !== siteOf(domain)) out.add(`${field}:site:${siteOf(domain)}`);
    const name = address.name ?? "";
    if (name === "") out.add(`${field}:noname`);
    for (const word of words(name, 200)) out.add(`${field}:name:${word}`);
  }
}

function mimeTokens(root: MimePart, out: TokenSet): void {
  const stack: MimePart[] = [root];
  let parts = 0;
  while (stack.length > 0 && parts < MAX_PARTS) {
    const part = stack.pop()!;
    parts++;
    out.add(`part:${part.type}/${part.subtype}`);
    const charset = part.params.charset;
    if (charset !== undefined) out.add(`part:charset:${charset.toLowerCase().slice(0, 40)}`);
    if (part.encoding !== "7bit") out.add(`part:encoding:${part.encoding.slice(0, 40)}`);
    if (part.message !== null) stack.push(part.message);
    for (let i = part.parts.length - 1; i >= 0; i--) stack.push(part.parts[i]);
  }
  out.add(`part:top:${root.type}/${root.subtype}`);
  out.add(`part:count:${bucket(parts)}`);
}

function attachmentTokens(facts: MessageFacts, out: TokenSet): void {
  for (const attachment of facts.attachments.slice(0, 20)) {
    out.add(`attach:type:${attachment.type}`);
    const dot = attachment.name.lastIndexOf(".");
    if (dot >= 0 && attachment.name.length - dot <= 9) {
      out.add(`attach:ext:${attachment.name.slice(dot + 1).toLowerCase()}`);
    }
  }
  out.add(`attach:count:${bucket(facts.attachments.length)}`);
  out.add(`images:${bucket(facts.images)}`);
}

const PATH_SPLIT = /[/?=&.\-_+%#;:,~]+/;

function linkTokens(facts: MessageFacts, out: TokenSet): void {
  out.add(`url:count:${bucket(facts.links.length)}`);
  for (const link of facts.links.slice(0, MAX_LINKS)) {
    const host = link.host;
    if (host === "") {
      const colon = link.url.indexOf(":");
      out.add(`url:nohost:${colon > 0 ? link.url.slice(0, colon).toLowerCase() : ""}`);
      continue;
    }
    if (/^[\d.]+$/.test(host) || host.startsWith("[")) out.add("url:ip");
    else {
      out.add(`url:host:${host}`);
      out.add(`url:site:${siteOf(host)}`);
    }
    const scheme = /^([a-z][a-z0-9+.-]{0,15}):/i.exec(link.url);
    if (scheme) out.add(`url:scheme:${scheme[1].toLowerCase()}`);
    const hostAt = link.url.toLowerCase().indexOf(host);
    if (hostAt >= 0) {
      const path = link.url.slice(hostAt + host.length, hostAt + host.length + 200);
      for (const piece of path.toLowerCase().split(PATH_SPLIT)) {
        if (piece.length >= 2 && piece.length <= 20) out.add(`url:path:${piece}`);
      }
    }
    if (link.text !== "" && /https?:\/\/|www\./i.test(link.text)) {
      out.add(link.text.toLowerCase().includes(siteOf(host)) ? "url:text:same" : "url:text:other");
    }
  }
}

const TAG_RE = /<([a-zA-Z][a-zA-Z0-9]{0,15})[\s>/]/g;
/** The HTML tags worth a token; see the notes for why not every tag and attribute. */
const HINT_TAGS = new Set(["font", "img", "form", "script", "iframe", "center"]);

function htmlTokens(html: string, out: TokenSet): void {
  let tags = 0;
  for (const match of html.matchAll(TAG_RE)) {
    if (++tags > MAX_HTML_TAGS) break;
    const tag = match[1].toLowerCase();
    if (HINT_TAGS.has(tag)) out.add(`html:${tag}`);
  }
}

function bodyTokens(text: string, out: TokenSet): void {
  let previous = "";
  for (const word of words(text, MAX_TEXT)) {
    if (out.full) return;
    if (word.startsWith("skip:")) {
      out.add(word);
      previous = "";
      continue;
    }
    const at = word.indexOf("@");
    if (at > 0 && at < word.length - 1) {
      out.add(`email:domain:${word.slice(at + 1)}`);
      previous = "";
      continue;
    }
    out.add(word);
    if (previous !== "") out.add(`${previous} ${word}`);
    previous = word;
  }
}

/** Characters stripped from both ends of a word. */
const EDGE = new Set([..."\"'`()[]{}<>.,;:?*_=|/\\-~^#&+"].map((c) => c.charCodeAt(0)));

function isSpace(c: number): boolean {
  return c <= 32 || c === 0xa0 || c === 0x2028 || c === 0x2029 || c === 0x3000 ||
    (c >= 0x2000 && c <= 0x200b) || c === 0xfeff;
}

/**
 * The body words of `text` in order: lower-cased, NFKC, punctuation stripped at both ends,
 * 3..40 characters, longer ones as "skip:" tokens, URLs left out (links are tokens of their own).
 */
function* words(text: string, cap: number): Generator<string> {
  if (text.length > cap) text = text.slice(0, cap);
  // deno-lint-ignore no-control-regex
  if (/[^\u0000-\u007f]/.test(text)) text = text.normalize("NFKC");
  text = text.toLowerCase();
  const n = text.length;
  let i = 0;
  while (i < n) {
    while (i < n && isSpace(text.charCodeAt(i))) i++;
    let start = i;
    while (i < n && !isSpace(text.charCodeAt(i))) i++;
    let end = i;
    while (start < end && EDGE.has(text.charCodeAt(start))) start++;
    while (end > start && EDGE.has(text.charCodeAt(end - 1))) end--;
    const length = end - start;
    if (length < MIN_WORD) continue;
    const word = text.slice(start, end);
    if (word.includes("://") || word.startsWith("www.")) continue;
    if (length > MAX_WORD) yield `skip:${word[0]} ${Math.floor(length / 10) * 10}`;
    else yield word;
  }
}

function domainOf(email: string): string {
  const at = email.lastIndexOf("@");
  return at < 0 ? "" : email.slice(at + 1).toLowerCase();
}

/**
 * A host's site, near enough without a public-suffix list: the last two labels, or three when
 * the second-to-last is a short label under a country code ("example.co.uk").
 */
function siteOf(host: string): string {
  const labels = host.split(".");
  if (labels.length <= 2) return host;
  const tld = labels[labels.length - 1];
  const second = labels[labels.length - 2];
  const keep = tld.length === 2 && second.length <= 3 ? 3 : 2;
  return labels.slice(-keep).join(".");
}

/** Rough log buckets for counts: 0, 1, 2, then the next power of two (4 for 3-4, 8 for 5-8). */
function bucket(n: number): string {
  if (n <= 2) return String(n);
  return `${2 ** Math.ceil(Math.log2(n))}`;
}
