/**
 * A comment-preserving editor for config.toml: changes the values of keys and leaves every other
 * byte of the file as it was (comments, order, blank lines, the formatting of untouched lines).
 *
 * Implementation notes:
 * - The file is scanned into statements (table headers and `key = value` lines, with the byte
 *   span of each value, multi-line arrays and strings included); a change replaces one value span,
 *   appends `key = value` after the last statement of its table, appends a new `[table]` at the
 *   end of the file, or removes a key's line.
 * - What it cannot edit without losing something it refuses with a TomlEditError naming the key:
 *   a multi-line value with comments inside (they would be lost), a key inside an inline table
 *   (`greylist = { ... }`), a value that is itself a table, a file that is not valid TOML.
 * - Every result is parsed again (smol-toml) and compared with the original document plus the
 *   changes; any difference is a TomlEditError, so a scanner mistake can never write a file
 *   that means something other than what was asked.
 * - Values are written as TOML: strings quoted with escapes (a literal 'string' stays literal
 *   when it can), integers written where the file had floats keep a ".0", arrays keep a
 *   one-item-per-line layout when the file had one.
 */
import { parse as parseToml } from "smol-toml";

export type TomlValue =
  | string
  | number
  | boolean
  | TomlValue[]
  | { [key: string]: TomlValue };

/** One change: set `path` (["spam", "junk_threshold"]) to `value`, or remove it (undefined). */
export interface TomlChange {
  path: string[];
  value: TomlValue | undefined;
}

/** An edit that cannot be made safely; `key` is the dotted key it concerns. */
export class TomlEditError extends Error {
  constructor(readonly key: string, message: string) {
    super(key ? `${key}: ${message}` : message);
    this.name = "TomlEditError";
  }
}

interface KeyValue {
  /** The table it sits in ([] for the root), then the full path of its key. */
  table: string[];
  path: string[];
  lineStart: number;
  valueStart: number;
  valueEnd: number;
  /** Offset after the statement's line break (or the end of the text). */
  lineEnd: number;
  /** A comment sits inside the value (a multi-line array). */
  commented: boolean;
}

interface Header {
  path: string[];
  array: boolean;
  lineEnd: number;
}

interface Document {
  values: KeyValue[];
  headers: Header[];
}

/**
 * Applies `changes` to TOML `text`, keeping everything else byte for byte.
 *
 * @example
 * editToml('[spam]\njunk_threshold = 5.0 # points\n', [
 *   { path: ["spam", "junk_threshold"], value: 6 },
 * ]); // '[spam]\njunk_threshold = 6.0 # points\n'
 */
export function editToml(text: string, changes: TomlChange[]): string {
  let original: Record<string, unknown>;
  try {
    original = parseToml(text) as Record<string, unknown>;
  } catch (error) {
    throw new TomlEditError("", `the file is not valid TOML: ${firstLine(error)}`);
  }
  const latest = new Map<string, TomlChange>();
  for (const change of changes) {
    if (change.path.length === 0) throw new TomlEditError("", "empty key");
    latest.set(JSON.stringify(change.path), change);
  }
  const doc = scan(text);
  const newline = text.includes("\r\n") ? "\r\n" : "\n";
  const splices: { start: number; end: number; text: string }[] = [];
  const insertions = new Map<number, string[]>();
  const newTables = new Map<string, { path: string[]; lines: string[] }>();
  for (const change of latest.values()) {
    const key = change.path.join(".");
    if (change.value !== undefined) checkValue(change.value, key);
    for (const kv of doc.values) {
      if (startsWith(change.path, kv.path) && kv.path.length < change.path.length) {
        throw new TomlEditError(key, `${kv.path.join(".")} is an inline value; edit it by hand`);
      }
      if (startsWith(kv.path, change.path) && kv.path.length > change.path.length) {
        throw new TomlEditError(key, "is a table, not a value");
      }
    }
    if (doc.headers.some((h) => startsWith(h.path, change.path))) {
      throw new TomlEditError(key, "is a table, not a value");
    }
    const existing = doc.values.find((kv) => samePath(kv.path, change.path));
    if (existing) {
      const span = text.slice(existing.valueStart, existing.valueEnd);
      if (change.value === undefined) {
        splices.push({ start: existing.lineStart, end: existing.lineEnd, text: "" });
      } else if (existing.commented) {
        throw new TomlEditError(
          key,
          "its multi-line value has comments inside that an edit would lose; edit it by hand",
        );
      } else {
        splices.push({
          start: existing.valueStart,
          end: existing.valueEnd,
          text: formatValue(change.value, span, newline),
        });
      }
      continue;
    }
    if (change.value === undefined) continue;
    const table = change.path.slice(0, -1);
    const header = doc.headers.find((h) => !h.array && samePath(h.path, table));
    // The statements of a table: after its header (until the next one), or dotted keys
    // (`greylist.enabled = true` under [spam]) when it has no header.
    const members = header || table.length === 0
      ? doc.values.filter((kv) => samePath(kv.table, table))
      : doc.values.filter((kv) => startsWith(kv.path, table) && kv.table.length < table.length);
    if (header || members.length > 0 || table.length === 0) {
      const last = members.at(-1);
      const at = last ? last.lineEnd : header ? header.lineEnd : 0;
      const relative = change.path.slice(last ? last.table.length : table.length);
      const line = `${formatKey(relative)} = ${formatValue(change.value, null, newline)}`;
      const list = insertions.get(at) ?? [];
      list.push(line);
      insertions.set(at, list);
      continue;
    }
    const id = JSON.stringify(table);
    const section = newTables.get(id) ?? { path: table, lines: [] };
    section.lines.push(
      `${formatKey(change.path.slice(-1))} = ${formatValue(change.value, null, newline)}`,
    );
    newTables.set(id, section);
  }
  for (const [at, lines] of insertions) {
    const needsBreak = at > 0 && at === text.length && !/\n$/.test(text);
    splices.push({
      start: at,
      end: at,
      text: (needsBreak ? newline : "") + lines.map((l) => l + newline).join(""),
    });
  }
  splices.sort((a, b) => b.start - a.start || b.end - a.end);
  let result = text;
  for (const splice of splices) {
    result = result.slice(0, splice.start) + splice.text + result.slice(splice.end);
  }
  if (newTables.size > 0) {
    if (result !== "" && !result.endsWith("\n")) result += newline;
    for (const { path, lines } of newTables.values()) {
      if (result !== "") result += newline;
      result += `[${formatKey(path)}]${newline}${lines.map((l) => l + newline).join("")}`;
    }
  }
  verify(result, original, [...latest.values()]);
  return result;
}

function verify(result: string, original: Record<string, unknown>, changes: TomlChange[]) {
  const keys = changes.map((c) => c.path.join(".")).join(", ");
  let actual: unknown;
  try {
    actual = parseToml(result);
  } catch (error) {
    throw new TomlEditError(keys, `the edited file would not parse: ${firstLine(error)}`);
  }
  const expected = original;
  for (const change of changes) {
    let node: Record<string, unknown> | undefined = expected;
    for (const part of change.path.slice(0, -1)) {
      const next: unknown = node[part];
      if (next !== undefined) node = next as Record<string, unknown>;
      else if (change.value === undefined) node = undefined;
      else node = node[part] = {};
      if (node === undefined) break;
    }
    const last = change.path.at(-1)!;
    if (node === undefined) continue;
    if (change.value === undefined) delete node[last];
    else node[last] = change.value;
  }
  if (!deepEqual(actual, expected)) {
    throw new TomlEditError(keys, "this file's layout cannot be edited safely; edit it by hand");
  }
}

/**
 * Equality of parsed TOML documents (key order ignored).
 *
 * @example
 * deepEqual({ a: [1], b: 2 }, { b: 2, a: [1] }); // true
 */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a === "number" && typeof b === "number") return a === b;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (a instanceof Date || b instanceof Date) {
    return a instanceof Date && b instanceof Date && String(a) === String(b);
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) =>
    Object.hasOwn(b, k) &&
    deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])
  );
}

// ---- writing values ----

const BARE_KEY = /^[A-Za-z0-9_-]+$/;

function formatKey(path: string[]): string {
  return path.map((part) => BARE_KEY.test(part) ? part : basicString(part)).join(".");
}

function checkValue(value: unknown, key: string): void {
  if (typeof value === "string" || typeof value === "boolean") return;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new TomlEditError(key, "expected a finite number");
    if (Number.isInteger(value) && !Number.isSafeInteger(value) && Math.abs(value) < 1e21) {
      throw new TomlEditError(key, "integer out of range");
    }
    return;
  }
  if (Array.isArray(value)) return value.forEach((item) => checkValue(item, key));
  if (typeof value === "object" && value !== null && Object.getPrototypeOf(value) === null) {
    return Object.values(value).forEach((item) => checkValue(item, key));
  }
  if (typeof value === "object" && value !== null && value.constructor === Object) {
    return Object.values(value).forEach((item) => checkValue(item, key));
  }
  throw new TomlEditError(key, `cannot write ${value === null ? "null" : typeof value} as TOML`);
}

/** `value` as TOML, in the style of `original` (the value it replaces) where there is one. */
function formatValue(value: TomlValue, original: string | null, newline: string): string {
  if (typeof value === "string") {
    const literal = original !== null && original.startsWith("'") && !original.startsWith("'''");
    return literal && !needsEscapes(value) ? `'${value}'` : basicString(value);
  }
  if (typeof value === "number") {
    const text = String(value);
    const wasFloat = original !== null && /^[+-]?\d[\d_]*(\.\d|[eE])/.test(original);
    return wasFloat && Number.isInteger(value) && !/e/.test(text) ? `${text}.0` : text;
  }
  if (typeof value === "boolean") return String(value);
  if (Array.isArray(value)) {
    const items = value.map((item) => formatValue(item, null, newline));
    const layout = original !== null && original.startsWith("[") && original.includes("\n")
      ? /\n([ \t]*)\S[\s\S]*\n([ \t]*)\]$/.exec(original)
      : null;
    if (layout && items.length > 0) {
      return `[${newline}${items.map((item) => `${layout[1]}${item},${newline}`).join("")}${
        layout[2]
      }]`;
    }
    return `[${items.join(", ")}]`;
  }
  const entries = Object.entries(value).map(([k, v]) =>
    `${formatKey([k])} = ${formatValue(v, null, newline)}`
  );
  return entries.length ? `{ ${entries.join(", ")} }` : "{}";
}

/** A quote or a control character other than tab: a literal string cannot hold it. */
function needsEscapes(value: string): boolean {
  for (const char of value) {
    const code = char.codePointAt(0)!;
    if (char === "'" || (code < 0x20 && char !== "\t") || code === 0x7f) return true;
  }
  return false;
}

function basicString(value: string): string {
  let out = '"';
  for (const char of value) {
    const code = char.codePointAt(0)!;
    if (char === '"') out += '\\"';
    else if (char === "\\") out += "\\\\";
    else if (char === "\n") out += "\\n";
    else if (char === "\t") out += "\\t";
    else if (char === "\r") out += "\\r";
    else if (code < 0x20 || code === 0x7f) out += `\\u${code.toString(16).padStart(4, "0")}`;
    else out += char;
  }
  return out + '"';
}

// ---- reading the file ----

function scan(text: string): Document {
  const doc: Document = { values: [], headers: [] };
  let table: string[] = [];
  let i = 0;
  const fail = (message: string): never => {
    const line = text.slice(0, i).split("\n").length;
    throw new TomlEditError("", `cannot read line ${line}: ${message}`);
  };
  while (i < text.length) {
    i = skipBlank(text, i, true).end;
    if (i >= text.length) break;
    const lineStart = text.lastIndexOf("\n", i - 1) + 1;
    if (text[i] === "[") {
      const array = text[i + 1] === "[";
      i += array ? 2 : 1;
      const key = readKey(text, i, fail);
      i = skipSpaces(text, key.end);
      if (!text.startsWith(array ? "]]" : "]", i)) fail("expected ] after a table name");
      i += array ? 2 : 1;
      i = endOfLine(text, i, fail);
      table = key.parts;
      doc.headers.push({ path: key.parts, array, lineEnd: i });
      continue;
    }
    const key = readKey(text, i, fail);
    i = skipSpaces(text, key.end);
    if (text[i] !== "=") fail("expected =");
    const valueStart = skipSpaces(text, i + 1);
    const value = readValue(text, valueStart, fail);
    i = endOfLine(text, value.end, fail);
    doc.values.push({
      table,
      path: [...table, ...key.parts],
      lineStart,
      valueStart,
      valueEnd: value.end,
      lineEnd: i,
      commented: value.commented,
    });
  }
  return doc;
}

function skipSpaces(text: string, i: number): number {
  while (text[i] === " " || text[i] === "\t") i++;
  return i;
}

/** Skips spaces, comments and (when `lines`) line breaks; says whether a comment was seen. */
function skipBlank(text: string, i: number, lines: boolean): { end: number; commented: boolean } {
  let commented = false;
  for (;;) {
    i = skipSpaces(text, i);
    if (text[i] === "#") {
      commented = true;
      while (i < text.length && text[i] !== "\n") i++;
    } else if (lines && (text[i] === "\n" || (text[i] === "\r" && text[i + 1] === "\n"))) {
      i += text[i] === "\r" ? 2 : 1;
    } else {
      return { end: i, commented };
    }
  }
}

/** After a statement: spaces, an optional comment, then a line break or the end. */
function endOfLine(text: string, i: number, fail: (m: string) => never): number {
  i = skipBlank(text, i, false).end;
  if (i >= text.length) return i;
  if (text[i] === "\n") return i + 1;
  if (text[i] === "\r" && text[i + 1] === "\n") return i + 2;
  return fail("expected the end of the line");
}

function readKey(
  text: string,
  i: number,
  fail: (m: string) => never,
): { parts: string[]; end: number } {
  const parts: string[] = [];
  for (;;) {
    i = skipSpaces(text, i);
    if (text[i] === '"' || text[i] === "'") {
      const end = readValue(text, i, fail).end;
      parts.push(parseToml(`k = ${text.slice(i, end)}`).k as string);
      i = end;
    } else {
      const start = i;
      while (i < text.length && /[A-Za-z0-9_-]/.test(text[i])) i++;
      if (i === start) fail("expected a key");
      parts.push(text.slice(start, i));
    }
    i = skipSpaces(text, i);
    if (text[i] !== ".") return { parts, end: i };
    i++;
  }
}

/** The end of the value starting at `i`, and whether a comment sits inside it. */
function readValue(
  text: string,
  i: number,
  fail: (m: string) => never,
): { end: number; commented: boolean } {
  const quote = text[i];
  if (quote === '"' || quote === "'") {
    if (text.startsWith(quote.repeat(3), i)) {
      let j = i + 3;
      for (;;) {
        if (j >= text.length) fail("unterminated multi-line string");
        if (quote === '"' && text[j] === "\\") {
          j += 2;
        } else if (text.startsWith(quote.repeat(3), j)) {
          let end = j + 3;
          while (text[end] === quote && end < j + 5) end++;
          return { end, commented: false };
        } else {
          j++;
        }
      }
    }
    let j = i + 1;
    while (text[j] !== quote) {
      if (j >= text.length || text[j] === "\n") fail("unterminated string");
      j += quote === '"' && text[j] === "\\" ? 2 : 1;
    }
    return { end: j + 1, commented: false };
  }
  if (quote === "[" || quote === "{") {
    const close = quote === "[" ? "]" : "}";
    let j = i + 1;
    let commented = false;
    for (;;) {
      const blank = skipBlank(text, j, true);
      commented ||= blank.commented;
      j = blank.end;
      if (j >= text.length) fail(`missing ${close}`);
      if (text[j] === close) return { end: j + 1, commented };
      if (text[j] === ",") {
        j++;
        continue;
      }
      if (quote === "{") {
        const key = readKey(text, j, fail);
        j = skipSpaces(text, key.end);
        if (text[j] !== "=") fail("expected = in an inline table");
        j = skipSpaces(text, j + 1);
      }
      const item = readValue(text, j, fail);
      commented ||= item.commented;
      j = item.end;
    }
  }
  let j = i;
  while (j < text.length && !/[\s#,\]}]/.test(text[j])) j++;
  // A date and time may be separated by one space: 1979-05-27 07:32:00Z.
  if (/^\d{4}-\d{2}-\d{2}$/.test(text.slice(i, j)) && / \d{2}:/.test(text.slice(j, j + 4))) {
    j++;
    while (j < text.length && !/[\s#,\]}]/.test(text[j])) j++;
  }
  if (j === i) fail("expected a value");
  return { end: j, commented: false };
}

function samePath(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((part, i) => part === b[i]);
}

/** `path` begins with `prefix`. */
function startsWith(path: string[], prefix: string[]): boolean {
  return prefix.length <= path.length && prefix.every((part, i) => part === path[i]);
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0];
}
