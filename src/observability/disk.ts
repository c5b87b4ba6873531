/**
 * Disk figures for the dashboard and GET /api/status: free and total space of the file system
 * holding the data directory, and how much the store takes (database files + blob directory).
 *
 * Implementation notes:
 * - Deno has no statfs: free/total come from `df -Pk <data_dir>` (POSIX output, 1024-byte
 *   blocks) and the blob directory's size from `du -sk`, each run with a timeout. Any failure
 *   (no `df`, a timeout, output not understood) gives null, shown as "unknown".
 * - Results are cached for `cacheMs` (a minute), so a dashboard reload or an API poll does not
 *   fork processes or walk the blob tree each time; concurrent callers share one measurement.
 *
 * @example
 * const disk = new DiskUsage({ dataDir: "./data", database: "./data/postern.db", blobDir: "./data/blobs" });
 * await disk.read(); // { freeBytes: 1.2e10, totalBytes: 4e10, databaseBytes: 81920, blobBytes: 4096, ... }
 */

export interface DiskPaths {
  dataDir: string;
  database: string;
  blobDir: string;
}

export interface DiskFigures {
  /** Space available to the server on the data directory's file system; null: unknown. */
  freeBytes: number | null;
  totalBytes: number | null;
  /** The database file with its -wal and -shm files. */
  databaseBytes: number | null;
  /** Disk usage of the blob directory (du); null: unknown. */
  blobBytes: number | null;
  measuredAt: Date;
}

export interface DiskUsageOptions {
  cacheMs?: number;
  commandTimeoutMs?: number;
}

const DEFAULTS = { cacheMs: 60_000, commandTimeoutMs: 5_000 };

/** Parses `df -Pk` output: the second line's total and available 1024-byte blocks. */
export function parseDfOutput(text: string): { totalBytes: number; freeBytes: number } | null {
  const line = text.trim().split("\n")[1];
  if (!line) return null;
  // Filesystem 1024-blocks Used Available Capacity Mounted-on; the file system name and the
  // mount point may contain spaces, so anchor on the Capacity field ("32%").
  const fields = line.trim().split(/\s+/);
  const capacity = fields.findIndex((field, i) => i >= 4 && /^\d+%$/.test(field));
  if (capacity < 0) return null;
  const total = Number(fields[capacity - 3]);
  const available = Number(fields[capacity - 1]);
  if (!Number.isSafeInteger(total) || !Number.isSafeInteger(available)) return null;
  return { totalBytes: total * 1024, freeBytes: available * 1024 };
}

async function run(command: string, args: string[], timeoutMs: number): Promise<string | null> {
  try {
    const output = await new Deno.Command(command, {
      args,
      stdout: "piped",
      stderr: "null",
      stdin: "null",
      signal: AbortSignal.timeout(timeoutMs),
    }).output();
    return output.success ? new TextDecoder().decode(output.stdout) : null;
  } catch {
    return null;
  }
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).size;
  } catch {
    return 0;
  }
}

export class DiskUsage {
  readonly #options: Required<DiskUsageOptions>;
  #cached: { figures: DiskFigures; expires: number } | null = null;
  #pending: Promise<DiskFigures> | null = null;

  constructor(readonly paths: DiskPaths, options: DiskUsageOptions = {}) {
    this.#options = { ...DEFAULTS, ...options };
  }

  /** The figures, measured at most once per `cacheMs`. */
  async read(): Promise<DiskFigures> {
    if (this.#cached && this.#cached.expires > Date.now()) return this.#cached.figures;
    this.#pending ??= this.#measure().finally(() => this.#pending = null);
    return await this.#pending;
  }

  async #measure(): Promise<DiskFigures> {
    const timeout = this.#options.commandTimeoutMs;
    const [df, du, database] = await Promise.all([
      run("df", ["-Pk", this.paths.dataDir], timeout),
      run("du", ["-sk", this.paths.blobDir], timeout),
      this.#databaseBytes(),
    ]);
    const space = df === null ? null : parseDfOutput(df);
    const blobKiB = du === null ? NaN : Number(du.trim().split(/\s+/)[0]);
    const figures: DiskFigures = {
      freeBytes: space?.freeBytes ?? null,
      totalBytes: space?.totalBytes ?? null,
      databaseBytes: database,
      blobBytes: Number.isSafeInteger(blobKiB) ? blobKiB * 1024 : null,
      measuredAt: new Date(),
    };
    this.#cached = { figures, expires: Date.now() + this.#options.cacheMs };
    return figures;
  }

  async #databaseBytes(): Promise<number | null> {
    try {
      await Deno.stat(this.paths.database);
    } catch {
      return null;
    }
    const sizes = await Promise.all(
      ["", "-wal", "-shm"].map((suffix) => fileSize(this.paths.database + suffix)),
    );
    return sizes.reduce((a, b) => a + b, 0);
  }
}

const byPaths = new Map<string, DiskUsage>();

/** One shared DiskUsage per data directory, so its cache serves the dashboard and the API. */
export function diskUsageFor(paths: DiskPaths): DiskUsage {
  const key = `${paths.dataDir}\u0000${paths.database}\u0000${paths.blobDir}`;
  let usage = byPaths.get(key);
  if (!usage) {
    usage = new DiskUsage(paths);
    byPaths.set(key, usage);
  }
  return usage;
}
