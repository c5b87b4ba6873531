/**
 * /api/accounts/{address}/tokens: an account's API tokens (Bearer credentials for JMAP, DAV and
 * this API) — list, create (the token is in the answer once, never again), revoke — what
 * `postern token …` does, through the same ApiTokens.
 */
import type { Hono } from "hono";
import { z } from "zod";
import type { ApiKey } from "../store/types.ts";
import type { ApiEnv } from "./auth.ts";
import type { ApiDeps } from "./deps.ts";
import { ApiError, idParam, readJson } from "./respond.ts";

export const newTokenBody = z.object({
  label: z.string().max(200).default("").describe("What the token is for, e.g. the device."),
}).strict();

const tokenView = (key: ApiKey) => ({
  id: key.id,
  label: key.label,
  createdAt: key.createdAt.toISOString(),
  lastUsedAt: key.lastUsedAt?.toISOString() ?? null,
});

export function mountTokens(api: Hono<ApiEnv>, deps: ApiDeps): void {
  const { app, tokens } = deps;
  api.get("/accounts/:address/tokens", async (c) => {
    const account = await app.directory.requireAccount(c.req.param("address"));
    return c.json({ tokens: (await tokens.list(account.id)).map(tokenView) });
  });
  api.post("/accounts/:address/tokens", async (c) => {
    const account = await app.directory.requireAccount(c.req.param("address"));
    const { label } = await readJson(c, newTokenBody, deps.maxRequestSize);
    const { key, token } = await tokens.create(account.id, label);
    return c.json({ ...tokenView(key), token }, 201);
  });
  api.delete("/accounts/:address/tokens/:id", async (c) => {
    const account = await app.directory.requireAccount(c.req.param("address"));
    const id = idParam(c.req.param("id"), "token");
    const owned = (await tokens.list(account.id)).some((key) => key.id === id);
    if (!owned || !(await tokens.revoke(id))) {
      throw new ApiError(404, "notFound", `no token ${id} for ${account.address}`);
    }
    return c.body(null, 204);
  });
}
