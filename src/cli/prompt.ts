/** Reads a password: without echo from a terminal, or one line from a pipe. */
export async function readPassword(prompt: string): Promise<string> {
  const encoder = new TextEncoder();
  if (!Deno.stdin.isTerminal()) {
    return (await readLine()) ?? "";
  }
  await Deno.stderr.write(encoder.encode(prompt));
  Deno.stdin.setRaw(true);
  const bytes: number[] = [];
  const buffer = new Uint8Array(1);
  try {
    while (true) {
      const n = await Deno.stdin.read(buffer);
      if (n === null || buffer[0] === 0x0d || buffer[0] === 0x0a) break;
      if (buffer[0] === 0x03) throw new Error("cancelled");
      if (buffer[0] === 0x7f || buffer[0] === 0x08) bytes.pop();
      else bytes.push(buffer[0]);
    }
  } finally {
    Deno.stdin.setRaw(false);
    await Deno.stderr.write(encoder.encode("\n"));
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

let pending = new Uint8Array(0);

async function readLine(): Promise<string | null> {
  const chunk = new Uint8Array(4096);
  while (true) {
    const newline = pending.indexOf(0x0a);
    if (newline >= 0) {
      const line = pending.subarray(0, newline);
      pending = pending.slice(newline + 1);
      return new TextDecoder().decode(line).replace(/\r$/, "");
    }
    const n = await Deno.stdin.read(chunk);
    if (n === null) {
      if (pending.length === 0) return null;
      const line = new TextDecoder().decode(pending);
      pending = new Uint8Array(0);
      return line;
    }
    const next = new Uint8Array(pending.length + n);
    next.set(pending);
    next.set(chunk.subarray(0, n), pending.length);
    pending = next;
  }
}
