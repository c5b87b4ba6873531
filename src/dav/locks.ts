/**
 * WebDAV write locks (RFC 4918 6, 7, 9.10, 9.11) and the If header (RFC 4918 10.4).
 *
 * Implementation notes:
 * - Locks are kept in memory, keyed by the locked path ("/dav/files/alice@example.com/doc",
 *   collections without the trailing slash). A restart forgets them; clients then get 412 on
 *   their next conditional request and lock again. (A multi-node setup would keep them in the
 *   store.)
 * - A lock covers its root and, at depth infinity, every path below it. Two locks conflict when
 *   one covers the other's root (or they share it) and either is exclusive (RFC 4918 6.1, 6.2).
 * - A write to a path needs the token of every lock covering the path, and of every lock on the
 *   parent when a member is added or removed (RFC 4918 7.4: a depth-0 lock on a collection
 *   protects its membership). The tokens "submitted" are every state token in the If header.
 * - The If header parser is total: a header it cannot read is a 400, never a throw. It follows
 *   the RFC 4918 10.4.2 grammar: no-tag lists or tagged lists, never both, and every tag has a
 *   list. Entity tags are read as quoted strings ("]" may be inside one); W/ is dropped, so
 *   they match with the weak comparison (RFC 4918 10.4.4 allows either).
 */

export interface Lock {
  token: string;
  root: string;
  depth: 0 | "infinity";
  scope: "exclusive" | "shared";
  /** The client's DAV:owner element as XML text, or "". */
  owner: string;
  accountId: number;
  timeoutSeconds: number;
  expiresAt: number;
}

/** Normalises an href path to a lock key: no trailing slash. */
export function lockKey(path: string): string {
  return path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
}

/** Whether `path` is strictly below `ancestor` (both lock keys; "/" is above everything). */
function isBelow(path: string, ancestor: string): boolean {
  const prefix = ancestor.endsWith("/") ? ancestor : `${ancestor}/`;
  return path.length > prefix.length && path.startsWith(prefix);
}

function covers(lock: Lock, path: string): boolean {
  if (lock.root === path) return true;
  return lock.depth === "infinity" && isBelow(path, lock.root);
}

export class LockManager {
  #locks = new Map<string, Lock>();

  #live(): Lock[] {
    const now = Date.now();
    const live: Lock[] = [];
    for (const [token, lock] of this.#locks) {
      if (lock.expiresAt <= now) this.#locks.delete(token);
      else live.push(lock);
    }
    return live;
  }

  /** Locks whose scope includes `path`. */
  covering(path: string): Lock[] {
    return this.#live().filter((lock) => covers(lock, path));
  }

  /** Locks rooted at or below `path` (what a DELETE or MOVE of a collection must hold). */
  within(path: string): Lock[] {
    return this.#live().filter((lock) => lock.root === path || isBelow(lock.root, path));
  }

  get(token: string): Lock | undefined {
    return this.#live().find((lock) => lock.token === token);
  }

  /** The locks the new one would conflict with. */
  conflicts(path: string, depth: 0 | "infinity", scope: Lock["scope"]): Lock[] {
    return this.#live().filter((lock) => {
      const overlap = covers(lock, path) ||
        (depth === "infinity" && isBelow(lock.root, path));
      return overlap && (scope === "exclusive" || lock.scope === "exclusive");
    });
  }

  create(lock: Omit<Lock, "token" | "expiresAt">): Lock {
    const created: Lock = {
      ...lock,
      token: `urn:uuid:${crypto.randomUUID()}`,
      expiresAt: Date.now() + lock.timeoutSeconds * 1000,
    };
    this.#locks.set(created.token, created);
    return created;
  }

  refresh(lock: Lock, timeoutSeconds: number): void {
    lock.timeoutSeconds = timeoutSeconds;
    lock.expiresAt = Date.now() + timeoutSeconds * 1000;
  }

  remove(token: string): boolean {
    return this.#locks.delete(token);
  }

  /** Drops every lock at or below `path` (the resource was deleted or moved away). */
  removeWithin(path: string): void {
    for (const lock of this.within(path)) this.#locks.delete(lock.token);
  }
}

/** One condition of an If header list. */
export interface IfCondition {
  not: boolean;
  kind: "token" | "etag";
  value: string;
}

/** One list: a tag (absolute path, or null for the request URI) and its conditions. */
export interface IfList {
  resource: string | null;
  conditions: IfCondition[];
}

/**
 * Parses an If header (RFC 4918 10.4); null when it is malformed. Tagged resources are reduced
 * to their path.
 *
 * @example
 * parseIfHeader('(<urn:uuid:1> ["abc"])'); // [{ resource: null, conditions: [...] }]
 */
export function parseIfHeader(header: string): IfList[] | null {
  const lists: IfList[] = [];
  let i = 0;
  let resource: string | null = null;
  /** Whether the current tag still waits for its first list. */
  let tagPending = false;
  const skip = () => {
    while (i < header.length && isSpace(header[i])) i++;
  };
  while (true) {
    skip();
    if (i >= header.length) break;
    if (header[i] === "<") {
      // RFC 4918 10.4.2: a Resource-Tag starts a Tagged-list; no-tag lists cannot precede it.
      if (tagPending || (lists.length > 0 && resource === null)) return null;
      const end = header.indexOf(">", i);
      if (end < 0) return null;
      const url = header.slice(i + 1, end);
      try {
        resource = new URL(url, "http://host").pathname;
      } catch {
        return null;
      }
      tagPending = true;
      i = end + 1;
      continue;
    }
    if (header[i] !== "(") return null;
    i++;
    const conditions: IfCondition[] = [];
    while (true) {
      skip();
      if (i >= header.length) return null;
      if (header[i] === ")") {
        i++;
        break;
      }
      let not = false;
      if (header.slice(i, i + 3).toLowerCase() === "not") {
        not = true;
        i += 3;
        skip();
      }
      if (header[i] === "<") {
        const end = header.indexOf(">", i);
        if (end < 0) return null;
        conditions.push({ not, kind: "token", value: header.slice(i + 1, end) });
        i = end + 1;
      } else if (header[i] === "[") {
        const etag = readEntityTag(header, i + 1);
        if (!etag) return null;
        conditions.push({ not, kind: "etag", value: etag.value });
        i = etag.next;
      } else {
        return null;
      }
    }
    if (conditions.length === 0) return null;
    lists.push({ resource, conditions });
    tagPending = false;
  }
  return lists.length && !tagPending ? lists : null;
}

/** Linear white space, as it stands after an HTTP stack unfolded the header. */
function isSpace(char: string | undefined): boolean {
  return char === " " || char === "\t" || char === "\r" || char === "\n";
}

/**
 * The entity tag after a "[" at `start` and the index after its "]": a quoted string (W/
 * dropped), or leniently whatever stands before the "]".
 */
function readEntityTag(header: string, start: number): { value: string; next: number } | null {
  let i = start;
  while (isSpace(header[i])) i++;
  const weak = header.startsWith('W/"', i);
  const quote = weak ? i + 2 : i;
  if (header[quote] === '"') {
    const close = header.indexOf('"', quote + 1);
    if (close < 0) return null;
    let end = close + 1;
    while (isSpace(header[end])) end++;
    if (header[end] !== "]") return null;
    return { value: header.slice(quote, close + 1), next: end + 1 };
  }
  const close = header.indexOf("]", i);
  if (close < 0) return null;
  let end = close;
  while (end > i && isSpace(header[end - 1])) end--;
  return { value: header.slice(i, end), next: close + 1 };
}

/** Every state token named in the header: the locks the client "submitted". */
export function submittedTokens(lists: IfList[] | null): Set<string> {
  const tokens = new Set<string>();
  for (const list of lists ?? []) {
    for (const condition of list.conditions) {
      if (condition.kind === "token" && !condition.not) tokens.add(condition.value);
    }
  }
  return tokens;
}

/**
 * Whether the If header holds: some list's conditions are all true (RFC 4918 10.4.3), each
 * list evaluated against the resource it is tagged with, or the request URI. `state` answers
 * for one path: its current etag (null: unmapped) and the tokens of the locks covering it.
 */
export function evaluateIf(
  lists: IfList[],
  requestPath: string,
  state: (path: string) => { etag: string | null; tokens: Set<string> },
): boolean {
  return lists.some((list) => {
    const current = state(lockKey(list.resource ?? requestPath));
    return list.conditions.every((condition) => {
      const match = condition.kind === "token"
        ? current.tokens.has(condition.value)
        : current.etag !== null && current.etag === condition.value;
      return condition.not ? !match : match;
    });
  });
}
