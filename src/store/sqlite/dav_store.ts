/**
 * The DAV tree on SQLite (src/store/dav_types.ts has the model).
 *
 * Implementation notes:
 * - Every write is one IMMEDIATE transaction that bumps the account modseq once and stamps it
 *   on each node it creates or changes and on their parent collections (the CTag).
 * - Listing queries never read `content`: a calendar's objects are read only when a report
 *   needs them (contents()).
 * - Bytes held by the tree count in the account's used_bytes, like mail; the quota is checked
 *   in the same transaction as the write.
 * - Deleting a node deletes its subtree by the parent_id foreign key (ON DELETE CASCADE); the
 *   blob references and bytes of the subtree are released first, in one statement each.
 * - The tree never gets a cycle: copyMove refuses ("cycle") a destination inside the source, and
 *   an overwritten destination that holds the source (its DELETE would take the source along).
 *   Recursive queries use UNION, not UNION ALL, so they end even on a damaged tree.
 * - changesSince answers with the newest modseq among the collection and its members: a member
 *   collection is stamped by writes inside it (not its parent), and a token older than that
 *   member would report it again on every sync.
 */
import { attempt, referenceBlob, type Row, type Sql } from "./sql.ts";
import { StoreError } from "../types.ts";
import type {
  DavChanges,
  DavCollectionKind,
  DavNode,
  DavPutCondition,
  DavPutResult,
  DavResourceInput,
  DavShare,
  DavStore,
} from "../dav_types.ts";

/** The ids of the subtree rooted at the first parameter (the root included). */
const SUBTREE = `WITH RECURSIVE sub(id) AS (
    SELECT ? UNION SELECT n.id FROM dav_nodes n JOIN sub ON n.parent_id = sub.id)`;

const COLUMNS = `id, account_id, parent_id, name, kind, content_type, size, blob_hash, etag, uid,
  component, time_start, time_end, props, modseq, sync_floor, created_at, updated_at`;

/** A node from a row read with Sql.arrays (columns in COLUMNS order): listings of thousands. */
function arrayToNode(row: unknown[]): DavNode {
  const kind = row[4] as DavNode["kind"];
  return {
    id: row[0] as number,
    accountId: row[1] as number,
    parentId: row[2] as number | null,
    name: row[3] as string,
    kind,
    isCollection: kind !== "resource",
    contentType: row[5] as string | null,
    size: row[6] as number,
    blobHash: row[7] as string | null,
    etag: row[8] as string | null,
    uid: row[9] as string | null,
    component: row[10] as string | null,
    timeStart: row[11] as number | null,
    timeEnd: row[12] as number | null,
    props: row[13] ? JSON.parse(row[13] as string) : {},
    modseq: row[14] as number,
    syncFloor: row[15] as number,
    createdAt: new Date(row[16] as number),
    updatedAt: new Date(row[17] as number),
  };
}

const COLUMN_NAMES = COLUMNS.split(",").map((name) => name.trim());

function toNode(row: Row): DavNode {
  return arrayToNode(COLUMN_NAMES.map((name) => row[name]));
}

export class SqliteDavStore implements DavStore {
  constructor(
    readonly sql: Sql,
    readonly bumpModseq: (accountId: number) => number,
  ) {}

  #node(id: number): DavNode | null {
    const row = this.sql.get(`SELECT ${COLUMNS} FROM dav_nodes WHERE id = ?`, id);
    return row ? toNode(row) : null;
  }

  #child(accountId: number, parentId: number | null, name: string): DavNode | null {
    const row = this.sql.get(
      `SELECT ${COLUMNS} FROM dav_nodes
       WHERE account_id = ? AND coalesce(parent_id, 0) = ? AND name = ?`,
      accountId,
      parentId ?? 0,
      name,
    );
    return row ? toNode(row) : null;
  }

  #insert(
    accountId: number,
    parentId: number | null,
    name: string,
    kind: DavNode["kind"],
    modseq: number,
    fields: Partial<Record<string, unknown>> = {},
  ): number {
    const now = Date.now();
    const row = this.sql.get(
      `INSERT INTO dav_nodes (account_id, parent_id, name, kind, content_type, size, blob_hash,
         content, etag, uid, component, time_start, time_end, props, modseq, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
      accountId,
      parentId,
      name,
      kind,
      fields.content_type ?? null,
      fields.size ?? 0,
      fields.blob_hash ?? null,
      fields.content ?? null,
      fields.etag ?? null,
      fields.uid ?? null,
      fields.component ?? null,
      fields.time_start ?? null,
      fields.time_end ?? null,
      fields.props ?? null,
      modseq,
      now,
      now,
    )!;
    if (parentId !== null) {
      this.sql.run(
        "DELETE FROM dav_tombstones WHERE collection_id = ? AND name = ?",
        parentId,
        name,
      );
    }
    return row.id as number;
  }

  #touch(id: number, modseq: number): void {
    this.sql.run(
      "UPDATE dav_nodes SET modseq = ?, updated_at = ? WHERE id = ?",
      modseq,
      Date.now(),
      id,
    );
  }

  #tombstone(collectionId: number, name: string, modseq: number): void {
    this.sql.run(
      `INSERT INTO dav_tombstones (collection_id, name, modseq, removed_at) VALUES (?, ?, ?, ?)
       ON CONFLICT DO UPDATE SET modseq = excluded.modseq, removed_at = excluded.removed_at`,
      collectionId,
      name,
      modseq,
      Date.now(),
    );
  }

  /** Releases the blobs and bytes of the subtree at `id` (the rows go with the node's delete). */
  #releaseSubtree(accountId: number, id: number): void {
    this.sql.run(
      `${SUBTREE}
       UPDATE blobs SET refcount = refcount - (
         SELECT count(*) FROM dav_nodes WHERE id IN (SELECT id FROM sub)
           AND dav_nodes.blob_hash = blobs.hash)
       WHERE hash IN (SELECT blob_hash FROM dav_nodes WHERE id IN (SELECT id FROM sub))`,
      id,
    );
    const bytes = this.#subtreeBytes(id);
    this.sql.run(
      "UPDATE principals SET used_bytes = max(0, used_bytes - ?) WHERE id = ?",
      bytes,
      accountId,
    );
  }

  #subtreeBytes(id: number): number {
    return this.sql.get(
      `${SUBTREE} SELECT coalesce(sum(size), 0) AS n FROM dav_nodes WHERE id IN (SELECT id FROM sub)`,
      id,
    )!.n as number;
  }

  /** Whether `id` is `ancestorId` or below it. */
  #isWithin(id: number, ancestorId: number): boolean {
    return !!this.sql.get(
      `WITH RECURSIVE up(id, parent_id) AS (
         SELECT id, parent_id FROM dav_nodes WHERE id = ?
         UNION SELECT n.id, n.parent_id FROM dav_nodes n JOIN up ON n.id = up.parent_id)
       SELECT 1 FROM up WHERE id = ? LIMIT 1`,
      id,
      ancestorId,
    );
  }

  #quotaAllows(accountId: number, delta: number): boolean {
    if (delta <= 0) return true;
    const row = this.sql.get("SELECT quota, used_bytes FROM principals WHERE id = ?", accountId);
    if (!row) throw new StoreError("not_found", `no account with id ${accountId}`);
    const quota = row.quota as number;
    return quota === 0 || (row.used_bytes as number) + delta <= quota;
  }

  #addBytes(accountId: number, delta: number): void {
    if (delta === 0) return;
    this.sql.run(
      "UPDATE principals SET used_bytes = max(0, used_bytes + ?) WHERE id = ?",
      delta,
      accountId,
    );
  }

  ensureHome(
    accountId: number,
    defaults: { calendarProps: Record<string, string>; addressbookProps: Record<string, string> },
  ): Promise<void> {
    if (
      this.sql.get(
        "SELECT 1 FROM dav_nodes WHERE account_id = ? AND parent_id IS NULL LIMIT 1",
        accountId,
      )
    ) {
      return Promise.resolve();
    }
    return attempt(() =>
      this.sql.transaction(() => {
        if (this.#child(accountId, null, "files")) return;
        const modseq = this.bumpModseq(accountId);
        this.#insert(accountId, null, "files", "root", modseq);
        const calendars = this.#insert(accountId, null, "calendars", "root", modseq);
        const books = this.#insert(accountId, null, "addressbooks", "root", modseq);
        this.#insert(accountId, calendars, "default", "calendar", modseq, {
          props: JSON.stringify(defaults.calendarProps),
        });
        this.#insert(accountId, calendars, "inbox", "schedule-inbox", modseq);
        this.#insert(accountId, calendars, "outbox", "schedule-outbox", modseq);
        this.#insert(accountId, books, "default", "addressbook", modseq, {
          props: JSON.stringify(defaults.addressbookProps),
        });
      })
    );
  }

  lookup(accountId: number, names: string[]): Promise<DavNode[] | null> {
    return attempt(() => {
      const chain: DavNode[] = [];
      let parent: number | null = null;
      for (const name of names) {
        const node = this.#child(accountId, parent, name);
        if (!node) return null;
        chain.push(node);
        parent = node.id;
      }
      return chain;
    });
  }

  getNode(id: number): Promise<DavNode | null> {
    return attempt(() => this.#node(id));
  }

  children(parentId: number): Promise<DavNode[]> {
    return attempt(() =>
      this.sql.arrays(
        `SELECT ${COLUMNS} FROM dav_nodes WHERE parent_id = ? ORDER BY name`,
        parentId,
      )
        .map(arrayToNode)
    );
  }

  contents(ids: number[]): Promise<Map<number, string>> {
    return attempt(() => {
      const result = new Map<number, string>();
      for (let i = 0; i < ids.length; i += 500) {
        const chunk = ids.slice(i, i + 500);
        const rows = this.sql.arrays(
          `SELECT id, content FROM dav_nodes WHERE id IN (${chunk.map(() => "?").join(",")})`,
          ...chunk,
        );
        for (const [id, content] of rows) {
          if (typeof content === "string") result.set(id as number, content);
        }
      }
      return result;
    });
  }

  findCalendarObject(accountId: number, uid: string): Promise<DavNode | null> {
    return attempt(() => {
      const row = this.sql.get(
        `SELECT ${COLUMNS} FROM dav_nodes WHERE uid = ? AND kind = 'resource' AND parent_id IN (
           SELECT id FROM dav_nodes WHERE account_id = ? AND kind = 'calendar') LIMIT 1`,
        uid,
        accountId,
      );
      return row ? toNode(row) : null;
    });
  }

  calendarCandidates(
    collectionId: number,
    start: number | null,
    end: number | null,
  ): Promise<DavNode[]> {
    return attempt(() =>
      this.sql.arrays(
        `SELECT ${COLUMNS} FROM dav_nodes WHERE parent_id = ?1 AND kind = 'resource'
           AND (?2 IS NULL OR time_end IS NULL OR time_end >= ?2)
           AND (?3 IS NULL OR time_start IS NULL OR time_start <= ?3)
         ORDER BY name`,
        collectionId,
        start,
        end,
      ).map(arrayToNode)
    );
  }

  createCollection(
    parentId: number,
    name: string,
    kind: DavCollectionKind,
    props: Record<string, string>,
  ): Promise<DavNode | null> {
    return attempt(() =>
      this.sql.transaction(() => {
        const parent = this.#node(parentId);
        if (!parent || !parent.isCollection) return null;
        if (this.#child(parent.accountId, parentId, name)) return null;
        const modseq = this.bumpModseq(parent.accountId);
        const id = this.#insert(parent.accountId, parentId, name, kind, modseq, {
          props: Object.keys(props).length ? JSON.stringify(props) : null,
        });
        this.#touch(parentId, modseq);
        return this.#node(id);
      })
    );
  }

  putResource(
    parentId: number,
    name: string,
    input: DavResourceInput,
    condition: DavPutCondition,
  ): Promise<DavPutResult> {
    return attempt(() =>
      this.sql.transaction((): DavPutResult => {
        const parent = this.#node(parentId);
        if (!parent || !parent.isCollection) return { ok: false, reason: "parent_missing" };
        const owner = parent.accountId;
        const existing = this.#child(owner, parentId, name);
        if (existing?.isCollection) return { ok: false, reason: "conflict" };
        if (condition.ifMatch !== undefined) {
          if (!existing) return { ok: false, reason: "precondition" };
          if (condition.ifMatch !== "*" && condition.ifMatch !== existing.etag) {
            return { ok: false, reason: "precondition" };
          }
        }
        if (condition.ifNoneMatch !== undefined && existing) {
          if (condition.ifNoneMatch === "*" || condition.ifNoneMatch === existing.etag) {
            return { ok: false, reason: "precondition" };
          }
        }
        if (condition.uniqueUid && input.uid) {
          const other = this.sql.get(
            "SELECT name FROM dav_nodes WHERE parent_id = ? AND uid = ? AND name != ?",
            parentId,
            input.uid,
            name,
          );
          if (other) {
            return { ok: false, reason: "uid_conflict", conflictName: other.name as string };
          }
        }
        const delta = input.size - (existing?.size ?? 0);
        if (!this.#quotaAllows(owner, delta)) return { ok: false, reason: "quota" };
        if (input.blobHash) {
          referenceBlob(this.sql, input.blobHash, input.size, input.blobWritten ?? false);
        }
        if (existing?.blobHash) {
          this.sql.run(
            "UPDATE blobs SET refcount = refcount - 1 WHERE hash = ?",
            existing.blobHash,
          );
        }
        this.#addBytes(owner, delta);
        const modseq = this.bumpModseq(owner);
        const fields = {
          content_type: input.contentType,
          size: input.size,
          blob_hash: input.blobHash ?? null,
          content: input.content ?? null,
          etag: input.etag,
          uid: input.uid ?? null,
          component: input.component ?? null,
          time_start: input.timeStart ?? null,
          time_end: input.timeEnd ?? null,
        };
        let id: number;
        if (existing) {
          id = existing.id;
          this.sql.run(
            `UPDATE dav_nodes SET content_type = ?, size = ?, blob_hash = ?, content = ?, etag = ?,
               uid = ?, component = ?, time_start = ?, time_end = ?, modseq = ?, updated_at = ?
             WHERE id = ?`,
            fields.content_type,
            fields.size,
            fields.blob_hash,
            fields.content,
            fields.etag,
            fields.uid,
            fields.component,
            fields.time_start,
            fields.time_end,
            modseq,
            Date.now(),
            id,
          );
        } else {
          id = this.#insert(owner, parentId, name, "resource", modseq, fields);
        }
        this.#touch(parentId, modseq);
        return { ok: true, node: this.#node(id)!, created: !existing };
      })
    );
  }

  patchProps(nodeId: number, changes: Map<string, string | null>): Promise<DavNode> {
    return attempt(() =>
      this.sql.transaction(() => {
        const node = this.#node(nodeId);
        if (!node) throw new StoreError("not_found", "no such DAV node");
        const props = { ...node.props };
        for (const [name, value] of changes) {
          if (value === null) delete props[name];
          else props[name] = value;
        }
        const modseq = this.bumpModseq(node.accountId);
        this.sql.run(
          "UPDATE dav_nodes SET props = ?, modseq = ?, updated_at = ? WHERE id = ?",
          Object.keys(props).length ? JSON.stringify(props) : null,
          modseq,
          Date.now(),
          nodeId,
        );
        if (node.parentId !== null && !node.isCollection) this.#touch(node.parentId, modseq);
        return this.#node(nodeId)!;
      })
    );
  }

  remove(nodeId: number): Promise<boolean> {
    return attempt(() =>
      this.sql.transaction(() => {
        const node = this.#node(nodeId);
        if (!node) return false;
        this.#removeNow(node);
        return true;
      })
    );
  }

  #removeNow(node: DavNode, tombstone = true): number {
    const modseq = this.bumpModseq(node.accountId);
    this.#releaseSubtree(node.accountId, node.id);
    this.sql.run("DELETE FROM dav_nodes WHERE id = ?", node.id);
    if (node.parentId !== null) {
      if (tombstone) this.#tombstone(node.parentId, node.name, modseq);
      this.#touch(node.parentId, modseq);
    }
    return modseq;
  }

  copyMove(
    mode: "copy" | "move",
    nodeId: number,
    destParentId: number,
    name: string,
    options: { overwrite: boolean; depth: 0 | "infinity" },
  ): Promise<
    { ok: true; node: DavNode; replaced: boolean } | {
      ok: false;
      reason: "exists" | "quota" | "missing" | "cycle";
    }
  > {
    return attempt(() =>
      this.sql.transaction(() => {
        const source = this.#node(nodeId);
        const parent = this.#node(destParentId);
        if (!source || !parent || !parent.isCollection) {
          return { ok: false as const, reason: "missing" as const };
        }
        // A destination inside the source would cut the moved tree off its root (or copy the
        // copy forever).
        if (this.#isWithin(destParentId, source.id)) {
          return { ok: false as const, reason: "cycle" as const };
        }
        const owner = parent.accountId;
        const existing = this.#child(owner, destParentId, name);
        if (existing && !options.overwrite) {
          return { ok: false as const, reason: "exists" as const };
        }
        // Overwriting deletes the destination first (RFC 4918 9.8.4, 9.9.3): never the source.
        if (existing && this.#isWithin(source.id, existing.id)) {
          return { ok: false as const, reason: "cycle" as const };
        }
        if (mode === "copy") {
          const bytes = options.depth === 0 || !source.isCollection
            ? source.size
            : this.#subtreeBytes(source.id);
          const freed = existing ? this.#subtreeBytes(existing.id) : 0;
          if (!this.#quotaAllows(owner, bytes - freed)) {
            return { ok: false as const, reason: "quota" as const };
          }
        }
        if (existing) this.#removeNow(existing, false);
        const modseq = this.bumpModseq(owner);
        let id: number;
        if (mode === "move") {
          this.sql.run(
            "UPDATE dav_nodes SET parent_id = ?, name = ?, modseq = ?, updated_at = ? WHERE id = ?",
            destParentId,
            name,
            modseq,
            Date.now(),
            source.id,
          );
          this.sql.run(
            "DELETE FROM dav_tombstones WHERE collection_id = ? AND name = ?",
            destParentId,
            name,
          );
          if (source.parentId !== null) {
            this.#tombstone(source.parentId, source.name, modseq);
            this.#touch(source.parentId, modseq);
          }
          id = source.id;
        } else {
          id = this.#copyTree(source, destParentId, name, modseq, options.depth);
        }
        this.#touch(destParentId, modseq);
        return { ok: true as const, node: this.#node(id)!, replaced: existing !== null };
      })
    );
  }

  /** Copies `source` (and, at depth infinity, its subtree) iteratively; returns the new id. */
  #copyTree(
    source: DavNode,
    parentId: number,
    name: string,
    modseq: number,
    depth: 0 | "infinity",
  ): number {
    const work: { from: number; to: number | null; parent: number; name: string }[] = [
      { from: source.id, to: null, parent: parentId, name },
    ];
    let rootId = 0;
    const parent = this.#node(parentId)!;
    while (work.length) {
      const item = work.pop()!;
      const row = this.sql.get("SELECT * FROM dav_nodes WHERE id = ?", item.from)!;
      if (row.blob_hash) {
        this.sql.run("UPDATE blobs SET refcount = refcount + 1 WHERE hash = ?", row.blob_hash);
      }
      this.#addBytes(parent.accountId, row.size as number);
      const id = this.#insert(
        parent.accountId,
        item.parent,
        item.name,
        row.kind as DavKindRow,
        modseq,
        {
          content_type: row.content_type,
          size: row.size,
          blob_hash: row.blob_hash,
          content: row.content,
          etag: row.etag,
          uid: row.uid,
          component: row.component,
          time_start: row.time_start,
          time_end: row.time_end,
          props: row.props,
        },
      );
      if (rootId === 0) rootId = id;
      if (row.kind !== "resource" && depth === "infinity") {
        for (
          const child of this.sql.all(
            "SELECT id, name FROM dav_nodes WHERE parent_id = ?",
            item.from,
          )
        ) {
          work.push({ from: child.id as number, to: null, parent: id, name: child.name as string });
        }
      }
    }
    return rootId;
  }

  changesSince(collectionId: number, since: number): Promise<DavChanges> {
    return attempt(() => {
      const collection = this.#node(collectionId);
      if (!collection) throw new StoreError("not_found", "no such collection");
      const newest = this.sql.get(
        "SELECT max(modseq) AS m FROM dav_nodes WHERE parent_id = ?",
        collectionId,
      )?.m as number | null;
      const latest = Math.max(collection.modseq, newest ?? 0);
      if (since > latest || (since > 0 && since < collection.syncFloor)) {
        throw new StoreError("invalid", "the sync token is no longer valid");
      }
      const changed = this.sql.arrays(
        `SELECT ${COLUMNS} FROM dav_nodes WHERE parent_id = ? AND modseq > ? ORDER BY modseq`,
        collectionId,
        since,
      ).map(arrayToNode);
      const tombstones = since === 0 ? [] : this.sql.all(
        `SELECT name, modseq FROM dav_tombstones WHERE collection_id = ? AND modseq > ?
         ORDER BY modseq`,
        collectionId,
        since,
      );
      return {
        changed,
        removed: tombstones.map((row) => row.name as string),
        removedModseq: tombstones.map((row) => row.modseq as number),
        modseq: latest,
      };
    });
  }

  pruneTombstones(before: number): Promise<number> {
    return attempt(() =>
      this.sql.transaction(() => {
        this.sql.run(
          `UPDATE dav_nodes SET sync_floor = max(sync_floor, (
             SELECT max(modseq) FROM dav_tombstones t
             WHERE t.collection_id = dav_nodes.id AND t.removed_at < ?))
           WHERE id IN (SELECT collection_id FROM dav_tombstones WHERE removed_at < ?)`,
          before,
          before,
        );
        return Number(
          this.sql.run("DELETE FROM dav_tombstones WHERE removed_at < ?", before).changes,
        );
      })
    );
  }

  sharesOf(collectionId: number): Promise<DavShare[]> {
    return attempt(() =>
      this.sql.all(
        `SELECT s.collection_id, n.account_id AS owner_id, s.sharee_id, s.access
         FROM dav_shares s JOIN dav_nodes n ON n.id = s.collection_id WHERE s.collection_id = ?`,
        collectionId,
      ).map(toShare)
    );
  }

  sharedWith(shareeId: number): Promise<DavShare[]> {
    return attempt(() =>
      this.sql.all(
        `SELECT s.collection_id, n.account_id AS owner_id, s.sharee_id, s.access
         FROM dav_shares s JOIN dav_nodes n ON n.id = s.collection_id WHERE s.sharee_id = ?
         ORDER BY s.collection_id`,
        shareeId,
      ).map(toShare)
    );
  }

  setShare(
    collectionId: number,
    shareeId: number,
    access: DavShare["access"] | null,
  ): Promise<void> {
    return attempt(() => {
      this.sql.transaction(() => {
        if (access === null) {
          this.sql.run(
            "DELETE FROM dav_shares WHERE collection_id = ? AND sharee_id = ?",
            collectionId,
            shareeId,
          );
        } else {
          this.sql.run(
            `INSERT INTO dav_shares (collection_id, sharee_id, access) VALUES (?, ?, ?)
             ON CONFLICT DO UPDATE SET access = excluded.access`,
            collectionId,
            shareeId,
            access,
          );
        }
      });
    });
  }
}

type DavKindRow = DavNode["kind"];

function toShare(row: Row): DavShare {
  return {
    collectionId: row.collection_id as number,
    ownerId: row.owner_id as number,
    shareeId: row.sharee_id as number,
    access: row.access as DavShare["access"],
  };
}
