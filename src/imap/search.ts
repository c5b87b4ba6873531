/**
 * SEARCH evaluation (RFC 9051 6.4.4) over a selected mailbox: the parsed key tree
 * (src/imap/wire/types.ts) against each message's flags, sizes and dates, its stored header
 * data, and the full-text index.
 *
 * Implementation notes:
 * - Data is fetched once per search and only what the keys need: header fields for
 *   FROM/TO/CC/BCC/SUBJECT/SENT*, the full-text index for BODY/TEXT (one query per key),
 *   raw header blocks only for HEADER keys.
 * - FROM, TO, CC, BCC and SUBJECT match case-insensitively as substrings of the decoded
 *   display names and addresses (as Dovecot does); BODY and TEXT match words through the
 *   full-text index (each word of the key must begin a word of the message).
 * - Dates (BEFORE, ON, SINCE, and their SENT and SAVED forms) compare calendar days in UTC: the
 *   store keeps instants, not the zone a message arrived in.
 * - \Recent does not exist in IMAP4rev2 and Postern never sets it: RECENT and NEW match
 *   nothing, OLD everything.
 * - Sequence numbers and `*` are resolved against the session's view, including messages
 *   expunged elsewhere but not yet reported (they keep their numbers until then).
 */
import type { HeaderField, MailboxMessage, SearchFields, Store } from "../store/types.ts";
import type { ImapDate, SearchKey, SequenceSet } from "./wire/types.ts";
import { keywordOf } from "./flags.ts";

export interface SearchInput {
  store: Store;
  accountId: number;
  /** The view's messages in sequence order (index + 1 = sequence number). */
  messages: readonly MailboxMessage[];
  /** UIDs saved by SEARCH RETURN (SAVE) (RFC 5182), for `$`. */
  saved: readonly number[];
  /** Raw header block of an email (HEADER keys only). */
  headerOf(message: MailboxMessage, fields: SearchFields): Promise<string>;
  now?: Date;
}

/** The UIDs (ascending) of the messages matching `key`. */
export async function search(key: SearchKey, input: SearchInput): Promise<number[]> {
  const data = await gather(key, input);
  const matches: number[] = [];
  input.messages.forEach((message, index) => {
    if (evaluate(key, message, index + 1, data, input)) matches.push(message.uid);
  });
  return matches.sort((a, b) => a - b);
}

interface Gathered {
  fields: Map<number, SearchFields>;
  fullText: Map<SearchKey, Set<number>>;
  /** Emails matching each key the store answered (see `byStore`). */
  matched: Map<SearchKey, Set<number>>;
  headers: Map<number, string>;
  maxSeq: number;
  maxUid: number;
  saved: Set<number>;
  now: number;
}

/** SUBJECT, FROM, TO, CC and BCC with a printable-ASCII value: answered by one store query. */
function byStore(key: SearchKey): key is SearchKey & { kind: HeaderKind; value: string } {
  return (HEADER_KINDS as readonly string[]).includes(key.kind) &&
    /^[\x20-\x7e]*$/.test((key as { value: string }).value);
}

const HEADER_KINDS = ["SUBJECT", "FROM", "TO", "CC", "BCC"] as const;
type HeaderKind = typeof HEADER_KINDS[number];

async function gather(key: SearchKey, input: SearchInput): Promise<Gathered> {
  const keys = flatten(key);
  // The others need each message's fields (SENT*, HEADER, and non-ASCII values, which the
  // database would not fold the same way).
  const needsFields = keys.some((k) =>
    ["FROM", "TO", "CC", "BCC", "SUBJECT", "SENTBEFORE", "SENTON", "SENTSINCE", "HEADER"]
      .includes(k.kind) && !byStore(k)
  );
  const matched = new Map<SearchKey, Set<number>>();
  for (const k of keys) {
    if (byStore(k)) {
      const field = k.kind.toLowerCase() as HeaderField;
      matched.set(k, await input.store.headerContains(input.accountId, field, k.value));
    }
  }
  const fields = new Map<number, SearchFields>();
  if (needsFields) {
    const ids = [...new Set(input.messages.map((m) => m.emailId))];
    for (const row of await input.store.searchFields(input.accountId, ids)) fields.set(row.id, row);
  }
  const fullText = new Map<SearchKey, Set<number>>();
  for (const k of keys) {
    if (k.kind === "BODY" || k.kind === "TEXT") {
      const field = k.kind === "BODY" ? "body" : null;
      fullText.set(k, await input.store.fullTextMatch(input.accountId, field, k.value));
    }
  }
  const headers = new Map<number, string>();
  if (keys.some((k) => k.kind === "HEADER")) {
    for (const message of input.messages) {
      const row = fields.get(message.emailId);
      if (row && !headers.has(message.emailId)) {
        headers.set(message.emailId, await input.headerOf(message, row));
      }
    }
  }
  return {
    fields,
    fullText,
    matched,
    headers,
    maxSeq: input.messages.length,
    maxUid: input.messages.reduce((max, m) => Math.max(max, m.uid), 0),
    saved: new Set(input.saved),
    now: (input.now ?? new Date()).getTime(),
  };
}

function flatten(key: SearchKey): SearchKey[] {
  switch (key.kind) {
    case "AND":
      return [key, ...key.keys.flatMap(flatten)];
    case "OR":
      return [key, ...flatten(key.left), ...flatten(key.right)];
    case "NOT":
      return [key, ...flatten(key.key)];
    default:
      return [key];
  }
}

function evaluate(
  key: SearchKey,
  message: MailboxMessage,
  seq: number,
  data: Gathered,
  input: SearchInput,
): boolean {
  const has = (keyword: string) => message.keywords.includes(keyword);
  const fields = () => data.fields.get(message.emailId);
  switch (key.kind) {
    case "AND":
      return key.keys.every((k) => evaluate(k, message, seq, data, input));
    case "OR":
      return evaluate(key.left, message, seq, data, input) ||
        evaluate(key.right, message, seq, data, input);
    case "NOT":
      return !evaluate(key.key, message, seq, data, input);
    case "ALL":
    case "OLD":
      return true;
    case "NEW":
    case "RECENT":
      return false;
    case "SAVEDATESUPPORTED":
      return true;
    case "ANSWERED":
      return has("$answered");
    case "UNANSWERED":
      return !has("$answered");
    case "DELETED":
      return has("$deleted");
    case "UNDELETED":
      return !has("$deleted");
    case "DRAFT":
      return has("$draft");
    case "UNDRAFT":
      return !has("$draft");
    case "FLAGGED":
      return has("$flagged");
    case "UNFLAGGED":
      return !has("$flagged");
    case "SEEN":
      return has("$seen");
    case "UNSEEN":
      return !has("$seen");
    case "KEYWORD":
      return has(safeKeyword(key.flag));
    case "UNKEYWORD":
      return !has(safeKeyword(key.flag));
    case "FROM":
    case "TO":
    case "CC":
    case "BCC": {
      const known = data.matched.get(key);
      if (known) return known.has(message.emailId);
      const row = fields();
      const list = row ? row[key.kind.toLowerCase() as "from" | "to" | "cc" | "bcc"] : [];
      const needle = key.value.toLowerCase();
      return list.some((a) => `${a.name ?? ""} <${a.email}>`.toLowerCase().includes(needle));
    }
    case "SUBJECT": {
      const known = data.matched.get(key);
      if (known) return known.has(message.emailId);
      return (fields()?.subject ?? "").toLowerCase().includes(key.value.toLowerCase());
    }
    case "BODY":
    case "TEXT":
      return data.fullText.get(key)?.has(message.emailId) ?? false;
    case "HEADER":
      return headerMatches(data.headers.get(message.emailId) ?? "", key.field, key.value);
    case "BEFORE":
      return dayOf(message.receivedAt) < dayNumber(key.date);
    case "ON":
      return dayOf(message.receivedAt) === dayNumber(key.date);
    case "SINCE":
      return dayOf(message.receivedAt) >= dayNumber(key.date);
    case "SENTBEFORE":
    case "SENTON":
    case "SENTSINCE": {
      const sent = fields()?.sentAt ?? message.receivedAt;
      return compareDay(key.kind.slice(4), dayOf(sent), dayNumber(key.date));
    }
    case "SAVEDBEFORE":
    case "SAVEDON":
    case "SAVEDSINCE":
      return compareDay(key.kind.slice(5), dayOf(message.savedAt), dayNumber(key.date));
    case "LARGER":
      return message.size > key.size;
    case "SMALLER":
      return message.size < key.size;
    case "OLDER":
      return data.now - message.receivedAt.getTime() >= key.seconds * 1000;
    case "YOUNGER":
      return data.now - message.receivedAt.getTime() <= key.seconds * 1000;
    case "UID":
      return inSet(key.set, message.uid, data.maxUid, data.saved, message.uid);
    case "SEQUENCE":
      return inSet(key.set, seq, data.maxSeq, data.saved, message.uid);
    case "MODSEQ":
      return message.modseq >= key.modseq;
    case "EMAILID":
      return key.id === emailObjectId(message.emailId);
    case "THREADID":
      return key.id === threadObjectId(message.threadId);
  }
}

/** RFC 8474 object ids: the same strings JMAP will use. */
export function emailObjectId(id: number): string {
  return `M${id}`;
}

export function mailboxObjectId(id: number): string {
  return `B${id}`;
}

export function threadObjectId(id: number): string {
  return `T${id}`;
}

function safeKeyword(flag: string): string {
  try {
    return keywordOf(flag);
  } catch {
    return flag.toLowerCase();
  }
}

/**
 * A parsed sequence set contains `value`; `*` stands for `max` (Infinity: open-ended, for UIDs
 * that may no longer exist). The saved result `$` contains nothing here.
 */
export function setContains(set: SequenceSet, value: number, max = Infinity): boolean {
  if (set.kind === "saved") return false;
  return set.ranges.some((range) => {
    const start = range.start === "*" ? max : range.start;
    const end = range.end === "*" ? max : range.end;
    return value >= Math.min(start, end) && value <= Math.max(start, end);
  });
}

/** `set` contains `value` (a sequence number or UID); `$` is the saved result (by UID). */
function inSet(
  set: SequenceSet,
  value: number,
  max: number,
  saved: Set<number>,
  uid: number,
): boolean {
  return set.kind === "saved" ? saved.has(uid) : setContains(set, value, max);
}

const DAY = 86_400_000;

function dayOf(date: Date): number {
  return Math.floor(date.getTime() / DAY);
}

function dayNumber(date: ImapDate): number {
  return Math.floor(Date.UTC(date.year, date.month - 1, date.day) / DAY);
}

function compareDay(relation: string, day: number, target: number): boolean {
  if (relation === "BEFORE") return day < target;
  if (relation === "ON") return day === target;
  return day >= target;
}

/**
 * HEADER field string: some field of that name contains the string (case-insensitive); an
 * empty string matches any message that has the field (RFC 9051 6.4.4).
 */
function headerMatches(block: string, field: string, value: string): boolean {
  const name = field.toLowerCase();
  const needle = value.toLowerCase();
  for (const line of block.replace(/\r\n[ \t]/g, " ").split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon <= 0 || line.slice(0, colon).trim().toLowerCase() !== name) continue;
    if (line.slice(colon + 1).toLowerCase().includes(needle)) return true;
  }
  return false;
}
