/**
 * The control socket: an HTTP API on a Unix socket inside the data directory (mode 0600), used by
 * the CLI to act through a running server (so deliveries wake IDLE sessions and share its group
 * commit). Access is by file permission: whoever can open the socket owns the data anyway.
 */
import { Hono } from "hono";
import type { App } from "../app.ts";
import { deliverLocal, type RecipientResult } from "../mail/deliver.ts";
import { logger } from "../observability/log.ts";
import type { OutboundQueue } from "../smtp/outbound/queue.ts";

const log = logger("control");

export function createControlApp(app: App, queue?: OutboundQueue): Hono {
  const control = new Hono();
  // Process memory as the runtime sees it (heap vs. RSS), for diagnosing footprint.
  control.get("/memory", (c) => {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (c.req.query("gc") !== undefined && gc) gc();
    return c.json(Deno.memoryUsage());
  });
  // `postern queue retry` changed the store; the worker looks at the queue now.
  control.post("/queue/wake", (c) => {
    queue?.wake();
    return c.json({ ok: true });
  });
  control.post("/deliver", async (c) => {
    const recipients = new URL(c.req.url).searchParams.getAll("rcpt");
    if (recipients.length === 0) return c.json({ error: "no recipients (rcpt=…)" }, 400);
    // Read no more than a message may be (plus room for line-end growth): the socket is local,
    // but a runaway pipe must not exhaust memory.
    const limit = app.loaded.config.limits.max_message_size * 2;
    const raw = await readLimited(c.req.raw.body, limit);
    if (raw === null) {
      return c.json(
        { error: `message exceeds ${app.loaded.config.limits.max_message_size} bytes` },
        413,
      );
    }
    const results = await deliverLocal(app.messages, app.directory, raw, recipients);
    return c.json({ results });
  });
  control.onError((error, c) => {
    log.error("control request failed", { error });
    return c.json({ error: "internal error; see the server log" }, 500);
  });
  return control;
}

async function readLimited(
  body: ReadableStream<Uint8Array> | null,
  limit: number,
): Promise<Uint8Array | null> {
  if (!body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += chunk.length;
    if (total > limit) return null;
    chunks.push(chunk);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

export async function serveControl(
  app: App,
  path: string,
  queue?: OutboundQueue,
): Promise<Deno.HttpServer> {
  try {
    await Deno.remove(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const control = createControlApp(app, queue);
  const server = Deno.serve({ path, onListen() {} }, control.fetch);
  await Deno.chmod(path, 0o600);
  return server;
}

/** Delivers through a running server; returns null when none listens on the socket. */
export async function deliverViaControl(
  socketPath: string,
  raw: Uint8Array,
  recipients: string[],
): Promise<RecipientResult[] | null> {
  let client: Deno.HttpClient;
  try {
    await Deno.lstat(socketPath);
    client = Deno.createHttpClient({ proxy: { transport: "unix", path: socketPath } });
  } catch {
    return null;
  }
  try {
    const query = recipients.map((r) => `rcpt=${encodeURIComponent(r)}`).join("&");
    let response: Response;
    try {
      response = await fetch(`http://postern/deliver?${query}`, {
        method: "POST",
        body: raw as Uint8Array<ArrayBuffer>,
        client,
      });
    } catch (error) {
      // Refused before anything was sent: a stale socket with no server behind it. Any other
      // failure (the server died mid-request) leaves the outcome unknown and must not be retried
      // by delivering again, which could store the message twice.
      if (/refused|not found|no such file/i.test(String(error))) return null;
      throw new Error(`the server stopped answering; the delivery may or may not have happened`);
    }
    const body = await response.json();
    if (!response.ok) {
      throw new Error(`server refused the delivery: ${body.error ?? response.status}`);
    }
    return body.results as RecipientResult[];
  } finally {
    client.close();
  }
}

/** Tells a running server to look at its queue now; false when no server answers. */
export async function wakeQueueViaControl(socketPath: string): Promise<boolean> {
  let client: Deno.HttpClient;
  try {
    await Deno.lstat(socketPath);
    client = Deno.createHttpClient({ proxy: { transport: "unix", path: socketPath } });
  } catch {
    return false;
  }
  try {
    const response = await fetch("http://postern/queue/wake", { method: "POST", client });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  } finally {
    client.close();
  }
}
