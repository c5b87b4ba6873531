/**
 * IMAP flags ⇄ stored keywords. The store keeps JMAP keywords (RFC 8621 4.1.1): lower-case,
 * with "$seen", "$answered", "$flagged", "$draft" for the system flags and "$deleted" for
 * \Deleted (which JMAP has no name for; Stalwart stores it the same way). Other keywords pass
 * through; they are case-insensitive in IMAP (RFC 9051 2.3.2) and shown in lower case, except
 * the registered and widely used ones (IANA IMAP keywords, Thunderbird's, Apple Mail's), which go
 * out spelled as clients write and often compare them ("$Junk", "$Forwarded", "NonJunk").
 */

const SYSTEM: Record<string, string> = {
  "\\seen": "$seen",
  "\\answered": "$answered",
  "\\flagged": "$flagged",
  "\\draft": "$draft",
  "\\deleted": "$deleted",
};
/** Keywords with a conventional spelling, by their stored (lower-case) form. */
const SPELLED = [
  "$Forwarded",
  "$MDNSent",
  "$Junk",
  "$NotJunk",
  "$Phishing",
  "$Important",
  "$SubmitPending",
  "$Submitted",
  "$MailFlagBit0",
  "$MailFlagBit1",
  "$MailFlagBit2",
  "Junk",
  "NonJunk",
];
const BACK: Record<string, string> = {
  ...Object.fromEntries(SPELLED.map((keyword) => [keyword.toLowerCase(), keyword])),
  ...Object.fromEntries(
    Object.entries(SYSTEM).map((
      [flag, keyword],
    ) => [keyword, flag.replace(/^\\(.)/, (_, c) => `\\${c.toUpperCase()}`)]),
  ),
};

/** The flags every mailbox offers in FLAGS and PERMANENTFLAGS (with \* for new keywords). */
export const SYSTEM_FLAGS = ["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"];

export class FlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FlagError";
  }
}

/**
 * The stored keyword for an IMAP flag; throws FlagError for \Recent (not settable, RFC 9051
 * 2.3.2) and unknown system flags.
 *
 * @example
 * keywordOf("\\Seen") // "$seen"
 * keywordOf("$Junk")  // "$junk"
 */
export function keywordOf(flag: string): string {
  const lower = flag.toLowerCase();
  if (lower.startsWith("\\")) {
    const keyword = SYSTEM[lower];
    if (!keyword) throw new FlagError(`${flag} cannot be set`);
    return keyword;
  }
  return lower;
}

/**
 * The IMAP flag for a stored keyword.
 *
 * @example
 * flagOf("$seen") // "\\Seen"
 * flagOf("$junk") // "$Junk"
 * flagOf("work")  // "work"
 */
export function flagOf(keyword: string): string {
  return BACK[keyword] ?? keyword;
}

/** FLAGS lists by their keywords: a mailbox has few distinct combinations. */
const lists = new Map<string, string>();

/** A parenthesised FLAGS list: system flags first, in a stable order. */
export function flagList(keywords: readonly string[]): string {
  const key = keywords.join(" ");
  let list = lists.get(key);
  if (list === undefined) {
    const flags = keywords.map(flagOf);
    const system = flags.filter((f) => f.startsWith("\\")).sort();
    const other = flags.filter((f) => !f.startsWith("\\")).sort();
    list = `(${[...system, ...other].join(" ")})`;
    if (lists.size >= 4096) lists.clear();
    lists.set(key, list);
  }
  return list;
}
