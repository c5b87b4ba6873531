/**
 * Which Sieve commands and tests exist, what arguments each takes, and which capability (the
 * string given to `require`) enables each name and each tag: RFC 5228 and its extensions as one
 * declarative table. compile.ts validates scripts against it; the interpreter reads arguments
 * with `bindArguments`.
 *
 * Implementation notes:
 * - A signature lists tags (with the kind of value a tag takes, or none), mutually exclusive tag
 *   groups (at most one tag of a group), and positional arguments in order. Optional positional
 *   arguments are filled left to right with the arguments beyond the required ones: setflag's
 *   leading variable name, deleteheader's trailing value patterns.
 * - A "stringList" argument also accepts a single string (RFC 5228 2.4.2.1); a "string" argument
 *   does not accept a list, not even a list of one.
 * - `requires` is a list of alternatives: any one of the capabilities enables the name or tag
 *   ("vacation-seconds" implies "vacation", RFC 6131 2; "spamtestplus" implies "spamtest").
 */
import type { Argument, Command, Test } from "./ast.ts";

/** The kinds of value a positional argument or a tag's value can be. */
export type ValueKind = "string" | "stringList" | "number";

export interface TagSpec {
  /** Lower-case, without the colon. */
  name: string;
  /** The kind of the argument that follows the tag, or undefined for a tag alone. */
  value?: ValueKind;
  /** Capabilities of which one must be required to use this tag; undefined: always there. */
  requires?: readonly string[];
  /** Tags of one group exclude each other ("match-type", "address-part", ...). */
  group?: string;
}

export interface PositionalSpec {
  /** The name the RFC grammar gives it ("header-names", "key-list", ...). */
  name: string;
  kind: ValueKind;
  optional?: boolean;
}

export interface Signature {
  kind: "command" | "test";
  name: string;
  /** Capabilities of which one must be required; undefined: RFC 5228 base language. */
  requires?: readonly string[];
  tags: readonly TagSpec[];
  /** Groups of which exactly one tag must be given (size's :over/:under). */
  requiredGroups?: readonly string[];
  positional: readonly PositionalSpec[];
  /** Tests it takes: none, exactly one (if, not), or a test list (allof, anyof). */
  tests: "none" | "one" | "list";
  /** Commands only: whether it takes a block (if, foreverypart) or ends in ";". */
  block: boolean;
}

// ---- shared tag sets ----

const COMPARATOR: TagSpec = { name: "comparator", value: "string" };

const MATCH_TYPE: readonly TagSpec[] = [
  { name: "is", group: "match-type" },
  { name: "contains", group: "match-type" },
  { name: "matches", group: "match-type" },
  { name: "regex", group: "match-type", requires: ["regex"] },
  { name: "value", value: "string", group: "match-type", requires: ["relational"] },
  { name: "count", value: "string", group: "match-type", requires: ["relational"] },
];

const ADDRESS_PART: readonly TagSpec[] = [
  { name: "all", group: "address-part" },
  { name: "localpart", group: "address-part" },
  { name: "domain", group: "address-part" },
  { name: "user", group: "address-part", requires: ["subaddress"] },
  { name: "detail", group: "address-part", requires: ["subaddress"] },
];

/** RFC 5260 7: :index and :last on header, address and date. */
const INDEX: readonly TagSpec[] = [
  { name: "index", value: "number", requires: ["index"] },
  { name: "last", requires: ["index"] },
];

/** RFC 5703 4.1: header, address and exists look into MIME parts. */
const MIME_PARTS: readonly TagSpec[] = [
  { name: "mime", requires: ["mime"] },
  { name: "anychild", requires: ["mime"] },
];

/** RFC 5229 4.1 modifiers, one per precedence group; :quoteregex (regex draft), :encodeurl (RFC 5435 6). */
const SET_MODIFIERS: readonly TagSpec[] = [
  { name: "lower", group: "case" },
  { name: "upper", group: "case" },
  { name: "lowerfirst", group: "casefirst" },
  { name: "upperfirst", group: "casefirst" },
  { name: "quotewildcard", group: "quote" },
  { name: "quoteregex", group: "quote", requires: ["regex"] },
  { name: "encodeurl", group: "encodeurl", requires: ["enotify"] },
  { name: "length", group: "length" },
];

const MATCH = [COMPARATOR, ...MATCH_TYPE];

function command(
  name: string,
  rest: Partial<Omit<Signature, "kind" | "name">> = {},
): Signature {
  return { kind: "command", name, tags: [], positional: [], tests: "none", block: false, ...rest };
}

function test(name: string, rest: Partial<Omit<Signature, "kind" | "name">> = {}): Signature {
  return { kind: "test", name, tags: [], positional: [], tests: "none", block: false, ...rest };
}

const str = (name: string, optional = false): PositionalSpec =>
  optional ? { name, kind: "string", optional } : { name, kind: "string" };
const list = (name: string, optional = false): PositionalSpec =>
  optional ? { name, kind: "stringList", optional } : { name, kind: "stringList" };

const COMMANDS: readonly Signature[] = [
  // RFC 5228 3 and 4
  command("require", { positional: [list("capabilities")] }),
  command("if", { tests: "one", block: true }),
  command("elsif", { tests: "one", block: true }),
  command("else", { block: true }),
  command("stop"),
  command("keep", {
    tags: [{ name: "flags", value: "stringList", requires: ["imap4flags"] }],
  }),
  command("discard"),
  command("redirect", {
    tags: [{ name: "copy", requires: ["copy"] }],
    positional: [str("address")],
  }),
  command("fileinto", {
    requires: ["fileinto"],
    tags: [
      { name: "copy", requires: ["copy"] },
      { name: "flags", value: "stringList", requires: ["imap4flags"] },
      { name: "create", requires: ["mailbox"] },
      { name: "mailboxid", value: "string", requires: ["mailboxid"] },
      { name: "specialuse", value: "string", requires: ["special-use"] },
    ],
    positional: [str("mailbox")],
  }),
  // RFC 5429
  command("reject", { requires: ["reject"], positional: [str("reason")] }),
  command("ereject", { requires: ["ereject"], positional: [str("reason")] }),
  // RFC 5230, RFC 6131
  command("vacation", {
    requires: ["vacation", "vacation-seconds"],
    tags: [
      { name: "days", value: "number", group: "period" },
      { name: "seconds", value: "number", group: "period", requires: ["vacation-seconds"] },
      { name: "subject", value: "string" },
      { name: "from", value: "string" },
      { name: "addresses", value: "stringList" },
      { name: "mime" },
      { name: "handle", value: "string" },
    ],
    positional: [str("reason")],
  }),
  // RFC 5232
  ...["setflag", "addflag", "removeflag"].map((name) =>
    command(name, {
      requires: ["imap4flags"],
      positional: [str("variablename", true), list("list-of-flags")],
    })
  ),
  // RFC 5229
  command("set", {
    requires: ["variables"],
    tags: SET_MODIFIERS,
    positional: [str("name"), str("value")],
  }),
  // RFC 5293
  command("addheader", {
    requires: ["editheader"],
    tags: [{ name: "last" }],
    positional: [str("field-name"), str("value")],
  }),
  command("deleteheader", {
    requires: ["editheader"],
    tags: [{ name: "index", value: "number" }, { name: "last" }, ...MATCH],
    positional: [str("field-name"), list("value-patterns", true)],
  }),
  // RFC 6609
  command("include", {
    requires: ["include"],
    tags: [
      { name: "personal", group: "location" },
      { name: "global", group: "location" },
      { name: "once" },
      { name: "optional" },
    ],
    positional: [str("script-name")],
  }),
  command("return", { requires: ["include"] }),
  command("global", { requires: ["include"], positional: [list("value")] }),
  // RFC 5463
  command("error", { requires: ["ihave"], positional: [str("message")] }),
  // RFC 5703
  command("foreverypart", {
    requires: ["foreverypart"],
    tags: [{ name: "name", value: "string" }],
    block: true,
  }),
  command("break", { requires: ["foreverypart"], tags: [{ name: "name", value: "string" }] }),
  command("replace", {
    requires: ["replace"],
    tags: [{ name: "mime" }, { name: "subject", value: "string" }, {
      name: "from",
      value: "string",
    }],
    positional: [str("replacement")],
  }),
  command("enclose", {
    requires: ["enclose"],
    tags: [{ name: "subject", value: "string" }, { name: "headers", value: "stringList" }],
    positional: [str("body")],
  }),
  command("extracttext", {
    requires: ["extracttext"],
    tags: [...SET_MODIFIERS, { name: "first", value: "number" }],
    positional: [str("varname")],
  }),
  // RFC 5435
  command("notify", {
    requires: ["enotify"],
    tags: [
      { name: "from", value: "string" },
      { name: "importance", value: "string" },
      { name: "options", value: "stringList" },
      { name: "message", value: "string" },
    ],
    positional: [str("method")],
  }),
];

const TESTS: readonly Signature[] = [
  // RFC 5228 5
  test("address", {
    tags: [...MATCH, ...ADDRESS_PART, ...INDEX, ...MIME_PARTS],
    positional: [list("header-list"), list("key-list")],
  }),
  test("allof", { tests: "list" }),
  test("anyof", { tests: "list" }),
  test("envelope", {
    requires: ["envelope"],
    tags: [...MATCH, ...ADDRESS_PART],
    positional: [list("envelope-part"), list("key-list")],
  }),
  test("exists", { tags: MIME_PARTS, positional: [list("header-names")] }),
  test("false"),
  test("header", {
    tags: [
      ...MATCH,
      ...INDEX,
      ...MIME_PARTS,
      { name: "type", group: "mime-part", requires: ["mime"] },
      { name: "subtype", group: "mime-part", requires: ["mime"] },
      { name: "contenttype", group: "mime-part", requires: ["mime"] },
      { name: "param", value: "stringList", group: "mime-part", requires: ["mime"] },
    ],
    positional: [list("header-names"), list("key-list")],
  }),
  test("not", { tests: "one" }),
  test("size", {
    tags: [{ name: "over", group: "size" }, { name: "under", group: "size" }],
    requiredGroups: ["size"],
    positional: [{ name: "limit", kind: "number" }],
  }),
  test("true"),
  // RFC 5173
  test("body", {
    requires: ["body"],
    tags: [
      ...MATCH,
      { name: "raw", group: "body-transform" },
      { name: "content", value: "stringList", group: "body-transform" },
      { name: "text", group: "body-transform" },
    ],
    positional: [list("key-list")],
  }),
  // RFC 5229 5
  test("string", {
    requires: ["variables"],
    tags: MATCH,
    positional: [list("source"), list("key-list")],
  }),
  // RFC 5260
  test("date", {
    requires: ["date"],
    tags: [
      ...MATCH,
      ...INDEX,
      { name: "zone", value: "string", group: "zone" },
      { name: "originalzone", group: "zone" },
    ],
    positional: [str("header-name"), str("date-part"), list("key-list")],
  }),
  test("currentdate", {
    requires: ["date"],
    tags: [...MATCH, { name: "zone", value: "string" }],
    positional: [str("date-part"), list("key-list")],
  }),
  // RFC 5232
  test("hasflag", {
    requires: ["imap4flags"],
    tags: MATCH,
    positional: [list("variable-list", true), list("list-of-flags")],
  }),
  // RFC 5235
  test("spamtest", {
    requires: ["spamtest", "spamtestplus"],
    tags: [...MATCH, { name: "percent", requires: ["spamtestplus"] }],
    positional: [str("value")],
  }),
  test("virustest", { requires: ["virustest"], tags: MATCH, positional: [str("value")] }),
  // RFC 5183
  test("environment", {
    requires: ["environment"],
    tags: MATCH,
    positional: [str("name"), list("key-list")],
  }),
  // RFC 5463
  test("ihave", { requires: ["ihave"], positional: [list("capabilities")] }),
  // RFC 5490, RFC 9042, RFC 8579
  test("mailboxexists", { requires: ["mailbox"], positional: [list("mailbox-names")] }),
  test("mailboxidexists", { requires: ["mailboxid"], positional: [list("mailbox-ids")] }),
  test("specialuse_exists", {
    requires: ["special-use"],
    positional: [str("mailbox", true), list("special-use-attrs")],
  }),
  // RFC 7352
  test("duplicate", {
    requires: ["duplicate"],
    tags: [
      { name: "handle", value: "string" },
      { name: "header", value: "string", group: "id" },
      { name: "uniqueid", value: "string", group: "id" },
      { name: "seconds", value: "number" },
      { name: "last" },
    ],
  }),
  // RFC 5435
  test("valid_notify_method", { requires: ["enotify"], positional: [list("notification-uris")] }),
  test("notify_method_capability", {
    requires: ["enotify"],
    tags: MATCH,
    positional: [str("notification-uri"), str("notification-capability"), list("key-list")],
  }),
];

const BY_KIND = {
  command: new Map(COMMANDS.map((s) => [s.name, s])),
  test: new Map(TESTS.map((s) => [s.name, s])),
};

/** The signature of a command or test, or undefined for a name no extension defines. */
export function signatureOf(kind: "command" | "test", name: string): Signature | undefined {
  return BY_KIND[kind].get(name);
}

/** Comparators (RFC 4790) and the capability each needs; i;octet and i;ascii-casemap need none (RFC 5228 2.7.3). */
export const COMPARATORS: ReadonlyMap<string, string | null> = new Map([
  ["i;octet", null],
  ["i;ascii-casemap", null],
  ["i;ascii-numeric", "comparator-i;ascii-numeric"],
]);

/** Every capability string this implementation supports, for ManageSieve's SIEVE line. */
export const SUPPORTED_EXTENSIONS: readonly string[] = [
  "fileinto",
  "reject",
  "ereject",
  "envelope",
  "encoded-character",
  "comparator-i;ascii-numeric",
  "comparator-i;octet",
  "relational",
  "subaddress",
  "vacation",
  "vacation-seconds",
  "imap4flags",
  "copy",
  "body",
  "variables",
  "date",
  "index",
  "editheader",
  "mailbox",
  "mailboxid",
  "include",
  "duplicate",
  "regex",
  "spamtest",
  "spamtestplus",
  "virustest",
  "environment",
  "ihave",
  "special-use",
  "foreverypart",
  "mime",
  "extracttext",
  "replace",
  "enclose",
  "enotify",
];

/** Notification methods of enotify (RFC 5435 4), for ManageSieve's NOTIFY line. */
export const NOTIFY_METHODS: readonly string[] = ["mailto"];

/**
 * Sorts a command's or test's arguments into tags (a tag with a value maps to the value, a tag
 * alone to `true`) and positional arguments in order. Lenient: a tag the signature does not know
 * maps to `true`, and a tag's missing value is left out; compile.ts has refused such scripts.
 *
 * @example
 * const { tags, positional } = bindArguments(cmd, signatureOf("command", "fileinto")!);
 * const mailbox = positional[0]; // { kind: "string", value: "INBOX.x", ... }
 */
export function bindArguments(
  node: Command | Test,
  signature: Signature,
): { tags: Map<string, Argument | true>; positional: Argument[] } {
  const tags = new Map<string, Argument | true>();
  const positional: Argument[] = [];
  const args = node.arguments;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg.kind !== "tag") {
      positional.push(arg);
      continue;
    }
    const spec = signature.tags.find((t) => t.name === arg.name);
    if (spec?.value !== undefined && i + 1 < args.length && args[i + 1].kind !== "tag") {
      tags.set(arg.name, args[i + 1]);
      i++;
    } else {
      tags.set(arg.name, true);
    }
  }
  return { tags, positional };
}

/** Whether an argument is acceptable where a value of `kind` is expected. */
export function argumentFits(arg: Argument, kind: ValueKind): boolean {
  if (kind === "stringList") return arg.kind === "string" || arg.kind === "stringList";
  return arg.kind === kind;
}

/** The strings of a string or string-list argument ([] for others). */
export function stringsOf(arg: Argument | true | undefined): string[] {
  if (arg === undefined || arg === true) return [];
  if (arg.kind === "string") return [arg.value];
  if (arg.kind === "stringList") return arg.values;
  return [];
}
