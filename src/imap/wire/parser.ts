/**
 * IMAP4rev2/rev1 command parser (RFC 9051 9, RFC 3501 9, and the extensions listed in
 * `types.ts`): an assembled command (see `assembler.ts`) into a typed `ImapCommand`.
 *
 * Implementation notes:
 * - Pure and I/O-free; the session owns the connection and feeds `CommandAssembler`, then calls
 *   `parseCommand` on each complete command.
 * - A client mistake is a value: `parseCommand` returns a `ParseError` (tag when one was read,
 *   a text naming what was expected at which octet), never throws, for any input. The session
 *   answers `tag BAD [code] text`, or `* BAD` when `tag` is null.
 * - Syntax only: whether a command is allowed in the current state, or an extension is enabled
 *   (CONDSTORE, QRESYNC, UTF8=ACCEPT), is the session's decision.
 * - Every list and every recursion is bounded by `ParserLimits`; the assembler bounds octets.
 */
import type { AssembledCommand } from "./assembler.ts";
import { Cursor, isAtomChar, ParseError } from "./cursor.ts";
import { fetchArgs, storeArgs } from "./fetch.ts";
import { charset, returnOptions, SearchContext, searchKeys } from "./search.ts";
import type {
  AppendMessage,
  CommandArgs,
  CommandName,
  ImapCommand,
  ListArgs,
  ListSelectOption,
  ParserLimits,
  QresyncParams,
  SearchArgs,
  SelectArgs,
  SequenceSet,
  SortArgs,
  SortKey,
  StatusItem,
  ThreadArgs,
} from "./types.ts";
import { dateTime, flagList, list, mailbox, sequenceSet } from "./values.ts";

export { ParseError } from "./cursor.ts";
export * from "./types.ts";
export {
  type AssembledCommand,
  type AssemblerOptions,
  type AssemblerStep,
  CommandAssembler,
  type CommandError,
  type Literal,
  LITERAL_MINUS_MAX,
} from "./assembler.ts";

/** Defaults for `ParserLimits` (config may override). */
export const DEFAULT_PARSER_LIMITS: Readonly<ParserLimits> = {
  maxNestingDepth: 16,
  maxSearchKeys: 1000,
  maxFetchAttributes: 100,
  maxSequenceRanges: 100_000,
  maxListItems: 1000,
};

const NO_ARGS = new Set<string>([
  "CAPABILITY",
  "NOOP",
  "LOGOUT",
  "STARTTLS",
  "IDLE",
  "CHECK",
  "CLOSE",
  "UNSELECT",
  "EXPUNGE",
  "NAMESPACE",
  "UNAUTHENTICATE",
]);

const STATUS_ITEMS = new Set<string>([
  "MESSAGES",
  "UIDNEXT",
  "UIDVALIDITY",
  "UNSEEN",
  "DELETED",
  "SIZE",
  "RECENT",
  "HIGHESTMODSEQ",
  "APPENDLIMIT",
  "MAILBOXID",
]);

const SORT_KEYS = new Set<string>([
  "ARRIVAL",
  "CC",
  "DATE",
  "FROM",
  "SIZE",
  "SUBJECT",
  "TO",
  "DISPLAYFROM",
  "DISPLAYTO",
]);

/**
 * Parses one assembled command into its typed form, or returns the `ParseError` to answer.
 *
 * @example
 * ```ts
 * const parsed = parseCommand(step.command);
 * if (parsed instanceof ParseError) send(`${parsed.tag ?? "*"} BAD ${parsed.message}`);
 * else if (parsed.command === "SELECT") select(parsed.args.mailbox, parsed.args.condstore);
 * ```
 */
export function parseCommand(
  command: AssembledCommand,
  limits: ParserLimits = DEFAULT_PARSER_LIMITS,
): ImapCommand | ParseError {
  const c = new Cursor(command);
  try {
    return parse(c, limits);
  } catch (error) {
    if (error instanceof ParseError) return error;
    // Never expected; kept so that no input can take the connection down.
    return new ParseError(c.tag, -1, `command could not be parsed (${String(error)})`);
  }
}

/** Parses a command given as text without literals (tests, tools). */
export function parseCommandLine(
  line: string,
  limits: ParserLimits = DEFAULT_PARSER_LIMITS,
): ImapCommand | ParseError {
  return parseCommand({ lines: [new TextEncoder().encode(line)], literals: [] }, limits);
}

function tag(c: Cursor): string {
  const start = c.position;
  let tag = "";
  for (;;) {
    const x = c.peek();
    if ((!isAtomChar(x) && x !== 0x5d) || x === 0x2b) break;
    c.take(x);
    tag += String.fromCharCode(x);
  }
  if (tag.length === 0) {
    throw new ParseError(null, start, "expected a tag at position 0");
  }
  return tag;
}

function make<K extends CommandName>(tag: string, command: K, args: CommandArgs[K]): ImapCommand {
  return { tag, command, args } as ImapCommand;
}

function parse(c: Cursor, limits: ParserLimits): ImapCommand {
  const t = tag(c);
  if (c.peek() !== 0x20) {
    throw new ParseError(null, c.position, `expected SP after the tag at position ${c.position}`);
  }
  c.tag = t;
  c.sp();
  let name = c.keyword("a command name");
  if (name === "UID") {
    c.sp();
    const sub = c.keyword("a UID command");
    if (
      !["COPY", "MOVE", "FETCH", "SEARCH", "STORE", "EXPUNGE", "SORT", "THREAD", "REPLACE"]
        .includes(sub)
    ) {
      c.reject(`unknown UID command ${sub.slice(0, 40)}`);
    }
    name = `UID ${sub}`;
  }
  c.context = name;
  const result = commandArgs(c, limits, t, name);
  if (!c.atEnd()) c.fail("end of command");
  return result;
}

function commandArgs(c: Cursor, limits: ParserLimits, t: string, name: string): ImapCommand {
  if (NO_ARGS.has(name)) return make(t, name as "NOOP", {});
  switch (name) {
    case "AUTHENTICATE": {
      c.sp();
      const mechanism = c.keyword("a SASL mechanism");
      let initialResponse: string | null = null;
      if (c.take(0x20)) {
        initialResponse = c.atom("a base64 initial response or =");
        if (!/^(=|[A-Za-z0-9+/]+={0,2})$/.test(initialResponse)) {
          c.reject("initial response is not base64");
        }
      }
      return make(t, name, { mechanism, initialResponse });
    }
    case "LOGIN": {
      c.sp();
      const userid = c.text(c.astring("a user name"), "user name");
      c.sp();
      const password = c.text(c.astring("a password"), "password");
      return make(t, name, { userid, password });
    }
    case "ENABLE": {
      const capabilities: string[] = [];
      do {
        c.sp();
        if (capabilities.length >= limits.maxListItems) c.reject("too many capabilities");
        capabilities.push(c.keyword("a capability name"));
      } while (!c.atEnd());
      return make(t, name, { capabilities });
    }
    case "SELECT":
    case "EXAMINE":
      return make(t, name, selectArgs(c, limits));
    case "CREATE": {
      c.sp();
      const box = mailbox(c);
      let specialUse: string[] = [];
      if (c.take(0x20)) {
        list(c, limits, () => {
          if (!c.takeWord("USE")) c.fail("USE");
          c.sp();
          specialUse = list(c, limits, () => useAttribute(c), "special-use attributes", true);
        }, "create parameters");
      }
      return make(t, name, { mailbox: box, specialUse });
    }
    case "DELETE":
    case "SUBSCRIBE":
    case "UNSUBSCRIBE":
    case "GETQUOTAROOT":
      c.sp();
      return make(t, name, { mailbox: mailbox(c) });
    case "RENAME": {
      c.sp();
      const from = mailbox(c);
      c.sp();
      return make(t, name, { mailbox: from, newName: mailbox(c, "a new mailbox name") });
    }
    case "LIST":
      return make(t, name, listArgs(c, limits));
    case "LSUB": {
      c.sp();
      const reference = mailbox(c, "a reference name");
      c.sp();
      return make(t, name, { reference, pattern: c.text(c.listMailbox(), "pattern") });
    }
    case "STATUS": {
      c.sp();
      const box = mailbox(c);
      c.sp();
      return make(t, name, { mailbox: box, items: statusItems(c, limits) });
    }
    case "APPEND": {
      c.sp();
      const box = mailbox(c);
      const messages: AppendMessage[] = [];
      do {
        if (messages.length >= limits.maxListItems) c.reject("too many messages");
        messages.push(appendMessage(c, limits));
      } while (!c.atEnd());
      return make(t, name, { mailbox: box, messages });
    }
    case "SEARCH":
    case "UID SEARCH":
      return make(t, name, searchArgs(c, limits));
    case "FETCH":
    case "UID FETCH":
      return make(t, name, fetchArgs(c, limits, name === "UID FETCH"));
    case "STORE":
    case "UID STORE":
      return make(t, name, storeArgs(c, limits));
    case "COPY":
    case "UID COPY":
    case "MOVE":
    case "UID MOVE": {
      c.sp();
      const sequence = sequenceSet(c, limits);
      c.sp();
      return make(t, name, { sequence, mailbox: mailbox(c) });
    }
    case "UID EXPUNGE":
      c.sp();
      return make(t, name, { sequence: sequenceSet(c, limits) });
    case "ID":
      return make(t, name, { parameters: idParameters(c, limits) });
    case "GETQUOTA":
      c.sp();
      return make(t, name, { root: c.text(c.astring("a quota root"), "quota root") });
    case "SETQUOTA": {
      c.sp();
      const root = c.text(c.astring("a quota root"), "quota root");
      c.sp();
      const limitsList = list(
        c,
        limits,
        () => {
          const resource = c.keyword("a resource name");
          c.sp();
          return { resource, limit: c.number64("a resource limit") };
        },
        "quota resources",
        true,
      );
      return make(t, name, { root, limits: limitsList });
    }
    case "SORT":
    case "UID SORT":
      return make(t, name, sortArgs(c, limits));
    case "THREAD":
    case "UID THREAD":
      return make(t, name, threadArgs(c, limits));
    case "COMPRESS":
      c.sp();
      return make(t, name, { mechanism: c.keyword("a compression mechanism") });
    case "REPLACE":
    case "UID REPLACE": {
      c.sp();
      const target = c.nzNumber(name === "REPLACE" ? "a message number" : "a UID");
      c.sp();
      const box = mailbox(c);
      return make(t, name, { target, mailbox: box, message: appendMessage(c, limits) });
    }
  }
  return c.reject(`unknown command ${name.slice(0, 40)}`);
}

function selectArgs(c: Cursor, limits: ParserLimits): SelectArgs {
  c.sp();
  const box = mailbox(c);
  let condstore = false;
  let qresync: QresyncParams | null = null;
  if (c.take(0x20)) {
    list(c, limits, () => {
      const param = c.keyword("CONDSTORE or QRESYNC");
      if (param === "CONDSTORE" && !condstore) condstore = true;
      else if (param === "QRESYNC" && qresync === null) qresync = qresyncParams(c, limits);
      else c.reject(`unknown or repeated select parameter ${param.slice(0, 40)}`);
    }, "select parameters");
  }
  return { mailbox: box, condstore, qresync };
}

/** "QRESYNC" SP "(" uidvalidity SP mod-sequence-value [SP known-uids] [SP seq-match-data] ")" */
function qresyncParams(c: Cursor, limits: ParserLimits): QresyncParams {
  c.sp();
  c.expect(0x28, '"(" opening QRESYNC parameters');
  const uidValidity = c.nzNumber("a UIDVALIDITY");
  c.sp();
  const modseq = c.number64("a mod-sequence", true);
  let knownUids: SequenceSet | null = null;
  let seqMatch: QresyncParams["seqMatch"] = null;
  if (c.take(0x20)) {
    if (c.peek() !== 0x28) {
      knownUids = uidSet(c, limits);
      if (c.take(0x20)) seqMatch = seqMatchData(c, limits);
    } else seqMatch = seqMatchData(c, limits);
  }
  c.expect(0x29, '")" closing QRESYNC parameters');
  return { uidValidity, modseq, knownUids, seqMatch };
}

/** A sequence set without * or $ (RFC 7162 known-uids, known-sequence-set). */
function uidSet(c: Cursor, limits: ParserLimits): SequenceSet {
  if (c.peek() === 0x24) c.fail("a set of numbers ($ is not allowed here)");
  return sequenceSet(c, limits, false);
}

/** seq-match-data = "(" known-sequence-set SP known-uid-set ")" */
function seqMatchData(c: Cursor, limits: ParserLimits): QresyncParams["seqMatch"] {
  c.expect(0x28, '"(" opening sequence match data');
  const sequences = uidSet(c, limits);
  c.sp();
  const uids = uidSet(c, limits);
  c.expect(0x29, '")" closing sequence match data');
  return { sequences, uids };
}

function useAttribute(c: Cursor): string {
  c.expect(0x5c, "a special-use attribute (\\Sent, \\Trash, ...)");
  const name = c.atom("a special-use attribute name");
  const known = ["All", "Archive", "Drafts", "Flagged", "Junk", "Sent", "Trash"]
    .find((k) => k.toUpperCase() === name.toUpperCase());
  return "\\" + (known ?? name);
}

function statusItems(c: Cursor, limits: ParserLimits): StatusItem[] {
  return list(c, limits, () => {
    const item = c.keyword("a status item");
    if (!STATUS_ITEMS.has(item)) c.reject(`unknown status item ${item.slice(0, 40)}`);
    return item as StatusItem;
  }, "status items");
}

/** LIST [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts] (RFC 5258) */
function listArgs(c: Cursor, limits: ParserLimits): ListArgs {
  c.sp();
  let extended = false;
  const selection: ListSelectOption[] = [];
  if (c.peek() === 0x28) {
    extended = true;
    selection.push(...list(
      c,
      limits,
      () => {
        const option = c.keyword("a selection option");
        if (!["SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE"].includes(option)) {
          c.reject(`unknown selection option ${option.slice(0, 40)}`);
        }
        return option as ListSelectOption;
      },
      "selection options",
      true,
    ));
    if (selection.includes("RECURSIVEMATCH") && selection.every((o) => o === "RECURSIVEMATCH")) {
      c.reject("RECURSIVEMATCH needs another selection option"); // RFC 5258 3.1
    }
    c.sp();
  }
  const reference = mailbox(c, "a reference name");
  c.sp();
  let patterns: string[];
  if (c.peek() === 0x28) {
    extended = true;
    patterns = list(c, limits, () => c.text(c.listMailbox(), "pattern"), "patterns");
  } else patterns = [c.text(c.listMailbox(), "pattern")];
  let returnOptions: ListArgs["returnOptions"] = null;
  if (c.take(0x20)) {
    if (!c.takeWord("RETURN")) c.fail("RETURN");
    extended = true;
    c.sp();
    const options = { subscribed: false, children: false, specialUse: false, status: null } as {
      subscribed: boolean;
      children: boolean;
      specialUse: boolean;
      status: StatusItem[] | null;
    };
    list(
      c,
      limits,
      () => {
        const option = c.keyword("a return option");
        if (option === "SUBSCRIBED") options.subscribed = true;
        else if (option === "CHILDREN") options.children = true;
        else if (option === "SPECIAL-USE") options.specialUse = true;
        else if (option === "STATUS" && options.status === null) {
          c.sp();
          options.status = statusItems(c, limits);
        } else c.reject(`unknown or repeated return option ${option.slice(0, 40)}`);
      },
      "return options",
      true,
    );
    returnOptions = options;
  }
  return { selection, reference, patterns, returnOptions, extended };
}

/** append-message = [SP flag-list] [SP date-time] SP (literal / literal8 / "UTF8" SP "(" literal8 ")") */
function appendMessage(c: Cursor, limits: ParserLimits): AppendMessage {
  c.sp();
  let flags: string[] = [];
  if (c.peek() === 0x28) {
    flags = flagList(c, limits);
    c.sp();
  }
  let internalDate = null;
  if (c.peek() === 0x22) {
    internalDate = dateTime(c);
    c.sp();
  }
  if (c.takeWord("UTF8")) {
    c.sp();
    c.expect(0x28, '"(" after UTF8');
    const { data } = c.literal(true);
    c.expect(0x29, '")" after the UTF8 literal');
    return { flags, internalDate, data, binary: true, utf8: true };
  }
  if (!c.atLiteral()) c.fail("a flag list, date-time or literal");
  const { data, binary } = c.literal(true);
  return { flags, internalDate, data, binary, utf8: false };
}

/** SEARCH [SP RETURN (...)] [SP CHARSET charset] 1*(SP search-key) */
function searchArgs(c: Cursor, limits: ParserLimits): SearchArgs {
  const options = c.takeSpaceWord("RETURN") ? returnOptions(c, limits) : null;
  let cs: string | null = null;
  if (c.takeSpaceWord("CHARSET")) {
    c.sp();
    cs = charset(c);
  }
  const s = new SearchContext(c, limits, cs);
  return { returnOptions: options, charset: cs, criteria: searchKeys(s) };
}

function sortArgs(c: Cursor, limits: ParserLimits): SortArgs {
  const options = c.takeSpaceWord("RETURN") ? returnOptions(c, limits) : null;
  c.sp();
  const criteria = list(c, limits, () => {
    const reverse = c.takeWord("REVERSE");
    if (reverse) c.sp();
    const key = c.keyword("a sort key");
    if (!SORT_KEYS.has(key)) c.reject(`unknown sort key ${key.slice(0, 40)}`);
    return { key: key as SortKey, reverse };
  }, "sort criteria");
  c.sp();
  const cs = charset(c);
  const s = new SearchContext(c, limits, cs);
  return { returnOptions: options, criteria, charset: cs, search: searchKeys(s) };
}

function threadArgs(c: Cursor, limits: ParserLimits): ThreadArgs {
  c.sp();
  const algorithm = c.keyword("a thread algorithm");
  c.sp();
  const cs = charset(c);
  const s = new SearchContext(c, limits, cs);
  return { algorithm, charset: cs, search: searchKeys(s) };
}

/** "ID" SP ("(" [string SP nstring *(SP string SP nstring)] ")" / nil) (RFC 2971 3.1) */
function idParameters(c: Cursor, limits: ParserLimits): CommandArgs["ID"]["parameters"] {
  c.sp();
  if (c.nil()) return null;
  const max = Math.min(30, limits.maxListItems);
  const params = list(
    c,
    { ...limits, maxListItems: max },
    () => {
      const key = c.string("a field name");
      if (key.length > 30) c.reject("ID field name longer than 30 octets");
      c.sp();
      const value = c.nstring("a value or NIL");
      if (value !== null && value.length > 1024) c.reject("ID value longer than 1024 octets");
      return {
        name: c.text(key, "ID field"),
        value: value === null ? null : c.text(value, "ID value"),
      };
    },
    "ID fields",
    true,
  );
  return params;
}
