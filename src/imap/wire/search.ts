/**
 * SEARCH criteria (RFC 9051 6.4.4 and 9 search-key) into a `SearchKey` tree, with the RETURN
 * and CHARSET options, and the shared parts of SORT and THREAD (RFC 5256).
 *
 * Implementation notes:
 * - Recursion (groups, NOT, OR) is bounded twice: parenthesis depth by `maxNestingDepth`, and
 *   every key, NOT and OR counts against `maxSearchKeys`, so `NOT NOT NOT ...` on a long line
 *   fails early instead of exhausting the stack.
 * - String values are decoded in the command's CHARSET (default UTF-8; RFC 9051 6.4.4 only
 *   requires UTF-8 and US-ASCII). An unknown charset is `BAD [BADCHARSET]`.
 */
import type { Cursor } from "./cursor.ts";
import type {
  ParserLimits,
  SearchDateKey,
  SearchFlagKey,
  SearchKey,
  SearchReturnOption,
  SearchTextKey,
} from "./types.ts";
import { date, flag, list, sequenceSet } from "./values.ts";

const FLAG_KEYS = new Set<string>([
  "ALL",
  "ANSWERED",
  "DELETED",
  "DRAFT",
  "FLAGGED",
  "NEW",
  "OLD",
  "RECENT",
  "SEEN",
  "UNANSWERED",
  "UNDELETED",
  "UNDRAFT",
  "UNFLAGGED",
  "UNSEEN",
  "SAVEDATESUPPORTED",
]);
const TEXT_KEYS = new Set<string>(["BCC", "BODY", "CC", "FROM", "SUBJECT", "TEXT", "TO"]);
const DATE_KEYS = new Set<string>([
  "BEFORE",
  "ON",
  "SINCE",
  "SENTBEFORE",
  "SENTON",
  "SENTSINCE",
  "SAVEDBEFORE",
  "SAVEDON",
  "SAVEDSINCE",
]);
const RETURN_OPTIONS = new Set<string>(["MIN", "MAX", "ALL", "COUNT", "SAVE"]);

/** Decodes string values in the command's charset. */
export class SearchContext {
  keys = 0;
  depth = 0;
  #decoder: TextDecoder;

  constructor(readonly c: Cursor, readonly limits: ParserLimits, charset: string | null) {
    let decoder: TextDecoder | null = null;
    try {
      decoder = new TextDecoder(charset ?? "utf-8", { fatal: true });
    } catch {
      decoder = null;
    }
    if (decoder === null) c.reject(`unsupported charset ${charset}`, "BADCHARSET");
    this.#decoder = decoder;
  }

  decode(bytes: Uint8Array): string {
    try {
      return this.#decoder.decode(bytes);
    } catch {
      return this.c.reject(`search string is not valid ${this.#decoder.encoding}`);
    }
  }
}

/** charset = atom / quoted */
export function charset(c: Cursor): string {
  const bytes = c.peek() === 0x22 ? c.quoted() : null;
  const name = bytes ? c.text(bytes, "charset") : c.atom("a charset name");
  return name.toUpperCase();
}

/** The list after `RETURN` (RFC 4731, 5182): SP "(" [option *(SP option)] ")" */
export function returnOptions(c: Cursor, limits: ParserLimits): SearchReturnOption[] {
  c.sp();
  return list(
    c,
    limits,
    () => {
      const option = c.keyword("a RETURN option (MIN, MAX, ALL, COUNT, SAVE)");
      if (!RETURN_OPTIONS.has(option)) c.reject(`unknown RETURN option ${option}`);
      return option as SearchReturnOption;
    },
    "RETURN options",
    true,
  );
}

/** 1*(SP search-key) after the options, ANDed into one key. */
export function searchKeys(s: SearchContext): SearchKey {
  const keys: SearchKey[] = [];
  do {
    s.c.sp();
    keys.push(searchKey(s));
  } while (!s.c.atEnd());
  return keys.length === 1 ? keys[0] : { kind: "AND", keys };
}

function count(s: SearchContext): void {
  if (++s.keys > s.limits.maxSearchKeys) {
    s.c.reject(`more than ${s.limits.maxSearchKeys} search keys`);
  }
}

/** search-key */
export function searchKey(s: SearchContext): SearchKey {
  const c = s.c;
  count(s);
  const first = c.peek();
  if (first === 0x28) {
    if (s.depth >= s.limits.maxNestingDepth) {
      c.reject(`search keys nested deeper than ${s.limits.maxNestingDepth}`);
    }
    s.depth++;
    c.take(0x28);
    const keys: SearchKey[] = [searchKey(s)];
    while (c.take(0x20)) keys.push(searchKey(s));
    c.expect(0x29, '")" or SP and a search key');
    s.depth--;
    return keys.length === 1 ? keys[0] : { kind: "AND", keys };
  }
  if ((first >= 0x30 && first <= 0x39) || first === 0x2a || first === 0x24) {
    return { kind: "SEQUENCE", set: sequenceSet(c, s.limits) };
  }
  const name = c.keyword("a search key");
  if (FLAG_KEYS.has(name)) return { kind: name as SearchFlagKey };
  if (TEXT_KEYS.has(name)) {
    c.sp();
    return { kind: name as SearchTextKey, value: s.decode(c.astring("a search string")) };
  }
  if (DATE_KEYS.has(name)) {
    c.sp();
    return { kind: name as SearchDateKey, date: date(c) };
  }
  switch (name) {
    case "NOT":
      c.sp();
      return { kind: "NOT", key: searchKey(s) };
    case "OR": {
      c.sp();
      const left = searchKey(s);
      c.sp();
      return { kind: "OR", left, right: searchKey(s) };
    }
    case "HEADER": {
      c.sp();
      const field = c.text(c.astring("a header field name"), "header field name");
      c.sp();
      return { kind: "HEADER", field, value: s.decode(c.astring("a search string")) };
    }
    case "KEYWORD":
    case "UNKEYWORD": {
      c.sp();
      const keyword = flag(c);
      if (keyword.startsWith("\\")) c.reject(`${name} takes a keyword, not ${keyword}`);
      return { kind: name, flag: keyword };
    }
    case "LARGER":
    case "SMALLER":
      c.sp();
      return { kind: name, size: c.number64("a size") };
    case "OLDER":
    case "YOUNGER":
      c.sp();
      return { kind: name, seconds: c.nzNumber("a number of seconds") };
    case "UID":
      c.sp();
      return { kind: "UID", set: sequenceSet(c, s.limits) };
    case "MODSEQ":
      return modseqKey(c);
    case "EMAILID":
    case "THREADID":
      c.sp();
      return { kind: name, id: objectId(c) };
  }
  return c.reject(`unknown search key ${name}`);
}

/** "MODSEQ" [SP entry-name SP entry-type-req] SP mod-sequence-valzer (RFC 7162 3.1.5) */
function modseqKey(c: Cursor): SearchKey {
  c.sp();
  let entry = null;
  if (c.peek() === 0x22) {
    const name = c.text(c.quoted(), "entry name");
    if (!/^\/flags\/\\?[!#$&'+\-.0-9:;<=>?@A-Z^_`a-z|~]+$/.test(name)) {
      c.reject(`entry name must be "/flags/<flag>", got "${name}"`);
    }
    c.sp();
    const type = c.keyword("priv, shared or all").toLowerCase();
    if (type !== "priv" && type !== "shared" && type !== "all") {
      c.reject(`entry type must be priv, shared or all`);
    }
    c.sp();
    entry = { flag: name.slice("/flags/".length), type: type as "priv" | "shared" | "all" };
  }
  return { kind: "MODSEQ", entry, modseq: c.number64("a mod-sequence") };
}

/** objectid = 1*255(ALPHA / DIGIT / "_" / "-") (RFC 8474) */
export function objectId(c: Cursor): string {
  const id = c.atom("an object id");
  if (!/^[A-Za-z0-9_-]{1,255}$/.test(id)) c.reject(`invalid object id "${id.slice(0, 40)}"`);
  return id;
}
