/**
 * THREAD=ORDEREDSUBJECT (RFC 5256 4): messages grouped by base subject, each group sorted by
 * sent date (ties by sequence number), groups ordered by their first message's date; the first
 * message of a group is the parent of all the others.
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

interface Container {
  item: SortItem | null;
  parent: Container | null;
  children: Container[];
}

/**
 * THREAD=REFERENCES (RFC 5256 4): threads from Message-ID, References and In-Reply-To, empty
 * "dummy" parents pruned, roots sorted by date and gathered by base subject, siblings sorted
 * by date.
 */
export function referencesThreads(
  items: readonly SortItem[],
  number: (item: SortItem) => number,
): string {
  const date = (item: SortItem) => (item.fields?.sentAt ?? item.message.receivedAt).getTime();
  const byId = new Map<string, Container>();
  const container = (id: string): Container => {
    let found = byId.get(id);
    if (!found) byId.set(id, found = { item: null, parent: null, children: [] });
    return found;
  };
  const isAncestor = (a: Container, b: Container): boolean => {
    for (let c: Container | null = b; c; c = c.parent) if (c === a) return true;
    return false;
  };
  const link = (parent: Container, child: Container) => {
    if (child.parent) child.parent.children = child.parent.children.filter((c) => c !== child);
    child.parent = parent;
    parent.children.push(child);
  };
  let unique = 0;
  // Step 1: containers and links.
  for (const item of items) {
    let id = item.fields?.messageId ?? null;
    if (!id || byId.get(id)?.item) id = `\0unique-${unique++}`;
    const own = container(id);
    own.item = item;
    const refs = item.fields?.references.length
      ? item.fields.references
      : (item.fields?.inReplyTo ?? []).slice(0, 1);
    for (let i = 0; i + 1 < refs.length; i++) {
      const parent = container(refs[i]);
      const child = container(refs[i + 1]);
      if (!child.parent && parent !== child && !isAncestor(child, parent)) link(parent, child);
    }
    const last = refs.length ? container(refs[refs.length - 1]) : null;
    if (last && last !== own && !isAncestor(own, last)) link(last, own);
    else if (!last && own.parent) {
      own.parent.children = own.parent.children.filter((c) => c !== own);
      own.parent = null;
    }
  }
  // Step 2: the root set. Step 3: prune empty containers.
  const prune = (list: Container[], root: boolean): Container[] => {
    const out: Container[] = [];
    for (const c of list) {
      c.children = prune(c.children, false);
      if (c.item) out.push(c);
      else if (c.children.length === 0) continue;
      else if (!root || c.children.length === 1) {
        for (const child of c.children) child.parent = c.parent;
        for (const child of c.children) out.push(child);
      } else out.push(c);
    }
    return out;
  };
  let roots = prune([...byId.values()].filter((c) => !c.parent), true);
  // Sorting by date (a dummy takes its first child's date, children sorted first).
  const firstDate = (c: Container): number => c.item ? date(c.item) : firstDate(sortTree(c)[0]);
  const sortTree = (c: Container): Container[] => {
    c.children.forEach(sortTree);
    c.children.sort((a, b) => firstDate(a) - firstDate(b) || seqOf(a) - seqOf(b));
    return c.children;
  };
  const seqOf = (c: Container): number => c.item ? c.item.seq : seqOf(c.children[0]);
  roots.forEach(sortTree);
  roots.sort((a, b) => firstDate(a) - firstDate(b) || seqOf(a) - seqOf(b));
  // Step 5: gather roots by base subject.
  const subjectOf = (c: Container) => {
    const item = c.item ?? c.children[0]?.item ?? null;
    return item?.fields?.baseSubject.toLowerCase() ?? "";
  };
  const isReply = (c: Container) => {
    const fields = c.item?.fields;
    return !!fields && /^\s*(re|fwd?)\s*:/i.test(fields.subject ?? "");
  };
  const table = new Map<string, Container>();
  for (const root of roots) {
    const subject = subjectOf(root);
    if (!subject) continue;
    const old = table.get(subject);
    if (!old || (!root.item && old.item) || (isReply(old) && !isReply(root))) {
      table.set(subject, root);
    }
  }
  const merged: Container[] = [];
  for (const root of roots) {
    const subject = subjectOf(root);
    const holder = subject ? table.get(subject) : undefined;
    if (!holder || holder === root) {
      merged.push(root);
      continue;
    }
    if (!holder.item && !root.item) {
      for (const child of root.children) link(holder, child);
    } else if (!holder.item || (isReply(root) && !isReply(holder))) {
      link(holder, root);
    } else {
      // Neither is a reply of the other: both go under a new dummy that takes their place.
      const dummy: Container = { item: null, parent: null, children: [] };
      const at = merged.indexOf(holder);
      link(dummy, holder);
      link(dummy, root);
      holder.parent = dummy;
      if (at !== -1) merged[at] = dummy;
      table.set(subject, dummy);
    }
  }
  roots = merged;
  roots.forEach(sortTree);
  const inline = (c: Container): string => {
    const head = c.item ? `${number(c.item)}` : "";
    if (c.children.length === 0) return head;
    if (c.children.length === 1 && c.item) return `${head} ${inline(c.children[0])}`;
    const rest = c.children.map((child) => `(${inline(child)})`).join("");
    return head ? `${head} ${rest}` : rest;
  };
  return roots.map((root) => `(${inline(root)})`).join("");
}
