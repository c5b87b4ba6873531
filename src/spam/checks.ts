/**
 * The built-in checks a rule of kind "check" names: tests that a regex cannot express well
 * (header sanity, HELO, the Received chain, hidden HTML text, link and display-name tricks,
 * homographs, attachments). Each is a pure function of the message facts and its params.
 *
 * Implementation notes:
 * - A check returns false (no match), true (match) or a non-empty string (match, with a detail
 *   for the log such as the offending host). Checks never throw and read only capped facts.
 * - Params are declared with a type and a default; rules.ts rejects unknown params and wrong
 *   types when the rules are parsed, so `run` may trust its params.
 * - Registered domains are approximated (last two labels, three under a known second-level
 *   suffix such as co.uk): good enough to compare two hosts, not a public suffix list.
 * - Date checks compare with the current clock.
 */
import { registeredDomain } from "./domains.ts";
import { domainToUnicode } from "node:url";
import { bodyParts } from "../mail/text.ts";
import { parseDate } from "../mail/headers.ts";
import type { MessageFacts } from "./types.ts";

export type CheckParamValue = number | string | boolean | string[];
export type CheckParams = Record<string, CheckParamValue>;
/** false: no match; true or a non-empty detail string: match. */
export type CheckOutcome = boolean | string;

export interface CheckDefinition {
  description: string;
  /** Declared params with their defaults (the default's type is the param's type). */
  params: CheckParams;
  run(facts: MessageFacts, params: CheckParams): CheckOutcome;
}

// ---------------------------------------------------------------------------------------------
// Shared helpers

function headerValues(facts: MessageFacts, name: string): string[] {
  return facts.headers.filter((h) => h.name === name).map((h) => h.value);
}

function hasHeader(facts: MessageFacts, name: string): boolean {
  return facts.headers.some((h) => h.name === name);
}

function domainOfAddress(address: string): string {
  const at = address.lastIndexOf("@");
  return at < 0 ? "" : address.slice(at + 1).toLowerCase().replace(/\.+$/, "");
}

const IPV4 = /^(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

function isIpAddress(text: string): boolean {
  return IPV4.test(text) || (text.includes(":") && /^[0-9a-f:.]+$/i.test(text));
}

function strings(value: CheckParamValue): string[] {
  return Array.isArray(value) ? value : [];
}

// ---------------------------------------------------------------------------------------------
// Header sanity

function dateOf(facts: MessageFacts): Date | null {
  const value = headerValues(facts, "date")[0];
  return value === undefined ? null : parseDate(value);
}

/** When the message arrived (ms): the envelope's time, or now. */
function arrival(facts: MessageFacts): number {
  return facts.envelope.receivedAt?.getTime() ?? Date.now();
}

function dateInFuture(facts: MessageFacts, params: CheckParams): CheckOutcome {
  const date = dateOf(facts);
  const limit = arrival(facts) + Number(params.hours) * 3600_000;
  return date !== null && date.getTime() > limit ? date.toISOString() : false;
}

function dateInPast(facts: MessageFacts, params: CheckParams): CheckOutcome {
  const date = dateOf(facts);
  const limit = arrival(facts) - Number(params.days) * 86400_000;
  return date !== null && date.getTime() < limit ? date.toISOString() : false;
}

function badMessageId(facts: MessageFacts): CheckOutcome {
  const value = headerValues(facts, "message-id")[0];
  if (value === undefined) return false;
  return !/^<[^<>@\s]+@[^<>@\s]+>$/.test(value);
}

function fromWithoutDomain(facts: MessageFacts): CheckOutcome {
  const bad = facts.from.find((a) => !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(a.email));
  return bad === undefined ? false : bad.email || "(empty)";
}

function multipartBroken(facts: MessageFacts): CheckOutcome {
  const type = headerValues(facts, "content-type")[0] ?? "";
  return /^\s*multipart\//i.test(type) && facts.mime.type !== "multipart";
}

function mimeWithoutVersion(facts: MessageFacts): CheckOutcome {
  return hasHeader(facts, "content-type") && !hasHeader(facts, "mime-version");
}

function duplicateHeader(facts: MessageFacts, params: CheckParams): CheckOutcome {
  for (const name of strings(params.names)) {
    const lower = name.toLowerCase();
    if (facts.headers.filter((h) => h.name === lower).length > 1) return lower;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// HELO

function heloAddress(helo: string): string | null {
  const inner = helo.startsWith("[") && helo.endsWith("]") ? helo.slice(1, -1) : helo;
  const address = inner.replace(/^ipv6:/i, "");
  return isIpAddress(address) ? address.toLowerCase() : null;
}

function heloBareIp(facts: MessageFacts): CheckOutcome {
  return isIpAddress(facts.envelope.helo.trim());
}

function heloAddressLiteral(facts: MessageFacts): CheckOutcome {
  const helo = facts.envelope.helo.trim();
  return helo.startsWith("[") && heloAddress(helo) !== null;
}

function heloIpMismatch(facts: MessageFacts): CheckOutcome {
  const address = heloAddress(facts.envelope.helo.trim());
  const remote = facts.envelope.remoteAddress.toLowerCase().replace(/^::ffff:/, "");
  return address !== null && remote !== "" && address !== remote ? address : false;
}

function heloNotFqdn(facts: MessageFacts): CheckOutcome {
  const helo = facts.envelope.helo.trim().replace(/\.$/, "");
  if (heloAddress(helo) !== null) return false;
  return helo === "" || !helo.includes(".") ? helo || "(empty)" : false;
}

function heloLocalhost(facts: MessageFacts): CheckOutcome {
  const helo = facts.envelope.helo.trim().toLowerCase();
  return /^localhost(?:\.|$)/.test(helo) || helo === "[127.0.0.1]" || helo === "127.0.0.1";
}

function heloIsOurs(facts: MessageFacts, params: CheckParams): CheckOutcome {
  const helo = facts.envelope.helo.trim().toLowerCase().replace(/\.$/, "");
  if (helo === "") return false;
  const ours = strings(params.names).map((n) => n.toLowerCase());
  for (const recipient of facts.envelope.recipients) ours.push(domainOfAddress(recipient));
  return ours.includes(helo) ? helo : false;
}

// ---------------------------------------------------------------------------------------------
// Received chain

/** A Received field without a "by" clause; comment-only traces like qmail's are let be. */
function receivedMalformed(facts: MessageFacts): CheckOutcome {
  for (const value of headerValues(facts, "received")) {
    if (value.startsWith("(")) continue;
    if (!/(?:^|\s)by\s/i.test(value)) return value.slice(0, 80);
  }
  return false;
}

function receivedTooMany(facts: MessageFacts, params: CheckParams): CheckOutcome {
  const hops = headerValues(facts, "received").length;
  return hops > Number(params.max) ? String(hops) : false;
}

// ---------------------------------------------------------------------------------------------
// HTML content

function htmlOnly(facts: MessageFacts): CheckOutcome {
  if (facts.html === "") return false;
  return !bodyParts(facts.mime).textBody.some((p) => p.type === "text" && p.subtype === "plain");
}

const HIDDEN_STYLE = new RegExp(
  [
    String.raw`display\s*:\s*none`,
    String.raw`visibility\s*:\s*hidden`,
    String.raw`font-size\s*:\s*(?:0(?:\.\d+)?|1)\s*(?:px|pt)?(?![\d.a-z%])`,
    String.raw`opacity\s*:\s*0(?:\.0+)?(?![\d.])`,
  ].join("|"),
  "i",
);
const WHITE = /^(?:#fff(?:fff)?|white|rgb\(\s*255\s*,\s*255\s*,\s*255\s*\))$/i;
const MAX_HIDDEN_ELEMENTS = 200;
const MAX_HIDDEN_SPAN = 20_000;

/** Whether a tag's attributes hide its content: hidden styles, or white text with no dark background. */
function tagHides(tag: string): boolean {
  if (HIDDEN_STYLE.test(tag)) return true;
  const color = /(?:^|[\s;"'])color\s*:\s*([^;"']+)|\scolor\s*=\s*["']?([^"'\s>]+)/i.exec(tag);
  if (color === null || !WHITE.test((color[1] ?? color[2]).trim())) return false;
  const background = /background(?:-color)?\s*:\s*([^;"']+)|\sbgcolor\s*=\s*["']?([^"'\s>]+)/i
    .exec(tag);
  return background === null || WHITE.test((background[1] ?? background[2]).trim());
}

/** Visible-text characters inside elements whose own attributes hide them. */
function hiddenTextChars(html: string): number {
  const lower = html.toLowerCase();
  let total = 0;
  let pos = 0;
  for (let seen = 0; seen < MAX_HIDDEN_ELEMENTS;) {
    const lt = lower.indexOf("<", pos);
    if (lt < 0) break;
    const gt = lower.indexOf(">", lt + 1);
    if (gt < 0) break;
    pos = gt + 1;
    const name = /^<([a-z][a-z0-9]*)/.exec(lower.slice(lt, lt + 12))?.[1];
    if (name === undefined || !tagHides(html.slice(lt, gt))) continue;
    seen++;
    const end = lower.slice(pos, pos + MAX_HIDDEN_SPAN).indexOf(`</${name}`);
    const inner = html.slice(pos, pos + (end < 0 ? MAX_HIDDEN_SPAN : end));
    total += inner.replace(/<[^>]*>/g, "").replace(/&[a-z#0-9]+;/gi, " ").replace(/\s+/g, "")
      .length;
  }
  return total;
}

function htmlHiddenText(facts: MessageFacts, params: CheckParams): CheckOutcome {
  if (facts.html === "") return false;
  const chars = hiddenTextChars(facts.html);
  return chars >= Number(params.min_chars) ? `${chars} chars` : false;
}

function wordCount(text: string): number {
  return text.match(/[\p{L}\p{N}]{2,}/gu)?.length ?? 0;
}

/** HTML showing images with hardly any words (a photo attached to a short note is not it). */
function imageOnly(facts: MessageFacts, params: CheckParams): CheckOutcome {
  if (!/<img\b/i.test(facts.html)) return false;
  return wordCount(facts.text.slice(0, 10_000)) <= Number(params.max_words);
}

// ---------------------------------------------------------------------------------------------
// Links

const HOST_IN_TEXT = /^(?:https?:\/\/)?((?:[\p{L}\p{N}-]+\.)+[\p{L}]{2,})(?:[/:?#]\S*)?$/u;

function linkTextMismatch(facts: MessageFacts): CheckOutcome {
  for (const link of facts.links) {
    if (link.text === "" || link.host === "") continue;
    const shown = HOST_IN_TEXT.exec(link.text.trim().slice(0, 300));
    if (shown === null) continue;
    const shownDomain = registeredDomain(shown[1]);
    if (shownDomain !== registeredDomain(link.host)) return `${shown[1]} -> ${link.host}`;
  }
  return false;
}

function urlShortener(facts: MessageFacts, params: CheckParams): CheckOutcome {
  const hosts = new Set(strings(params.hosts).map((h) => h.toLowerCase()));
  const found = facts.links.find((l) => hosts.has(l.host.replace(/^www\./, "")));
  return found === undefined ? false : found.host;
}

function punycodeLink(facts: MessageFacts): CheckOutcome {
  const found = facts.links.find((l) => /(?:^|\.)xn--/.test(l.host));
  return found === undefined ? false : found.host;
}

type Script = "latin" | "cyrillic" | "greek" | "other";

function scriptOf(char: string): Script | null {
  const code = char.codePointAt(0)!;
  if (/[0-9\-_]/.test(char)) return null;
  if ((code >= 0x61 && code <= 0x7a) || (code >= 0xc0 && code <= 0x24f)) return "latin";
  if (code >= 0x400 && code <= 0x52f) return "cyrillic";
  if (code >= 0x370 && code <= 0x3ff) return "greek";
  return "other";
}

/**
 * Lower-case Cyrillic and Greek letters that look like lower-case Latin ones (а→a, р→p, ο→o...).
 * Letters like в, к, м, н, т look Latin only in capitals, which host names do not have.
 */
const LATIN_LOOKALIKES = new Set([..."аеорсухіјѕԁԛԝһӏοινρυχα"]);

/** Whether a host label mixes Latin with Cyrillic/Greek, or spells a Latin-looking word in them. */
function labelIsHomograph(label: string): boolean {
  const scripts = new Set<Script>();
  let allLookalike = true;
  let letters = 0;
  for (const char of label) {
    const script = scriptOf(char);
    if (script === null) continue;
    letters++;
    scripts.add(script);
    if (!LATIN_LOOKALIKES.has(char)) allLookalike = false;
  }
  if (scripts.has("latin") && (scripts.has("cyrillic") || scripts.has("greek"))) return true;
  if (scripts.has("cyrillic") && scripts.has("greek")) return true;
  return letters > 0 && allLookalike && !scripts.has("latin") && !scripts.has("other");
}

/** The host as Unicode (punycode labels decoded); "" when it cannot be read. */
function unicodeHost(host: string): string {
  if (!host.includes("xn--")) return host.toLowerCase();
  try {
    return domainToUnicode(host.toLowerCase());
  } catch {
    return "";
  }
}

function hostIsHomograph(host: string): boolean {
  const unicode = unicodeHost(host);
  return unicode.split(".").some(labelIsHomograph);
}

function homographLink(facts: MessageFacts): CheckOutcome {
  const found = facts.links.find((l) => l.host !== "" && hostIsHomograph(l.host));
  return found === undefined ? false : found.host;
}

function homographFrom(facts: MessageFacts): CheckOutcome {
  const domains = facts.from.map((a) => domainOfAddress(a.email));
  domains.push(domainOfAddress(facts.envelope.sender));
  const found = domains.find((d) => d !== "" && hostIsHomograph(d));
  return found === undefined ? false : found;
}

// ---------------------------------------------------------------------------------------------
// Addresses

const ADDRESS_IN_NAME = /[^\s<>"'@()]+@([^\s<>"'@()]+\.[^\s<>"'@()]+)/;

function displayNameAddress(facts: MessageFacts): CheckOutcome {
  for (const from of facts.from) {
    const found = ADDRESS_IN_NAME.exec(from.name ?? "");
    if (found === null) continue;
    const shown = registeredDomain(found[1].replace(/[.,;:]+$/, ""));
    if (shown !== registeredDomain(domainOfAddress(from.email))) return found[0];
  }
  return false;
}

function isFreemail(domain: string, freemail: string[]): boolean {
  return freemail.includes(domain);
}

function replyToFreemail(facts: MessageFacts, params: CheckParams): CheckOutcome {
  const freemail = strings(params.freemail).map((d) => d.toLowerCase());
  const fromDomain = domainOfAddress(facts.from[0]?.email ?? "");
  for (const replyTo of facts.replyTo) {
    const domain = domainOfAddress(replyTo.email);
    if (domain !== "" && domain !== fromDomain && isFreemail(domain, freemail)) return domain;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Subject

function subjectAllCaps(facts: MessageFacts, params: CheckParams): CheckOutcome {
  const letters = facts.subject.slice(0, 1000).replace(/[^\p{L}]/gu, "");
  if (letters.length < Number(params.min_letters)) return false;
  return letters === letters.toUpperCase() && letters !== letters.toLowerCase();
}

function subjectPunctuation(facts: MessageFacts, params: CheckParams): CheckOutcome {
  const run = Math.max(2, Math.floor(Number(params.run)));
  const pattern = new RegExp(`[!?$€£]{${run},}`);
  return pattern.test(facts.subject.slice(0, 1000));
}

// ---------------------------------------------------------------------------------------------
// Attachments

function extensionOf(name: string): string {
  const dot = name.lastIndexOf(".");
  return dot < 0 ? "" : name.slice(dot + 1).toLowerCase().trim();
}

function attachmentWithExtension(facts: MessageFacts, params: CheckParams): CheckOutcome {
  const extensions = strings(params.extensions).map((e) => e.toLowerCase());
  const found = facts.attachments.find((a) => extensions.includes(extensionOf(a.name)));
  return found === undefined ? false : found.name;
}

const DOUBLE_EXTENSION = /\.[a-z0-9]{2,4}\s*\.([a-z0-9]{2,4})\s*$/i;

function attachmentDoubleExtension(facts: MessageFacts, params: CheckParams): CheckOutcome {
  const executable = strings(params.extensions).map((e) => e.toLowerCase());
  const found = facts.attachments.find((a) => {
    const m = DOUBLE_EXTENSION.exec(a.name.slice(-64));
    return m !== null && executable.includes(m[1].toLowerCase());
  });
  return found === undefined ? false : found.name;
}

function attachmentWithType(facts: MessageFacts, params: CheckParams): CheckOutcome {
  const types = strings(params.types).map((t) => t.toLowerCase());
  const found = facts.attachments.find((a) => types.includes(a.type));
  return found === undefined ? false : found.type;
}

// ---------------------------------------------------------------------------------------------
// The registry

export const EXECUTABLE_EXTENSIONS = [
  "exe",
  "scr",
  "js",
  "jse",
  "vbs",
  "vbe",
  "bat",
  "cmd",
  "com",
  "pif",
  "jar",
  "hta",
  "wsf",
  "wsh",
  "lnk",
  "msi",
  "cpl",
  "ps1",
  "reg",
  "scf",
];

export const URL_SHORTENERS = [
  "bit.ly",
  "tinyurl.com",
  "t.co",
  "goo.gl",
  "ow.ly",
  "is.gd",
  "buff.ly",
  "rebrand.ly",
  "cutt.ly",
  "shorturl.at",
  "rb.gy",
  "tiny.cc",
  "v.gd",
  "t.ly",
  "bl.ink",
  "s.id",
  "shorte.st",
  "adf.ly",
  "bitly.com",
  "qrco.de",
];

export const FREEMAIL_DOMAINS = [
  "gmail.com",
  "googlemail.com",
  "yahoo.com",
  "yahoo.co.uk",
  "yahoo.fr",
  "ymail.com",
  "outlook.com",
  "hotmail.com",
  "hotmail.co.uk",
  "live.com",
  "msn.com",
  "aol.com",
  "icloud.com",
  "me.com",
  "mail.com",
  "gmx.com",
  "gmx.net",
  "gmx.de",
  "web.de",
  "yandex.ru",
  "yandex.com",
  "mail.ru",
  "proton.me",
  "protonmail.com",
  "zoho.com",
  "qq.com",
  "163.com",
  "126.com",
];

/**
 * The checks a rule of kind "check" may name, by name.
 *
 * @example
 * CHECKS.helo_localhost.run(facts, CHECKS.helo_localhost.params); // true for "HELO localhost"
 */
export const CHECKS: Readonly<Record<string, CheckDefinition>> = {
  missing_date: {
    description: "no Date field",
    params: {},
    run: (f) => !hasHeader(f, "date"),
  },
  bad_date: {
    description: "a Date field that cannot be read",
    params: {},
    run: (f) => hasHeader(f, "date") && dateOf(f) === null,
  },
  date_in_future: {
    description: "Date more than `hours` ahead of now",
    params: { hours: 24 },
    run: dateInFuture,
  },
  date_in_past: {
    description: "Date more than `days` before now",
    params: { days: 30 },
    run: dateInPast,
  },
  missing_message_id: {
    description: "no Message-ID field",
    params: {},
    run: (f) => !hasHeader(f, "message-id"),
  },
  bad_message_id: {
    description: "Message-ID not of the form <left@right>",
    params: {},
    run: badMessageId,
  },
  missing_from: {
    description: "no From address",
    params: {},
    run: (f) => f.from.length === 0,
  },
  from_without_domain: {
    description: "a From address without a dotted domain",
    params: {},
    run: fromWithoutDomain,
  },
  from_multiple: {
    description: "more than one From address",
    params: {},
    run: (f) => f.from.length > 1,
  },
  duplicate_header: {
    description: "a field RFC 5322 allows once appears more than once",
    params: { names: ["from", "to", "subject", "date", "message-id", "reply-to", "sender"] },
    run: duplicateHeader,
  },
  multipart_broken: {
    description: "Content-Type multipart without a boundary or without parts",
    params: {},
    run: multipartBroken,
  },
  mime_without_version: {
    description: "Content-Type without MIME-Version",
    params: {},
    run: mimeWithoutVersion,
  },
  helo_bare_ip: {
    description: "HELO is an IP address without brackets (invalid syntax)",
    params: {},
    run: heloBareIp,
  },
  helo_address_literal: {
    description: "HELO is an address literal like [192.0.2.1]",
    params: {},
    run: heloAddressLiteral,
  },
  helo_ip_mismatch: {
    description: "HELO is an IP address other than the client's",
    params: {},
    run: heloIpMismatch,
  },
  helo_not_fqdn: {
    description: "HELO is not a dotted host name",
    params: {},
    run: heloNotFqdn,
  },
  helo_localhost: {
    description: "HELO claims to be localhost",
    params: {},
    run: heloLocalhost,
  },
  helo_is_ours: {
    description: "HELO is one of `names` or a recipient's domain",
    params: { names: [] },
    run: heloIsOurs,
  },
  received_malformed: {
    description: "a Received field without a by clause (comment-only traces excepted)",
    params: {},
    run: receivedMalformed,
  },
  received_too_many: {
    description: "more than `max` Received fields",
    params: { max: 25 },
    run: receivedTooMany,
  },
  html_only: {
    description: "HTML body without a text/plain alternative",
    params: {},
    run: htmlOnly,
  },
  html_hidden_text: {
    description: "at least `min_chars` of text hidden by styles (display:none, tiny, white)",
    params: { min_chars: 200 },
    run: htmlHiddenText,
  },
  image_only: {
    description: "HTML with images and at most `max_words` words of text",
    params: { max_words: 20 },
    run: imageOnly,
  },
  link_text_mismatch: {
    description: "a link whose text shows a host of another domain than its target",
    params: {},
    run: linkTextMismatch,
  },
  url_shortener: {
    description: "a link through a URL shortener in `hosts`",
    params: { hosts: URL_SHORTENERS },
    run: urlShortener,
  },
  punycode_link: {
    description: "a link host with a punycode (xn--) label",
    params: {},
    run: punycodeLink,
  },
  homograph_link: {
    description: "a link host mixing Latin with Cyrillic/Greek letters, or made of lookalikes",
    params: {},
    run: homographLink,
  },
  homograph_from: {
    description: "a From or MAIL FROM domain mixing scripts, or made of lookalikes",
    params: {},
    run: homographFrom,
  },
  display_name_address: {
    description: "the From display name holds an address of another domain",
    params: {},
    run: displayNameAddress,
  },
  reply_to_freemail: {
    description: "Reply-To at a freemail domain other than the From domain",
    params: { freemail: FREEMAIL_DOMAINS },
    run: replyToFreemail,
  },
  subject_all_caps: {
    description: "a subject of at least `min_letters` letters, all upper case",
    params: { min_letters: 10 },
    run: subjectAllCaps,
  },
  subject_punctuation: {
    description: "a run of `run` or more of ! ? $ € £ in the subject",
    params: { run: 3 },
    run: subjectPunctuation,
  },
  attachment_extension: {
    description: "an attachment whose name ends in one of `extensions`",
    params: { extensions: EXECUTABLE_EXTENSIONS },
    run: attachmentWithExtension,
  },
  attachment_double_extension: {
    description: "an attachment named like invoice.pdf.exe (last extension in `extensions`)",
    params: { extensions: EXECUTABLE_EXTENSIONS },
    run: attachmentDoubleExtension,
  },
  attachment_type: {
    description: "an attachment of one of the media `types`",
    params: {
      types: [
        "application/x-msdownload",
        "application/x-msdos-program",
        "application/x-dosexec",
        "application/x-ms-shortcut",
        "application/hta",
        "application/x-ms-installer",
      ],
    },
    run: attachmentWithType,
  },
};
