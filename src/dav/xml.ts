/**
 * The XML layer for WebDAV (RFC 4918), CalDAV (RFC 4791) and CardDAV (RFC 6352) request and
 * response bodies: a strict, namespace-aware parser and a compact serializer.
 *
 * Implementation notes:
 * - The parser is a single loop over the input with an explicit element stack: no recursion, so
 *   a 100k-deep body costs memory bounded by `maxDepth`, never a stack overflow. The serializer
 *   is iterative for the same reason.
 * - Limits are checked before any work (`maxBytes`, counted in UTF-8 bytes) and as the tree
 *   grows (`maxDepth`, `maxElements`). A limit is a client-caused error like any other.
 * - No DTD is ever read: `<!DOCTYPE` and `<!ENTITY` are refused outright, so no entity can be
 *   declared, and only the five predefined entities and character references are decoded
 *   (RFC 4918 20.6 warns about entity expansion attacks; XML 1.0 4.6).
 * - `parseXml` throws only `XmlError` (message + offset, a UTF-16 index into the input);
 *   anything else escaping would drop the connection instead of answering 400.
 * - Namespaces are resolved in place (Namespaces in XML 1.0): a prefix lookup is O(1) through a
 *   bindings map with per-element undo lists, never a walk up the stack.
 * - `text` is the concatenation of an element's text and CDATA children (what CalDAV
 *   text-match and property values need); whitespace-only text beside child elements is
 *   formatting and becomes "". Line ends are normalized to "\n" (XML 1.0 2.11).
 */
import { utf8Length } from "./utf8.ts";

export const DAV_NS = "DAV:";
export const CALDAV_NS = "urn:ietf:params:xml:ns:caldav";
export const CARDDAV_NS = "urn:ietf:params:xml:ns:carddav";
export const CALENDARSERVER_NS = "http://calendarserver.org/ns/";
export const XML_NS = "http://www.w3.org/XML/1998/namespace";
const XMLNS_NS = "http://www.w3.org/2000/xmlns/";

/** One element: expanded name, attributes keyed "ns name" (or "name" in no namespace). */
export interface XmlElement {
  ns: string;
  name: string;
  attributes: Map<string, string>;
  children: XmlElement[];
  text: string;
}

/** Limits a parse must stay within; they come from config, never from the parser. */
export interface XmlLimits {
  maxBytes: number;
  maxDepth: number;
  maxElements: number;
}

/** A malformed, refused or oversized body; `offset` is where in the input it was noticed. */
export class XmlError extends Error {
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(`${message} at offset ${offset}`);
    this.name = "XmlError";
    this.offset = offset;
  }
}

interface Frame {
  qname: string;
  element: XmlElement;
  text: string[];
  undo: [string, string | undefined][] | null;
}

const NAME_START = "A-Za-z_\\u00C0-\\u00D6\\u00D8-\\u00F6\\u00F8-\\u02FF\\u0370-\\u037D" +
  "\\u037F-\\u1FFF\\u200C-\\u200D\\u2070-\\u218F\\u2C00-\\u2FEF\\u3001-\\uD7FF\\uF900-\\uFDCF" +
  "\\uFDF0-\\uFFFD";
const NAME_CHAR = `${NAME_START}0-9.\\-\\u00B7\\u0300-\\u036F\\u203F-\\u2040`;
const QNAME = new RegExp(`[${NAME_START}][${NAME_CHAR}]*(?::[${NAME_START}][${NAME_CHAR}]*)?`, "y");
const SPACE = /[ \t\r\n]*/y;
// Control characters are exactly what this refuses (XML 1.0 2.2 Char).
// deno-lint-ignore no-control-regex
const INVALID_CHAR = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/;
const WHITESPACE_ONLY = /^[ \t\r\n]*$/;
const PREDEFINED: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

function isXmlCodePoint(code: number): boolean {
  return code === 0x9 || code === 0xa || code === 0xd || (code >= 0x20 && code <= 0xd7ff) ||
    (code >= 0xe000 && code <= 0xfffd) || (code >= 0x10000 && code <= 0x10ffff);
}

/** Decodes references in raw character data starting at `base` in the input. */
function decodeText(raw: string, base: number, inAttribute: boolean): string {
  const bad = INVALID_CHAR.exec(raw);
  if (bad) throw new XmlError("character not allowed in XML", base + bad.index);
  let text = raw.includes("\r") ? raw.replace(/\r\n?/g, "\n") : raw;
  if (inAttribute) text = text.replace(/[\t\n]/g, " ");
  if (!text.includes("&")) return text;
  let out = "";
  let from = 0;
  for (;;) {
    const amp = text.indexOf("&", from);
    if (amp < 0) return out + text.slice(from);
    out += text.slice(from, amp);
    const semi = text.indexOf(";", amp);
    if (semi < 0 || semi - amp > 12) throw new XmlError("unterminated reference", base + amp);
    const ref = text.slice(amp + 1, semi);
    if (ref.startsWith("#")) {
      const digits = /^#x[0-9A-Fa-f]{1,6}$/.test(ref)
        ? parseInt(ref.slice(2), 16)
        : /^#[0-9]{1,7}$/.test(ref)
        ? parseInt(ref.slice(1), 10)
        : -1;
      if (!isXmlCodePoint(digits)) {
        throw new XmlError(`invalid character reference &${ref};`, base + amp);
      }
      out += String.fromCodePoint(digits);
    } else if (Object.hasOwn(PREDEFINED, ref)) {
      out += PREDEFINED[ref];
    } else {
      throw new XmlError(`undeclared entity &${ref};`, base + amp);
    }
    from = semi + 1;
  }
}

/**
 * Parses an XML request body into a namespace-resolved tree, within `limits`.
 * Throws only `XmlError`.
 *
 * @example
 * const root = parseXml('<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>',
 *   { maxBytes: 1 << 20, maxDepth: 64, maxElements: 10_000 });
 * // root.ns === "DAV:", root.name === "propfind"
 */
export function parseXml(text: string, limits: XmlLimits): XmlElement {
  try {
    return parseDocument(text, limits);
  } catch (error) {
    if (error instanceof XmlError) throw error;
    throw new XmlError(`unparsable XML (${String(error)})`, 0);
  }
}

function parseDocument(input: string, limits: XmlLimits): XmlElement {
  if (input.length > limits.maxBytes || utf8Length(input) > limits.maxBytes) {
    throw new XmlError(`body larger than ${limits.maxBytes} bytes`, 0);
  }
  const end = input.length;
  let pos = input.charCodeAt(0) === 0xfeff ? 1 : 0;
  if (input.startsWith("<?xml", pos) && /[ \t\r\n?]/.test(input.charAt(pos + 5))) {
    const close = input.indexOf("?>", pos);
    if (close < 0) throw new XmlError("unterminated XML declaration", pos);
    pos = close + 2;
  }

  const bindings = new Map<string, string>([["xml", XML_NS]]);
  const stack: Frame[] = [];
  let root: XmlElement | undefined;
  let elementCount = 0;

  const readName = (): string => {
    QNAME.lastIndex = pos;
    const match = QNAME.exec(input);
    if (!match) throw new XmlError("expected a name", pos);
    pos = QNAME.lastIndex;
    return match[0];
  };
  const skipSpace = (): boolean => {
    SPACE.lastIndex = pos;
    SPACE.exec(input);
    const moved = SPACE.lastIndex > pos;
    pos = SPACE.lastIndex;
    return moved;
  };
  const resolve = (qname: string, at: number, isAttribute: boolean): [string, string] => {
    const colon = qname.indexOf(":");
    if (colon < 0) return [isAttribute ? "" : bindings.get("") ?? "", qname];
    const prefix = qname.slice(0, colon);
    const ns = bindings.get(prefix);
    if (ns === undefined) throw new XmlError(`undeclared namespace prefix "${prefix}"`, at);
    return [ns, qname.slice(colon + 1)];
  };

  while (pos < end) {
    const lt = input.indexOf("<", pos);
    const textEnd = lt < 0 ? end : lt;
    if (textEnd > pos) {
      const raw = input.slice(pos, textEnd);
      if (stack.length > 0) {
        stack[stack.length - 1].text.push(decodeText(raw, pos, false));
      } else if (!WHITESPACE_ONLY.test(raw)) {
        throw new XmlError("text outside the root element", pos);
      }
      pos = textEnd;
      continue;
    }
    const start = pos;
    if (input.startsWith("<!--", pos)) {
      const close = input.indexOf("-->", pos + 4);
      if (close < 0) throw new XmlError("unterminated comment", start);
      pos = close + 3;
    } else if (input.startsWith("<![CDATA[", pos)) {
      if (stack.length === 0) throw new XmlError("CDATA outside the root element", start);
      const close = input.indexOf("]]>", pos + 9);
      if (close < 0) throw new XmlError("unterminated CDATA section", start);
      const raw = input.slice(pos + 9, close);
      const bad = INVALID_CHAR.exec(raw);
      if (bad) throw new XmlError("character not allowed in XML", pos + 9 + bad.index);
      stack[stack.length - 1].text.push(raw.replace(/\r\n?/g, "\n"));
      pos = close + 3;
    } else if (input.startsWith("<!", pos)) {
      const keyword = /^<!(DOCTYPE|ENTITY)/i.exec(input.slice(pos, pos + 9));
      if (keyword) {
        throw new XmlError(`${keyword[1].toUpperCase()} refused (no DTDs or entities)`, start);
      }
      throw new XmlError("unsupported markup declaration", start);
    } else if (input.startsWith("<?", pos)) {
      pos += 2;
      const target = readName();
      if (target.toLowerCase() === "xml") {
        throw new XmlError("XML declaration not at the start", start);
      }
      const close = input.indexOf("?>", pos);
      if (close < 0) throw new XmlError("unterminated processing instruction", start);
      pos = close + 2;
    } else if (input.startsWith("</", pos)) {
      pos += 2;
      const qname = readName();
      skipSpace();
      if (input.charAt(pos) !== ">") throw new XmlError("expected '>'", pos);
      pos++;
      const frame = stack.pop();
      if (!frame) throw new XmlError(`end tag </${qname}> without a start tag`, start);
      if (frame.qname !== qname) {
        throw new XmlError(`end tag </${qname}> does not match <${frame.qname}>`, start);
      }
      closeFrame(frame, bindings);
    } else {
      if (root !== undefined && stack.length === 0) {
        throw new XmlError("more than one root element", start);
      }
      pos++;
      const qname = readName();
      const rawAttributes: [string, string, number][] = [];
      let selfClosing = false;
      for (;;) {
        const spaced = skipSpace();
        const c = input.charAt(pos);
        if (c === ">") {
          pos++;
          break;
        }
        if (c === "/" && input.charAt(pos + 1) === ">") {
          pos += 2;
          selfClosing = true;
          break;
        }
        if (pos >= end) throw new XmlError(`unterminated start tag <${qname}`, start);
        if (!spaced) throw new XmlError("expected whitespace before attribute", pos);
        const at = pos;
        const attrName = readName();
        skipSpace();
        if (input.charAt(pos) !== "=") throw new XmlError("expected '=' after attribute", pos);
        pos++;
        skipSpace();
        const quote = input.charAt(pos);
        if (quote !== '"' && quote !== "'") throw new XmlError("expected quoted value", pos);
        const close = input.indexOf(quote, pos + 1);
        if (close < 0) throw new XmlError("unterminated attribute value", pos);
        const raw = input.slice(pos + 1, close);
        const lessThan = raw.indexOf("<");
        if (lessThan >= 0) throw new XmlError("'<' in attribute value", pos + 1 + lessThan);
        const value = decodeText(raw, pos + 1, true);
        pos = close + 1;
        rawAttributes.push([attrName, value, at]);
      }

      if (rawAttributes.length > 1) {
        const seen = new Set<string>();
        for (const [attrName, , at] of rawAttributes) {
          if (seen.has(attrName)) throw new XmlError(`duplicate attribute ${attrName}`, at);
          seen.add(attrName);
        }
      }
      elementCount++;
      if (elementCount > limits.maxElements) {
        throw new XmlError(`more than ${limits.maxElements} elements`, start);
      }
      if (stack.length + 1 > limits.maxDepth) {
        throw new XmlError(`nesting deeper than ${limits.maxDepth}`, start);
      }

      let undo: [string, string | undefined][] | null = null;
      for (const [attrName, value, at] of rawAttributes) {
        let prefix: string;
        if (attrName === "xmlns") prefix = "";
        else if (attrName.startsWith("xmlns:")) prefix = attrName.slice(6);
        else continue;
        if (prefix === "xmlns" || (prefix === "xml") !== (value === XML_NS) || value === XMLNS_NS) {
          throw new XmlError(`reserved namespace binding ${attrName}`, at);
        }
        if (prefix !== "" && value === "") {
          throw new XmlError(`empty namespace for prefix "${prefix}"`, at);
        }
        (undo ??= []).push([prefix, bindings.get(prefix)]);
        bindings.set(prefix, value);
      }
      const [ns, name] = resolve(qname, start + 1, false);
      const attributes = new Map<string, string>();
      for (const [attrName, value, at] of rawAttributes) {
        if (attrName === "xmlns" || attrName.startsWith("xmlns:")) continue;
        const [attrNs, localName] = resolve(attrName, at, true);
        const key = attrNs === "" ? localName : `${attrNs} ${localName}`;
        if (attributes.has(key)) throw new XmlError(`duplicate attribute ${attrName}`, at);
        attributes.set(key, value);
      }
      const element: XmlElement = { ns, name, attributes, children: [], text: "" };
      if (stack.length > 0) stack[stack.length - 1].element.children.push(element);
      else root = element;
      const frame: Frame = { qname, element, text: [], undo };
      if (selfClosing) closeFrame(frame, bindings);
      else stack.push(frame);
    }
  }
  if (stack.length > 0) {
    throw new XmlError(`unclosed element <${stack[stack.length - 1].qname}>`, end);
  }
  if (root === undefined) throw new XmlError("no root element", end);
  return root;
}

function closeFrame(frame: Frame, bindings: Map<string, string>): void {
  const text = frame.text.length === 1 ? frame.text[0] : frame.text.join("");
  frame.element.text = frame.element.children.length > 0 && WHITESPACE_ONLY.test(text) ? "" : text;
  if (frame.undo) {
    for (let i = frame.undo.length - 1; i >= 0; i--) {
      const [prefix, previous] = frame.undo[i];
      if (previous === undefined) bindings.delete(prefix);
      else bindings.set(prefix, previous);
    }
  }
}

/** Options for `toXml`: preferred prefixes by namespace, over the defaults. */
export interface ToXmlOptions {
  prefixes?: Record<string, string>;
}

const DEFAULT_PREFIXES: Record<string, string> = {
  [DAV_NS]: "D",
  [CALDAV_NS]: "C",
  [CARDDAV_NS]: "CR",
  [CALENDARSERVER_NS]: "CS",
};

function escapeText(text: string): string {
  return text.replace(
    /[&<>\r]/g,
    (c) => c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : "&#13;",
  );
}

function escapeAttribute(value: string): string {
  return value.replace(/[&<>"\t\n\r]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function splitKey(key: string): [string, string] {
  const space = key.lastIndexOf(" ");
  return space < 0 ? ["", key] : [key.slice(0, space), key.slice(space + 1)];
}

/**
 * Serializes a tree as a UTF-8 XML document, all namespaces declared on the root. An element's
 * text is written before its children; text must hold only XML characters (XML 1.0 2.2).
 *
 * @example
 * toXml(el(DAV_NS, "multistatus", [el(DAV_NS, "response")]));
 * // '<?xml version="1.0" encoding="utf-8"?><D:multistatus xmlns:D="DAV:"><D:response/></D:multistatus>'
 */
export function toXml(root: XmlElement, options: ToXmlOptions = {}): string {
  const wanted = { ...DEFAULT_PREFIXES, ...options.prefixes };
  const prefixes = new Map<string, string>();
  const used = new Set<string>();
  const preferred = new Set(Object.values(wanted));
  const declare = (ns: string) => {
    if (ns === "" || ns === XML_NS || prefixes.has(ns)) return;
    let prefix = wanted[ns];
    if (!prefix || used.has(prefix) || /^xml/i.test(prefix)) {
      let n = 0;
      while (used.has(`ns${n}`) || preferred.has(`ns${n}`)) n++;
      prefix = `ns${n}`;
    }
    used.add(prefix);
    prefixes.set(ns, prefix);
  };
  const pending: XmlElement[] = [root];
  while (pending.length > 0) {
    const element = pending.pop()!;
    declare(element.ns);
    for (const key of element.attributes.keys()) declare(splitKey(key)[0]);
    for (let i = element.children.length - 1; i >= 0; i--) pending.push(element.children[i]);
  }
  const qualify = (ns: string, name: string) =>
    ns === "" ? name : ns === XML_NS ? `xml:${name}` : `${prefixes.get(ns)}:${name}`;

  const out: string[] = ['<?xml version="1.0" encoding="utf-8"?>'];
  const work: (XmlElement | string)[] = [root];
  while (work.length > 0) {
    const item = work.pop()!;
    if (typeof item === "string") {
      out.push(item);
      continue;
    }
    if (item.name === "") {
      out.push(item.text); // rawXml(): already serialized
      continue;
    }
    const qname = qualify(item.ns, item.name);
    out.push(`<${qname}`);
    if (item === root) {
      for (const [ns, prefix] of prefixes) out.push(` xmlns:${prefix}="${escapeAttribute(ns)}"`);
    }
    for (const [key, value] of item.attributes) {
      const [ns, name] = splitKey(key);
      out.push(` ${qualify(ns, name)}="${escapeAttribute(value)}"`);
    }
    if (item.children.length === 0 && item.text === "") {
      out.push("/>");
      continue;
    }
    out.push(">", escapeText(item.text));
    work.push(`</${qname}>`);
    for (let i = item.children.length - 1; i >= 0; i--) work.push(item.children[i]);
  }
  return out.join("");
}

const NO_ATTRIBUTES: Map<string, string> = new Map();

/**
 * Markup written as it is by `toXml`, for responses built in bulk (a sync of 10,000 members):
 * the caller escapes its text and uses only the prefixes `toXml` declares on the root (D: for
 * DAV:, which a multistatus root always declares).
 *
 * @example
 * rawXml("<D:getetag>&quot;1&quot;</D:getetag>");
 */
export function rawXml(markup: string): XmlElement {
  return { ns: "", name: "", attributes: NO_ATTRIBUTES, children: [], text: markup };
}

/** Escapes text for element content (what toXml does). */
export function escapeXmlText(text: string): string {
  return escapeText(text);
}

/**
 * Builds an element; string children are appended to its text.
 *
 * @example
 * el(DAV_NS, "href", ["/dav/calendars/alice/"]);
 */
export function el(
  ns: string,
  name: string,
  children: (XmlElement | string)[] = [],
  attributes: Record<string, string> | Map<string, string> = {},
): XmlElement {
  const element: XmlElement = {
    ns,
    name,
    attributes: attributes instanceof Map
      ? new Map(attributes)
      : new Map(Object.entries(attributes)),
    children: [],
    text: "",
  };
  for (const item of children) {
    if (typeof item === "string") element.text += item;
    else element.children.push(item);
  }
  return element;
}

/**
 * The first child element with this expanded name, if any.
 *
 * @example
 * const prop = child(propfind, DAV_NS, "prop");
 */
export function child(element: XmlElement, ns: string, name: string): XmlElement | undefined {
  return element.children.find((c) => c.ns === ns && c.name === name);
}

/**
 * Every child element with this expanded name, in document order.
 *
 * @example
 * const hrefs = children(multiget, DAV_NS, "href").map((h) => h.text);
 */
export function children(element: XmlElement, ns: string, name: string): XmlElement[] {
  return element.children.filter((c) => c.ns === ns && c.name === name);
}
