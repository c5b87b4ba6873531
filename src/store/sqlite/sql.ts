/** Prepared statements cached by their text, and IMMEDIATE transactions, on one connection. */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { StoreError } from "../types.ts";
import { storeTransactionSeconds } from "../../observability/metrics.ts";

export type Row = Record<string, unknown>;

export class Sql {
  readonly #statements = new Map<string, StatementSync>();
  readonly #arrayStatements = new Map<string, StatementSync>();

  constructor(readonly db: DatabaseSync) {}

  stmt(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  get(sql: string, ...params: unknown[]): Row | undefined {
    return this.stmt(sql).get(...params as never[]) as Row | undefined;
  }

  all(sql: string, ...params: unknown[]): Row[] {
    return this.stmt(sql).all(...params as never[]) as Row[];
  }

  /**
   * Rows as arrays of column values, in the SELECT's order: for reading many rows, where
   * node:sqlite's per-row objects cost more than the query.
   */
  arrays(sql: string, ...params: unknown[]): unknown[][] {
    let statement = this.#arrayStatements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      // In node:sqlite since Node 24 and in Deno 2.9's runtime, not yet in its type definitions.
      (statement as StatementSync & { setReturnArrays(on: boolean): void }).setReturnArrays(true);
      this.#arrayStatements.set(sql, statement);
    }
    return statement.all(...params as never[]) as unknown as unknown[][];
  }

  run(sql: string, ...params: unknown[]) {
    return this.stmt(sql).run(...params as never[]);
  }

  /**
   * Runs `work` in BEGIN IMMEDIATE … COMMIT; rolls back and rethrows on error.
   *
   * `relaxed` commits without waiting for fsync (WAL with synchronous=NORMAL): for metadata a
   * client can redo (flags, expunges, subscriptions), as Dovecot's mail_fsync=optimized does.
   * A crash may lose the last such commits, never corrupts, and the next full commit makes
   * them durable with itself. Accepted mail always commits in full.
   */
  transaction<T>(work: () => T, durability: "full" | "relaxed" = "full"): T {
    const started = performance.now();
    if (durability === "relaxed") this.run("PRAGMA synchronous = NORMAL");
    try {
      this.run("BEGIN IMMEDIATE");
      try {
        const result = work();
        this.run("COMMIT");
        return result;
      } catch (error) {
        this.db.exec("ROLLBACK");
        throw error;
      }
    } finally {
      if (durability === "relaxed") this.run("PRAGMA synchronous = FULL");
      storeTransactionSeconds.observe({ durability }, (performance.now() - started) / 1000);
    }
  }

  /** Forgets the cached statements (before the connection closes). */
  clear(): void {
    this.#statements.clear();
    this.#arrayStatements.clear();
  }
}

/**
 * Takes one reference on a blob for a new row (email, queued message). The blob row is created
 * when the caller wrote the file (`written`); otherwise a blob collected meanwhile is an error
 * ("blob_missing": write it again), so no row ever points at a deleted file.
 */
export function referenceBlob(sql: Sql, hash: string, size: number, written: boolean): void {
  const updated = sql.run("UPDATE blobs SET refcount = refcount + 1 WHERE hash = ?", hash);
  if (Number(updated.changes) > 0) return;
  if (!written) throw new StoreError("blob_missing", `blob ${hash} was collected; write it again`);
  sql.run(
    "INSERT INTO blobs (hash, size, refcount, created_at) VALUES (?, ?, 1, ?)",
    hash,
    size,
    Date.now(),
  );
}

/**
 * The next id of a table whose ids JMAP hands out (emails, threads, mailboxes, JSON objects):
 * never one used before, even after the row with the highest id was deleted (SQLite's own rowid
 * choice would reuse it, and a JMAP client would take the new object for the old one).
 */
export function nextId(
  sql: Sql,
  table: "emails" | "threads" | "mailboxes" | "jmap_objects",
): number {
  const row = sql.get(
    "UPDATE id_counters SET next = next + 1 WHERE name = ? RETURNING next - 1 AS id",
    table,
  );
  if (!row) throw new Error(`no id counter for ${table}`);
  return row.id as number;
}

/** Runs synchronous store work as the Store interface's promise (errors become rejections). */
export function attempt<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (error) {
    return Promise.reject(error);
  }
}
