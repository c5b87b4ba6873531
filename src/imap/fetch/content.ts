/**
 * The header fields of a MIME part as BODYSTRUCTURE and ENVELOPE see them, read again from the
 * raw bytes because IMAP needs what the stored MimePart normalises away: the case of types,
 * subtypes, parameter names and values as written, RFC 2231 parameters left encoded, raw
 * Content-ID/Description/Location values, and Dovecot's choice among repeated fields.
 *
 * Implementation notes:
 * - A field value starts after the colon and the spaces or tabs on its first line; folded
 *   lines are kept (nstringNoLf removes the breaks when writing). NUL becomes U+FFFD in UTF-8.
 * - Content-Type, -Transfer-Encoding, -ID, -Description, -MD5, -Language and -Location: the
 *   first occurrence counts; Content-Disposition: the last (as Dovecot).
 * - A Content-Type Dovecot cannot read gives type "" and subtype "" with no parameters (sent
 *   as `"" ""`, not text/plain); a lone "text" gives subtype "". Clients see these as is.
 * - RFC 2231 (Dovecot's rfc2231_parse): plain parameters first in order, then the starred ones
 *   sorted by name and merged: `name*0`/`name*1` give `name`, an encoded one gives `name*` with
 *   the value still `charset'lang'%XX`. With a gap in the indexes each is kept as
 *   `name*N`/`name*N*`. The index of a starred name without digits (`title*`) is the one the
 *   previous starred parameter had, as Dovecot does not reset it.
 */
import { scanFieldSpans } from "../../mail/headers.ts";
import { byteString } from "./imap_string.ts";
import { Rfc822Cursor, type Str } from "./rfc822_parser.ts";

export interface RawField {
  /** Lowercased field name. */
  name: string;
  /** Byte string of the value, leading blanks of the first line removed, folding kept. */
  value: string;
}

export type Params = [name: string, value: string][];

export interface ContentFields {
  /** null when there is no Content-Type field. */
  type: string | null;
  subtype: string;
  params: Params;
  encoding: string | null;
  id: string | null;
  description: string | null;
  md5: string | null;
  disposition: string | null;
  dispositionParams: Params;
  language: string[] | null;
  location: string | null;
}

/** The header fields in raw[start, end), in order. */
export function rawFields(raw: Uint8Array, start: number, end: number): RawField[] {
  return scanFieldSpans(raw, start, end).map((span) => {
    let v = span.valueStart;
    while (v < span.valueEnd && (raw[v] === 32 || raw[v] === 9)) v++;
    return {
      name: byteString(raw.subarray(span.start, span.nameEnd)).toLowerCase(),
      // Dovecot's header parser turns NUL into U+FFFD.
      value: byteString(raw.subarray(v, span.valueEnd)).replaceAll("\0", "\xef\xbf\xbd"),
    };
  });
}

function contentType(value: string): { type: string; subtype: string; params: Params } {
  const c = new Rfc822Cursor(value);
  c.skipLwsp();
  const broken = { type: "", subtype: "", params: [] };
  if (c.skipLwsp() <= 0) return broken;
  const type: Str = { s: "" };
  const r = c.mimeToken(type);
  if (type.s === "") return broken;
  if (r <= 0) return { type: type.s, subtype: "", params: [] };
  if (c.cur() !== "/") return broken;
  c.pos++;
  if (c.skipLwsp() <= 0) return broken;
  const subtype: Str = { s: "" };
  const rs = c.mimeToken(subtype);
  if (rs < 0 || subtype.s === "") return broken;
  if (rs > 0 && c.cur() !== ";") return broken;
  return { type: type.s, subtype: subtype.s, params: parameters(c) };
}

type Param = { key: string; value: string } | number;

function contentParam(c: Rfc822Cursor): Param {
  if (c.atEnd) return 0;
  if (c.cur() !== ";") return -1;
  c.pos++;
  if (c.skipLwsp() <= 0) return -1;
  const key: Str = { s: "" };
  if (c.mimeToken(key) <= 0) return -1;
  if (c.cur() !== "=") return -1;
  c.pos++;
  const value: Str = { s: "" };
  let ret = c.skipLwsp();
  if (ret <= 0) {
    // No value.
  } else if (c.cur() === '"') {
    ret = c.quotedString(value);
  } else if (c.cur() === "=") {
    // name==?utf-8?b?...?= from broken encoders: up to the next separator.
    const start = c.pos;
    while (!c.atEnd && !"; \t\r\n".includes(c.cur()!)) c.pos++;
    value.s = c.text.slice(start, c.pos);
  } else {
    ret = c.mimeToken(value);
  }
  return ret < 0 ? -1 : { key: key.s, value: value.s };
}

interface Starred {
  key: string;
  idx: number;
  extended: boolean;
  value: string;
}

/** `; name=value` parameters with RFC 2231 merged the way Dovecot merges them. */
function parameters(c: Rfc822Cursor): Params {
  const result: Params = [];
  const starred: Starred[] = [];
  let idx = 0;
  for (;;) {
    const p = contentParam(c);
    if (p === 0) break;
    if (typeof p === "number") {
      // Broken: skip a byte and look for the next ";".
      if (c.atEnd) break;
      c.pos++;
      continue;
    }
    const star = p.key.indexOf("*");
    if (star < 0) {
      result.push([p.key, p.value]);
      continue;
    }
    let q = star;
    if (q + 1 < p.key.length) {
      q++;
      idx = 0;
      while (q < p.key.length && p.key[q] >= "0" && p.key[q] <= "9") {
        idx = idx * 10 + p.key.charCodeAt(q++) - 48;
      }
    }
    const extended = p.key[q] === "*";
    if (extended) q++;
    if (q < p.key.length) result.push([p.key, p.value]);
    else starred.push({ key: p.key.slice(0, star), idx, extended, value: p.value });
  }
  // Sorted by name case-sensitively and then index (a stable sort), grouped by name
  // case-insensitively: "N*0*" sorts before "n*0", and the two then form one group.
  starred.sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : a.idx - b.idx);
  for (let i = 0; i < starred.length;) {
    const key = starred[i].key.toLowerCase();
    let j = i;
    let ok = true;
    let haveExtended = false;
    for (; j < starred.length && starred[j].key.toLowerCase() === key; j++) {
      if (starred[j].idx !== j - i) ok = false;
      if (starred[j].extended) haveExtended = true;
    }
    const group = starred.slice(i, j);
    if (!ok) {
      for (const s of group) result.push([`${s.key}*${s.idx}${s.extended ? "*" : ""}`, s.value]);
    } else {
      const prefix = !group[0].extended && haveExtended ? "''" : "";
      const value = prefix + group.map((s) => s.value).join("");
      result.push([haveExtended ? `${group[0].key}*` : group[0].key, value]);
    }
    i = j;
  }
  return result;
}

function disposition(value: string): { disposition: string; params: Params } | null {
  const c = new Rfc822Cursor(value);
  c.skipLwsp();
  const token: Str = { s: "" };
  if (c.mimeToken(token) < 0) return null;
  return { disposition: token.s, params: parameters(c) };
}

function encoding(value: string): string | null {
  const c = new Rfc822Cursor(value);
  c.skipLwsp();
  const token: Str = { s: "" };
  if (c.mimeToken(token) < 0 || c.skipLwsp() !== 0 || token.s === "") return null;
  return token.s;
}

function language(value: string): string[] | null {
  const c = new Rfc822Cursor(value);
  c.skipLwsp();
  const tags: string[] = [];
  while (!c.atEnd) {
    const tag: Str = { s: "" };
    if (c.atom(tag) < 0) break;
    tags.push(tag.s);
    if (c.cur() !== ",") break;
    c.pos++;
    c.skipLwsp();
  }
  return tags.length > 0 ? tags : null;
}

/** The Content-* fields of the header in raw[start, end). */
export function contentFields(raw: Uint8Array, start: number, end: number): ContentFields {
  const fields: ContentFields = {
    type: null,
    subtype: "",
    params: [],
    encoding: null,
    id: null,
    description: null,
    md5: null,
    disposition: null,
    dispositionParams: [],
    language: null,
    location: null,
  };
  const seen = new Set<string>();
  for (const { name, value } of rawFields(raw, start, end)) {
    if (!name.startsWith("content-")) continue;
    const first = !seen.has(name);
    seen.add(name);
    switch (name) {
      case "content-type":
        if (first) {
          const t = contentType(value);
          fields.type = t.type;
          fields.subtype = t.subtype;
          fields.params = t.params;
        }
        break;
      case "content-transfer-encoding":
        if (first) fields.encoding = encoding(value);
        break;
      case "content-id":
        if (first) fields.id = value;
        break;
      case "content-description":
        if (first) fields.description = value;
        break;
      case "content-md5":
        if (first) fields.md5 = value;
        break;
      case "content-language":
        if (first) fields.language = language(value);
        break;
      case "content-location":
        if (first) fields.location = value;
        break;
      case "content-disposition": {
        const d = disposition(value);
        if (d) {
          fields.disposition = d.disposition;
          fields.dispositionParams = d.params;
        }
        break;
      }
    }
  }
  return fields;
}
