/**
 * Best-effort answer to "who holds this port?" for bind error messages, from /proc on Linux:
 * find the inode of the listening socket in /proc/net/tcp{,6}, then the process with an fd
 * pointing at `socket:[inode]`. Returns undefined anywhere else or when not permitted.
 *
 * @example
 * await findPortHolder(25); // "pid 812 (master)"
 */
export async function findPortHolder(port: number): Promise<string | undefined> {
  try {
    const inodes = new Set<string>();
    for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
      let text: string;
      try {
        text = await Deno.readTextFile(table);
      } catch {
        continue;
      }
      for (const line of text.split("\n").slice(1)) {
        const fields = line.trim().split(/\s+/);
        if (fields.length < 10) continue;
        const localPort = parseInt(fields[1].split(":")[1] ?? "", 16);
        const listening = fields[3] === "0A";
        if (listening && localPort === port && fields[9] !== "0") inodes.add(fields[9]);
      }
    }
    if (inodes.size === 0) return undefined;
    for await (const entry of Deno.readDir("/proc")) {
      if (!/^\d+$/.test(entry.name)) continue;
      const holder = await scanProcess(entry.name, inodes);
      if (holder) return holder;
    }
  } catch {
    // /proc missing or unreadable: no hint.
  }
  return undefined;
}

async function scanProcess(pid: string, inodes: Set<string>): Promise<string | undefined> {
  try {
    for await (const fd of Deno.readDir(`/proc/${pid}/fd`)) {
      const target = await Deno.readLink(`/proc/${pid}/fd/${fd.name}`).catch(() => "");
      const match = /^socket:\[(\d+)\]$/.exec(target);
      if (match && inodes.has(match[1])) {
        const comm = (await Deno.readTextFile(`/proc/${pid}/comm`).catch(() => "")).trim();
        return comm ? `pid ${pid} (${comm})` : `pid ${pid}`;
      }
    }
  } catch {
    // The process ended, or its fds are not ours to read.
  }
  return undefined;
}
