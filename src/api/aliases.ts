/**
 * /api/aliases: list, add, delete — what `postern alias …` does, through the same directory
 * functions. An alias address "@domain" is the domain's catch-all.
 */
import type { Hono } from "hono";
import { z } from "zod";
import type { Alias } from "../store/types.ts";
import type { ApiEnv } from "./auth.ts";
import type { ApiDeps } from "./deps.ts";
import { ApiError, readJson } from "./respond.ts";

export const newAliasBody = z.object({
  address: z.string().min(2).max(320).describe("local@domain, or @domain for a catch-all."),
  target: z.string().min(3).max(320).describe(
    "Where its mail goes: an account, another alias or an outside address.",
  ),
}).strict();

const aliasView = (alias: Alias) => ({ address: alias.address, target: alias.target });

export function mountAliases(api: Hono<ApiEnv>, deps: ApiDeps): void {
  const { app } = deps;
  api.get("/aliases", async (c) => {
    const domain = c.req.query("domain");
    let domainId: number | undefined;
    if (domain !== undefined) {
      const row = await app.store.getDomain(domain.toLowerCase());
      if (!row) throw new ApiError(404, "notFound", `no domain ${domain}`);
      domainId = row.id;
    }
    return c.json({ aliases: (await app.store.listAliases(domainId)).map(aliasView) });
  });
  api.post("/aliases", async (c) => {
    const { address, target } = await readJson(c, newAliasBody, deps.maxRequestSize);
    return c.json(aliasView(await app.directory.addAlias(address, target)), 201);
  });
  api.delete("/aliases/:address", async (c) => {
    await app.directory.deleteAlias(c.req.param("address"), c.req.query("target"));
    return c.body(null, 204);
  });
}
