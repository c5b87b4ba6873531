/**
 * /api/accounts: list, create, show (with quota, usage and whether two-step sign-in is on),
 * change (password, display name, quota, disabled), delete, turn two-step sign-in off, and an
 * account's mailboxes — what `postern account …` and `postern mailbox list` do, through the same
 * directory and store functions.
 *
 * Implementation notes:
 * - Disabling an account refuses its new logins and tokens; sessions already open go on.
 * - An administrator cannot delete or disable the account it is authenticated as, so the API
 *   cannot lock out its last user by accident.
 */
import type { Context, Hono } from "hono";
import { z } from "zod";
import { size } from "../config/schema.ts";
import type { Account } from "../store/types.ts";
import type { ApiEnv } from "./auth.ts";
import type { ApiDeps } from "./deps.ts";
import { ApiError, readJson } from "./respond.ts";

const quota = z.union([z.number().int().min(0), z.string()]).pipe(size())
  .describe('Bytes, or a size such as "2G"; 0 means unlimited.');

export const newAccountBody = z.object({
  address: z.string().min(3).max(320).describe("local@domain; the domain must exist."),
  password: z.string().min(1).max(1024).optional(),
  passwordHash: z.string().min(1).max(1024).optional()
    .describe("A stored hash with a {SCHEME} prefix, for migrations; instead of password."),
  displayName: z.string().max(256).optional(),
  quota: quota.optional(),
}).strict().refine(
  (body) => (body.password === undefined) !== (body.passwordHash === undefined),
  "give password or passwordHash (one of them)",
);

export const accountChangesBody = z.object({
  password: z.string().min(1).max(1024).optional(),
  displayName: z.string().max(256).optional(),
  quota: quota.optional(),
  disabled: z.boolean().optional(),
}).strict().refine((body) => Object.keys(body).length > 0, "give at least one field to change");

/** An account as the API shows it; `totp`: two-step sign-in is on (src/directory/totp.ts). */
export function accountView(account: Account, totp: boolean) {
  return {
    address: account.address,
    displayName: account.displayName,
    quota: account.quota,
    usedBytes: account.usedBytes,
    disabled: account.disabled,
    totp,
    createdAt: account.createdAt.toISOString(),
  };
}

export function mountAccounts(api: Hono<ApiEnv>, deps: ApiDeps): void {
  const { app } = deps;
  const requireAccount = (c: Context<ApiEnv>) =>
    app.directory.requireAccount(c.req.param("address") ?? "");
  const view = async (account: Account) =>
    accountView(account, await app.directory.totpEnabled(account.id));
  const notSelf = (c: Context<ApiEnv>, account: Account, what: string) => {
    if (c.get("account").id === account.id) {
      throw new ApiError(409, "conflict", `you cannot ${what} the account you are signed in as`);
    }
  };

  api.get("/accounts", async (c) => {
    const domain = c.req.query("domain");
    let domainId: number | undefined;
    if (domain !== undefined) {
      const row = await app.store.getDomain(domain.toLowerCase());
      if (!row) throw new ApiError(404, "notFound", `no domain ${domain}`);
      domainId = row.id;
    }
    const totp = new Set(await app.store.listTotpAccountIds());
    const accounts = await app.store.listAccounts(domainId);
    return c.json({ accounts: accounts.map((a) => accountView(a, totp.has(a.id))) });
  });
  api.post("/accounts", async (c) => {
    const body = await readJson(c, newAccountBody, deps.maxRequestSize);
    const credential = body.passwordHash !== undefined
      ? { hash: body.passwordHash }
      : { password: body.password ?? "" };
    const account = await app.directory.addAccount(body.address, credential, {
      displayName: body.displayName,
      quota: body.quota,
    });
    return c.json(await view(account), 201);
  });
  api.get("/accounts/:address", async (c) => c.json(await view(await requireAccount(c))));
  api.patch("/accounts/:address", async (c) => {
    const account = await requireAccount(c);
    const body = await readJson(c, accountChangesBody, deps.maxRequestSize);
    if (body.disabled) notSelf(c, account, "disable");
    if (body.password !== undefined) {
      await app.directory.setPassword(account.address, body.password);
    }
    const { displayName, quota, disabled } = body;
    if (displayName !== undefined || quota !== undefined || disabled !== undefined) {
      await app.store.updateAccount(account.id, { displayName, quota, disabled });
    }
    return c.json(await view(await app.directory.requireAccount(account.address)));
  });
  api.delete("/accounts/:address/totp", async (c) => {
    const account = await requireAccount(c);
    await app.directory.disableTotp(account.address);
    return c.body(null, 204);
  });
  api.delete("/accounts/:address", async (c) => {
    const account = await requireAccount(c);
    notSelf(c, account, "delete");
    await app.directory.deleteAccount(account.address);
    await app.store.collectBlobs((hash) => app.blobs.deleteSync(hash));
    return c.body(null, 204);
  });
  api.get("/accounts/:address/mailboxes", async (c) => {
    const account = await requireAccount(c);
    const mailboxes = await app.store.listMailboxes(account.id);
    return c.json({
      mailboxes: mailboxes.map((m) => ({
        path: m.path,
        role: m.role,
        messages: m.messages,
        unseen: m.unseen,
        size: m.size,
      })),
    });
  });
}
