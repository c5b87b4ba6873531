/**
 * SORT (RFC 5256 3) with SORT=DISPLAY (RFC 5957): orders messages by a list of keys, each
 * possibly REVERSE, ties broken by sequence number (ascending, whatever the keys).
 *
 * Implementation notes:
 * - Strings compare with the i;unicode-casemap collation (RFC 5051) approximated by Unicode
 *   case folding of NFKD-normalised text, as Dovecot does for UTF-8.
 * - SUBJECT is the base subject stored at ingest; FROM, TO, CC are the mailbox (local part)
 *   of the first address; DISPLAYFROM/DISPLAYTO the display name, else the address.
 * - DATE is the Date header's instant, or INTERNALDATE when the header is missing or bad.
 */
import type { MailboxMessage, SearchFields } from "../store/types.ts";
import type { SortKey } from "./wire/parser.ts";

export interface SortItem {
  seq: number;
  message: MailboxMessage;
  fields: SearchFields | undefined;
}

/** The items in sort order (a new array). */
export function sortMessages(
  items: readonly SortItem[],
  criteria: readonly { key: SortKey; reverse: boolean }[],
): SortItem[] {
  const keyed = items.map((item) => ({
    item,
    keys: criteria.map(({ key }) => sortValue(key, item)),
  }));
  keyed.sort((a, b) => {
    for (let i = 0; i < criteria.length; i++) {
      const order = compare(a.keys[i], b.keys[i]);
      if (order !== 0) return criteria[i].reverse ? -order : order;
    }
    return a.item.seq - b.item.seq;
  });
  return keyed.map((k) => k.item);
}

function compare(a: string | number, b: string | number): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  return a < b ? -1 : a > b ? 1 : 0;
}

function fold(text: string): string {
  return text.normalize("NFKD").toLowerCase().normalize("NFC");
}

function sortValue(key: SortKey, { message, fields }: SortItem): string | number {
  switch (key) {
    case "ARRIVAL":
      return message.receivedAt.getTime();
    case "DATE":
      return (fields?.sentAt ?? message.receivedAt).getTime();
    case "SIZE":
      return message.size;
    case "SUBJECT":
      return fold(fields?.baseSubject ?? "");
    case "FROM":
    case "TO":
    case "CC": {
      const list = fields?.[key.toLowerCase() as "from" | "to" | "cc"] ?? [];
      const email = list[0]?.email ?? "";
      return fold(
        email.slice(0, email.lastIndexOf("@") === -1 ? undefined : email.lastIndexOf("@")),
      );
    }
    case "DISPLAYFROM":
    case "DISPLAYTO": {
      const first = (key === "DISPLAYFROM" ? fields?.from : fields?.to)?.[0];
      return fold(first ? (first.name || first.email) : "");
    }
  }
}
