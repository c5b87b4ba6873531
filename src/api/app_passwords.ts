/**
 * /api/accounts/{address}/app-passwords: an account's app passwords (extra passwords for one
 * device each, src/directory/app_passwords.ts) — list, create (the password is in the answer
 * once, never again), revoke — what `postern account app-password …` does, through the same
 * directory functions.
 */
import type { Hono } from "hono";
import { z } from "zod";
import type { AppPassword } from "../store/types.ts";
import { MAX_APP_PASSWORD_NAME } from "../directory/app_passwords.ts";
import type { ApiEnv } from "./auth.ts";
import type { ApiDeps } from "./deps.ts";
import { idParam, readJson } from "./respond.ts";

export const newAppPasswordBody = z.object({
  name: z.string().trim().min(1).max(MAX_APP_PASSWORD_NAME)
    .describe("What the app password is for, e.g. the device."),
}).strict();

/** An app password as the API and the account page show it. */
export const appPasswordView = (entry: AppPassword) => ({
  id: entry.id,
  name: entry.name,
  createdAt: entry.createdAt.toISOString(),
  lastUsedAt: entry.lastUsedAt?.toISOString() ?? null,
});

export function mountAppPasswords(api: Hono<ApiEnv>, deps: ApiDeps): void {
  const { directory } = deps.app;
  api.get("/accounts/:address/app-passwords", async (c) => {
    const entries = await directory.listAppPasswords(c.req.param("address"));
    return c.json({ appPasswords: entries.map(appPasswordView) });
  });
  api.post("/accounts/:address/app-passwords", async (c) => {
    const address = c.req.param("address");
    await directory.requireAccount(address);
    const { name } = await readJson(c, newAppPasswordBody, deps.maxRequestSize);
    const { appPassword, password } = await directory.addAppPassword(address, name);
    return c.json({ ...appPasswordView(appPassword), password }, 201);
  });
  api.delete("/accounts/:address/app-passwords/:id", async (c) => {
    const id = idParam(c.req.param("id"), "app password");
    await directory.revokeAppPassword(c.req.param("address"), id);
    return c.body(null, 204);
  });
}
