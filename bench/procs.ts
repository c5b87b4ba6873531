/**
 * Processes and ports for the benchmarks' peers (Dovecot, Postfix) and for reading memory and
 * CPU from /proc: one copy for every bench.
 */

/** A port free on 127.0.0.1 right now (the kernel's pick), for a peer to listen on. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Waits up to 10 s for something to accept connections on 127.0.0.1:`port`. */
export async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`nothing listens on ${port}`);
}

/**
 * The pid in `path`, waiting up to 5 s for the file (daemons write it a moment after they
 * detach); 0 when it never appears.
 */
export async function readPidFile(path: string): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const pid = Number((await Deno.readTextFile(path).catch(() => "")).trim());
    if (pid) return pid;
    await new Promise((r) => setTimeout(r, 50));
  }
  return 0;
}

/** SIGTERM, then wait up to 5 s for the process to go (SIGKILL after that). */
export async function killAndWait(pid: number): Promise<void> {
  try {
    Deno.kill(pid, "SIGTERM");
  } catch {
    return; // already gone
  }
  for (let i = 0; i < 100; i++) {
    if (!alive(pid)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  try {
    Deno.kill(pid, "SIGKILL");
  } catch { /* gone meanwhile */ }
}

function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(Deno.readTextFileSync(`/proc/${pid}/status`));
  } catch {
    return false;
  }
}

/** `roots` and all their descendants alive now. */
export function processTree(roots: readonly number[]): number[] {
  const children = new Map<number, number[]>();
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const ppid = Number(statFields(Number(entry.name))?.[1] ?? 0);
    if (!children.has(ppid)) children.set(ppid, []);
    children.get(ppid)!.push(Number(entry.name));
  }
  const tree: number[] = [];
  const pending = [...roots];
  while (pending.length) {
    const pid = pending.pop()!;
    tree.push(pid);
    pending.push(...children.get(pid) ?? []);
  }
  return tree;
}

/** /proc/PID/stat split after the command name (which may hold spaces), or null if gone. */
export function statFields(pid: number): string[] | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return null;
  }
}

/** A field of /proc/PID/status in KiB (VmRSS, VmHWM); 0 when the process is gone. */
export function statusKiB(pid: number, field: string): number {
  return kiBField(`/proc/${pid}/status`, field);
}

/** A field of /proc/PID/smaps_rollup in KiB (Pss: shared pages split among their users). */
export function rollupKiB(pid: number, field: string): number {
  return kiBField(`/proc/${pid}/smaps_rollup`, field);
}

function kiBField(path: string, field: string): number {
  try {
    const text = Deno.readTextFileSync(path);
    return Number(new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(text)?.[1] ?? 0);
  } catch {
    return 0; // exited between listing and reading
  }
}
