/**
 * The typed IMAP command tree produced by `parseCommand` (RFC 9051 6 and 9, and the extensions
 * Postern parses). Pure types; no behaviour.
 *
 * Implementation notes:
 * - Mailbox names are the decoded UTF-8 of the octets sent; modified UTF-7 is not decoded here.
 *   A name equal to INBOX in any case is given as "INBOX" (RFC 9051 5.1).
 * - Numbers beyond 2^53-1 (mod-sequences, sizes) are refused by the parser rather than rounded.
 * - `UID xxx` commands share the argument types of `xxx`.
 */

/** A message number or UID; `"*"` is the largest in use (RFC 9051 9 seq-number). */
export type SeqNumber = number | "*";

/** `start:end`, or a single number when `start === end`; order as sent. */
export interface SeqRange {
  start: SeqNumber;
  end: SeqNumber;
}

/** sequence-set, or `$` for the saved search result (RFC 5182). */
export type SequenceSet = { kind: "ranges"; ranges: SeqRange[] } | { kind: "saved" };

/** date (`1-Feb-1994`). */
export interface ImapDate {
  year: number;
  /** 1-12 */
  month: number;
  day: number;
}

/** date-time (`"17-Jul-1996 02:44:25 -0700"`). */
export interface ImapDateTime extends ImapDate {
  hour: number;
  minute: number;
  second: number;
  /** Zone offset in minutes east of UTC (-0700 → -420). */
  zoneMinutes: number;
  /** The instant, milliseconds since the epoch. */
  epochMs: number;
}

export type StatusItem =
  | "MESSAGES"
  | "UIDNEXT"
  | "UIDVALIDITY"
  | "UNSEEN"
  | "DELETED"
  | "SIZE"
  | "RECENT"
  | "HIGHESTMODSEQ"
  | "APPENDLIMIT"
  | "MAILBOXID";

/** BODY[section] (RFC 9051 9 section-spec). */
export interface Section {
  /** Part numbers, `[]` for the whole message. */
  part: number[];
  text: "HEADER" | "HEADER.FIELDS" | "HEADER.FIELDS.NOT" | "TEXT" | "MIME" | null;
  /** Field names of HEADER.FIELDS(.NOT), as sent. */
  fields: string[];
}

/** `<offset.length>` */
export interface Partial {
  offset: number;
  length: number;
}

export type SimpleFetchItem =
  | "ENVELOPE"
  | "FLAGS"
  | "INTERNALDATE"
  | "RFC822"
  | "RFC822.HEADER"
  | "RFC822.SIZE"
  | "RFC822.TEXT"
  | "BODY"
  | "BODYSTRUCTURE"
  | "UID"
  | "MODSEQ"
  | "EMAILID"
  | "THREADID"
  | "SAVEDATE";

export type FetchAttribute =
  | { kind: SimpleFetchItem }
  | { kind: "BODY[]"; peek: boolean; section: Section; partial: Partial | null }
  | { kind: "BINARY[]"; peek: boolean; part: number[]; partial: Partial | null }
  | { kind: "BINARY.SIZE"; part: number[] }
  | { kind: "PREVIEW"; lazy: boolean };

export interface FetchArgs {
  sequence: SequenceSet;
  /** Macros are expanded; `macro` says which was used. */
  attributes: FetchAttribute[];
  macro: "ALL" | "FAST" | "FULL" | null;
  /** CHANGEDSINCE (RFC 7162 3.1.4.1) */
  changedSince: number | null;
  /** VANISHED (RFC 7162 3.2.6), UID FETCH with CHANGEDSINCE only */
  vanished: boolean;
}

export interface StoreArgs {
  sequence: SequenceSet;
  /** FLAGS / +FLAGS / -FLAGS */
  action: "set" | "add" | "remove";
  silent: boolean;
  flags: string[];
  /** UNCHANGEDSINCE (RFC 7162 3.1.3) */
  unchangedSince: number | null;
}

export type SearchFlagKey =
  | "ALL"
  | "ANSWERED"
  | "DELETED"
  | "DRAFT"
  | "FLAGGED"
  | "NEW"
  | "OLD"
  | "RECENT"
  | "SEEN"
  | "UNANSWERED"
  | "UNDELETED"
  | "UNDRAFT"
  | "UNFLAGGED"
  | "UNSEEN"
  | "SAVEDATESUPPORTED";

export type SearchTextKey = "BCC" | "BODY" | "CC" | "FROM" | "SUBJECT" | "TEXT" | "TO";

export type SearchDateKey =
  | "BEFORE"
  | "ON"
  | "SINCE"
  | "SENTBEFORE"
  | "SENTON"
  | "SENTSINCE"
  | "SAVEDBEFORE"
  | "SAVEDON"
  | "SAVEDSINCE";

/** A search-key tree (RFC 9051 6.4.4, 9; RFC 7162 MODSEQ; RFC 5032 WITHIN; RFC 8514; 8474). */
export type SearchKey =
  | { kind: "AND"; keys: SearchKey[] }
  | { kind: "OR"; left: SearchKey; right: SearchKey }
  | { kind: "NOT"; key: SearchKey }
  | { kind: SearchFlagKey }
  | { kind: SearchTextKey; value: string }
  | { kind: "HEADER"; field: string; value: string }
  | { kind: "KEYWORD" | "UNKEYWORD"; flag: string }
  | { kind: SearchDateKey; date: ImapDate }
  | { kind: "LARGER" | "SMALLER"; size: number }
  | { kind: "OLDER" | "YOUNGER"; seconds: number }
  | { kind: "UID" | "SEQUENCE"; set: SequenceSet }
  | {
    kind: "MODSEQ";
    /** `"/flags/\\Seen" all` */
    entry: { flag: string; type: "priv" | "shared" | "all" } | null;
    modseq: number;
  }
  | { kind: "EMAILID" | "THREADID"; id: string };

export type SearchReturnOption = "MIN" | "MAX" | "ALL" | "COUNT" | "SAVE";

export interface SearchArgs {
  /** RETURN (...) options (RFC 4731, 5182); null without RETURN, `[]` for `RETURN ()`. */
  returnOptions: SearchReturnOption[] | null;
  /** Upper-cased CHARSET, or null when none was given. */
  charset: string | null;
  /** The keys, ANDed. */
  criteria: SearchKey;
}

export type SortKey =
  | "ARRIVAL"
  | "CC"
  | "DATE"
  | "FROM"
  | "SIZE"
  | "SUBJECT"
  | "TO"
  | "DISPLAYFROM"
  | "DISPLAYTO";

/** SORT (RFC 5256, 5957; RETURN of RFC 5267). */
export interface SortArgs {
  returnOptions: SearchReturnOption[] | null;
  criteria: { key: SortKey; reverse: boolean }[];
  charset: string;
  search: SearchKey;
}

/** THREAD (RFC 5256). */
export interface ThreadArgs {
  algorithm: string;
  charset: string;
  search: SearchKey;
}

export type ListSelectOption = "SUBSCRIBED" | "REMOTE" | "RECURSIVEMATCH" | "SPECIAL-USE";

/** LIST, extended or not (RFC 9051 6.3.9, RFC 5258, 5819, 6154). */
export interface ListArgs {
  selection: ListSelectOption[];
  reference: string;
  patterns: string[];
  /** RETURN options; null when RETURN was not given. */
  returnOptions: {
    subscribed: boolean;
    children: boolean;
    specialUse: boolean;
    status: StatusItem[] | null;
  } | null;
  /** Selection options, a pattern list or RETURN were used: answer in LIST-EXTENDED form. */
  extended: boolean;
}

/** QRESYNC select parameter (RFC 7162 3.2.5). */
export interface QresyncParams {
  uidValidity: number;
  modseq: number;
  knownUids: SequenceSet | null;
  seqMatch: { sequences: SequenceSet; uids: SequenceSet } | null;
}

export interface SelectArgs {
  mailbox: string;
  condstore: boolean;
  qresync: QresyncParams | null;
}

/** One message of APPEND (RFC 3502 MULTIAPPEND: several). */
export interface AppendMessage {
  flags: string[];
  internalDate: ImapDateTime | null;
  data: Uint8Array;
  /** Sent as literal8 `~{n}` (RFC 3516). */
  binary: boolean;
  /** Sent as `UTF8 (~{n})` (RFC 6855). */
  utf8: boolean;
}

export interface ReplaceArgs {
  /** Message number, or UID for UID REPLACE (RFC 8508). */
  target: number;
  mailbox: string;
  message: AppendMessage;
}

type NoArgs = Record<never, never>;
type MailboxArgs = { mailbox: string };
type CopyArgs = { sequence: SequenceSet; mailbox: string };

/** Argument types by command name. */
export interface CommandArgs {
  CAPABILITY: NoArgs;
  NOOP: NoArgs;
  LOGOUT: NoArgs;
  STARTTLS: NoArgs;
  IDLE: NoArgs;
  CHECK: NoArgs;
  CLOSE: NoArgs;
  UNSELECT: NoArgs;
  EXPUNGE: NoArgs;
  NAMESPACE: NoArgs;
  UNAUTHENTICATE: NoArgs;
  /** SASL-IR (RFC 4959): the initial response as sent, `=` meaning empty; null when absent. */
  AUTHENTICATE: { mechanism: string; initialResponse: string | null };
  LOGIN: { userid: string; password: string };
  /** Capability names upper-cased. */
  ENABLE: { capabilities: string[] };
  SELECT: SelectArgs;
  EXAMINE: SelectArgs;
  /** USE (...) special-use attributes (RFC 6154 3), e.g. `\\Sent`. */
  CREATE: { mailbox: string; specialUse: string[] };
  DELETE: MailboxArgs;
  RENAME: { mailbox: string; newName: string };
  SUBSCRIBE: MailboxArgs;
  UNSUBSCRIBE: MailboxArgs;
  LIST: ListArgs;
  LSUB: { reference: string; pattern: string };
  STATUS: { mailbox: string; items: StatusItem[] };
  APPEND: { mailbox: string; messages: AppendMessage[] };
  SEARCH: SearchArgs;
  "UID SEARCH": SearchArgs;
  FETCH: FetchArgs;
  "UID FETCH": FetchArgs;
  STORE: StoreArgs;
  "UID STORE": StoreArgs;
  COPY: CopyArgs;
  "UID COPY": CopyArgs;
  MOVE: CopyArgs;
  "UID MOVE": CopyArgs;
  "UID EXPUNGE": { sequence: SequenceSet };
  /** RFC 2971; null for `ID NIL`. */
  ID: { parameters: { name: string; value: string | null }[] | null };
  GETQUOTA: { root: string };
  GETQUOTAROOT: MailboxArgs;
  SETQUOTA: { root: string; limits: { resource: string; limit: number }[] };
  SORT: SortArgs;
  "UID SORT": SortArgs;
  THREAD: ThreadArgs;
  "UID THREAD": ThreadArgs;
  /** RFC 4978; mechanism upper-cased. */
  COMPRESS: { mechanism: string };
  REPLACE: ReplaceArgs;
  "UID REPLACE": ReplaceArgs;
}

export type CommandName = keyof CommandArgs;

/** A parsed command; narrow on `command` to get its `args`. */
export type ImapCommand = {
  [K in CommandName]: { tag: string; command: K; args: CommandArgs[K] };
}[CommandName];

/** Parser limits; the session takes these from config. */
export interface ParserLimits {
  /** Parenthesis nesting depth (SEARCH groups). */
  maxNestingDepth: number;
  /** Search keys in one SEARCH/SORT/THREAD, counting every NOT, OR and group. */
  maxSearchKeys: number;
  /** FETCH attributes after macro expansion. */
  maxFetchAttributes: number;
  /** Numbers and ranges in one sequence set. */
  maxSequenceRanges: number;
  /** Items of any other list: flags, patterns, header fields, STATUS items, ENABLE, ID. */
  maxListItems: number;
}
