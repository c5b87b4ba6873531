/**
 * FETCH and STORE arguments (RFC 9051 6.4.5, 6.4.6, 9; RFC 3516 BINARY; RFC 7162 CONDSTORE and
 * QRESYNC modifiers; RFC 8474 EMAILID/THREADID; RFC 8970 PREVIEW; RFC 8514 SAVEDATE).
 *
 * Implementation notes:
 * - Macros (ALL, FAST, FULL) are expanded to their attributes (RFC 9051 6.4.5) and stand alone;
 *   they may not appear inside a parenthesised list.
 * - MIME needs a part number (`BODY[MIME]` is a syntax error); BINARY sections are part numbers
 *   only.
 * - VANISHED needs CHANGEDSINCE and UID FETCH (RFC 7162 3.2.6); the parser enforces both.
 */
import type { Cursor } from "./cursor.ts";
import type {
  FetchArgs,
  FetchAttribute,
  ParserLimits,
  Partial,
  Section,
  SimpleFetchItem,
  StoreArgs,
} from "./types.ts";
import { flag, flagList, list, sequenceSet } from "./values.ts";

const SIMPLE = new Set<string>([
  "ENVELOPE",
  "FLAGS",
  "INTERNALDATE",
  "RFC822",
  "RFC822.HEADER",
  "RFC822.SIZE",
  "RFC822.TEXT",
  "BODY",
  "BODYSTRUCTURE",
  "UID",
  "MODSEQ",
  "EMAILID",
  "THREADID",
  "SAVEDATE",
]);

const MACROS: Record<string, SimpleFetchItem[]> = {
  ALL: ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"],
  FAST: ["FLAGS", "INTERNALDATE", "RFC822.SIZE"],
  FULL: ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"],
};

/** FETCH SP sequence-set SP (macro / fetch-att / "(" ... ")") [fetch-modifiers] */
export function fetchArgs(c: Cursor, limits: ParserLimits, uid: boolean): FetchArgs {
  c.sp();
  const sequence = sequenceSet(c, limits);
  c.sp();
  let attributes: FetchAttribute[];
  let macro: FetchArgs["macro"] = null;
  if (c.take(0x28)) {
    attributes = [];
    do {
      if (attributes.length >= limits.maxFetchAttributes) {
        c.reject(`more than ${limits.maxFetchAttributes} fetch attributes`);
      }
      attributes.push(fetchAttribute(c, limits));
    } while (c.take(0x20));
    c.expect(0x29, '")" or SP and a fetch attribute');
  } else {
    for (const name of ["ALL", "FAST", "FULL"] as const) {
      if (c.takeWord(name)) {
        macro = name;
        break;
      }
    }
    attributes = macro ? MACROS[macro].map((kind) => ({ kind })) : [fetchAttribute(c, limits)];
  }
  let changedSince: number | null = null;
  let vanished = false;
  if (c.take(0x20)) {
    list(c, limits, () => {
      const name = c.keyword("a fetch modifier (CHANGEDSINCE, VANISHED)");
      if (name === "CHANGEDSINCE" && changedSince === null) {
        c.sp();
        changedSince = c.number64("a mod-sequence", true);
      } else if (name === "VANISHED" && !vanished) vanished = true;
      else c.reject(`unknown or repeated fetch modifier ${name}`);
    }, "fetch modifiers");
  }
  if (vanished && !uid) c.reject("VANISHED is allowed in UID FETCH only");
  if (vanished && changedSince === null) c.reject("VANISHED requires CHANGEDSINCE");
  return { sequence, attributes, macro, changedSince, vanished };
}

function fetchAttribute(c: Cursor, limits: ParserLimits): FetchAttribute {
  const name = c.word("a fetch attribute");
  if (c.peek() === 0x5b) { // "["
    switch (name) {
      case "BODY":
      case "BODY.PEEK": {
        const section = bodySection(c, limits);
        return { kind: "BODY[]", peek: name === "BODY.PEEK", section, partial: partial(c) };
      }
      case "BINARY":
      case "BINARY.PEEK": {
        const part = binarySection(c);
        return { kind: "BINARY[]", peek: name === "BINARY.PEEK", part, partial: partial(c) };
      }
      case "BINARY.SIZE":
        return { kind: "BINARY.SIZE", part: binarySection(c) };
    }
    c.fail(`a fetch attribute (${name}[ is not one)`);
  }
  if (SIMPLE.has(name)) return { kind: name as SimpleFetchItem };
  if (name === "PREVIEW") {
    let lazy = false;
    if (c.peek() === 0x20 && c.peek(1) === 0x28) {
      c.sp();
      list(c, limits, () => {
        if (!c.takeWord("LAZY")) c.fail("LAZY");
        lazy = true;
      }, "preview modifiers");
    }
    return { kind: "PREVIEW", lazy };
  }
  if (name in MACROS) c.reject(`${name} is a macro and cannot be combined with other attributes`);
  return c.reject(`unknown fetch attribute ${name.slice(0, 40)}`);
}

/** section-part = nz-number *("." nz-number), read while a digit follows each dot. */
function sectionPart(c: Cursor): number[] {
  const part: number[] = [];
  const d = c.peek();
  if (d < 0x30 || d > 0x39) return part;
  part.push(c.nzNumber("a part number"));
  while (c.peek() === 0x2e && c.peek(1) >= 0x30 && c.peek(1) <= 0x39) {
    c.take(0x2e);
    if (part.length >= 100) c.reject("part number nested deeper than 100");
    part.push(c.nzNumber("a part number"));
  }
  return part;
}

/** section = "[" [section-spec] "]" */
function bodySection(c: Cursor, limits: ParserLimits): Section {
  c.expect(0x5b, '"["');
  const part = sectionPart(c);
  let text: Section["text"] = null;
  const fields: string[] = [];
  if (part.length === 0 || c.take(0x2e)) {
    if (c.peek() !== 0x5d || part.length > 0) {
      const name = c.word("HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT, TEXT or MIME");
      if (
        name !== "HEADER" && name !== "HEADER.FIELDS" && name !== "HEADER.FIELDS.NOT" &&
        name !== "TEXT" && !(name === "MIME" && part.length > 0)
      ) {
        c.reject(`unknown section text ${name.slice(0, 40)}`);
      }
      text = name as Section["text"];
      if (name === "HEADER.FIELDS" || name === "HEADER.FIELDS.NOT") {
        c.sp();
        fields.push(
          ...list(c, limits, () => c.text(c.astring("a header field name")), "header fields"),
        );
      }
    }
  }
  c.expect(0x5d, '"]"');
  return { part, text, fields };
}

/** section-binary = "[" [section-part] "]" */
function binarySection(c: Cursor): number[] {
  c.expect(0x5b, '"["');
  const part = sectionPart(c);
  c.expect(0x5d, '"]" (BINARY sections are part numbers only)');
  return part;
}

/** partial = "<" number64 "." nz-number64 ">" */
function partial(c: Cursor): Partial | null {
  if (!c.take(0x3c)) return null;
  const offset = c.number64("a partial offset");
  c.expect(0x2e, '"."');
  const length = c.number64("a partial length", true);
  c.expect(0x3e, '">"');
  return { offset, length };
}

/** STORE SP sequence-set [store-modifiers] SP store-att-flags */
export function storeArgs(c: Cursor, limits: ParserLimits): StoreArgs {
  c.sp();
  const sequence = sequenceSet(c, limits);
  c.sp();
  let unchangedSince: number | null = null;
  if (c.peek() === 0x28) {
    list(c, limits, () => {
      if (!c.takeWord("UNCHANGEDSINCE") || unchangedSince !== null) {
        c.fail("UNCHANGEDSINCE (once)");
      }
      c.sp();
      unchangedSince = c.number64("a mod-sequence");
    }, "store modifiers");
    c.sp();
  }
  const action = c.take(0x2b) ? "add" : c.take(0x2d) ? "remove" : "set";
  const item = c.word("FLAGS, +FLAGS or -FLAGS");
  if (item !== "FLAGS" && item !== "FLAGS.SILENT") c.reject(`unknown store item ${item}`);
  c.sp();
  let flags: string[];
  if (c.peek() === 0x28) flags = flagList(c, limits);
  else {
    flags = [flag(c)];
    while (c.take(0x20)) {
      if (flags.length >= limits.maxListItems) c.reject(`more than ${limits.maxListItems} flags`);
      flags.push(flag(c));
    }
  }
  return { sequence, action, silent: item === "FLAGS.SILENT", flags, unchangedSince };
}
