/**
 * THREAD=ORDEREDSUBJECT (RFC 5256 4): messages grouped by base subject, each group sorted by
 * sent date (ties by sequence number), groups ordered by their first message's date; the first
 * message of a group is the parent of all the others.
 *
 * THREAD=REFERENCES is not here yet; it is not advertised.
 */
import type { SortItem } from "./sort.ts";

/** The THREAD response body, e.g. `(1 (2)(3))(4 5)(6)`, with `number` giving each id. */
export function orderedSubjectThreads(
  items: readonly SortItem[],
  number: (item: SortItem) => number,
): string {
  const date = (item: SortItem) => (item.fields?.sentAt ?? item.message.receivedAt).getTime();
  const byDate = (a: SortItem, b: SortItem) => date(a) - date(b) || a.seq - b.seq;
  const groups = new Map<string, SortItem[]>();
  for (const item of items) {
    const key = (item.fields?.baseSubject ?? "").normalize("NFKD").toLowerCase();
    const group = groups.get(key) ?? [];
    group.push(item);
    groups.set(key, group);
  }
  const threads = [...groups.values()].map((group) => group.sort(byDate))
    .sort((a, b) => byDate(a[0], b[0]));
  return threads.map((group) => {
    const [first, ...rest] = group.map(number);
    if (rest.length === 0) return `(${first})`;
    if (rest.length === 1) return `(${first} ${rest[0]})`;
    return `(${first} ${rest.map((n) => `(${n})`).join("")})`;
  }).join("");
}
