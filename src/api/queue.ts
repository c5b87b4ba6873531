/**
 * /api/queue: the outbound queue — list, show, retry (one message or all), delete — what
 * `postern queue …` does, through the same store functions; a retry also wakes the running
 * queue, as the control socket does for the CLI.
 */
import type { Hono } from "hono";
import type { QueuedMessage } from "../store/types.ts";
import type { ApiEnv } from "./auth.ts";
import type { ApiDeps } from "./deps.ts";
import { ApiError, idParam } from "./respond.ts";

export function queuedView(message: QueuedMessage) {
  return {
    id: message.id,
    returnPath: message.returnPath,
    source: message.source,
    size: message.size,
    body: message.body,
    smtputf8: message.smtputf8,
    requireTls: message.requireTls,
    envelopeId: message.envelopeId,
    arrivedAt: message.arrivedAt.toISOString(),
    expiresAt: message.expiresAt.toISOString(),
    recipients: message.recipients.map((r) => ({
      address: r.address,
      status: r.status,
      attempts: r.attempts,
      nextAttemptAt: r.status === "queued" ? r.nextAttemptAt.toISOString() : null,
      lastAttemptAt: r.lastAttemptAt?.toISOString() ?? null,
      lastReply: r.lastReply,
      lastHost: r.lastHost,
    })),
  };
}

export function mountQueue(api: Hono<ApiEnv>, deps: ApiDeps): void {
  const { app } = deps;
  const find = async (text: string) => {
    const message = await app.store.getQueued(idParam(text, "queued message"));
    if (!message) throw new ApiError(404, "notFound", `no queued message ${text}`);
    return message;
  };
  const retry = async (id?: number) => {
    const due = await app.store.retryQueued(new Date(), id);
    deps.queue?.wake();
    return { due };
  };

  api.get(
    "/queue",
    async (c) => c.json({ messages: (await app.store.listQueue()).map(queuedView) }),
  );
  api.post("/queue/retry", async (c) => c.json(await retry()));
  api.get("/queue/:id", async (c) => c.json(queuedView(await find(c.req.param("id")))));
  api.post("/queue/:id/retry", async (c) => {
    const message = await find(c.req.param("id"));
    return c.json(await retry(message.id));
  });
  api.delete("/queue/:id", async (c) => {
    if (!(await app.store.deleteQueued(idParam(c.req.param("id"), "queued message")))) {
      throw new ApiError(404, "notFound", `no queued message ${c.req.param("id")}`);
    }
    return c.body(null, 204);
  });
}
