/**
 * Content-addressed blob files: data_dir/blobs/ab/cd/<sha256>. A blob is written to a temp file,
 * fsynced, renamed into place and its folder fsynced, so once `put` resolves the bytes survive
 * power loss. Reference counts live in the database (store); this module only moves bytes.
 */
import { join } from "node:path";

export function sha256Hex(data: Uint8Array): Promise<string> {
  return crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>).then((digest) =>
    Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("")
  );
}

export class BlobStore {
  #knownDirs = new Set<string>();

  constructor(readonly root: string) {}

  pathOf(hash: string): string {
    return join(this.root, hash.slice(0, 2), hash.slice(2, 4), hash);
  }

  async init(): Promise<void> {
    await Deno.mkdir(join(this.root, "tmp"), { recursive: true });
  }

  /** Writes the bytes durably under their hash; a file already there is kept (deduplication). */
  async put(hash: string, data: Uint8Array): Promise<void> {
    const path = this.pathOf(hash);
    if (await exists(path)) return;
    const dir = join(this.root, hash.slice(0, 2), hash.slice(2, 4));
    if (!this.#knownDirs.has(dir)) {
      await Deno.mkdir(dir, { recursive: true });
      this.#knownDirs.add(dir);
    }
    const tmp = join(this.root, "tmp", `${hash}.${crypto.randomUUID()}`);
    const file = await Deno.open(tmp, { write: true, createNew: true, mode: 0o640 });
    try {
      let written = 0;
      while (written < data.length) written += await file.write(data.subarray(written));
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(tmp, path);
    await syncDir(dir);
  }

  async get(hash: string): Promise<Uint8Array> {
    return await Deno.readFile(this.pathOf(hash));
  }

  async delete(hash: string): Promise<void> {
    try {
      await Deno.remove(this.pathOf(hash));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }

  /** Lists every stored hash (for orphan sweeps and checks). */
  async *list(): AsyncGenerator<{ hash: string; mtime: Date | null }> {
    for await (const a of safeReadDir(this.root)) {
      if (!a.isDirectory || a.name.length !== 2) continue;
      for await (const b of safeReadDir(join(this.root, a.name))) {
        if (!b.isDirectory) continue;
        for await (const f of safeReadDir(join(this.root, a.name, b.name))) {
          if (!f.isFile || !/^[0-9a-f]{64}$/.test(f.name)) continue;
          const stat = await Deno.stat(join(this.root, a.name, b.name, f.name)).catch(() => null);
          yield { hash: f.name, mtime: stat?.mtime ?? null };
        }
      }
    }
  }

  /** Removes temp files left by a crash mid-write. */
  async cleanTemp(): Promise<number> {
    let removed = 0;
    for await (const entry of safeReadDir(join(this.root, "tmp"))) {
      await Deno.remove(join(this.root, "tmp", entry.name)).catch(() => {});
      removed++;
    }
    return removed;
  }
}

async function* safeReadDir(path: string): AsyncGenerator<Deno.DirEntry> {
  try {
    yield* Deno.readDir(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await Deno.open(dir, { read: true });
  try {
    await handle.sync();
  } finally {
    handle.close();
  }
}
