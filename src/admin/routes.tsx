/**
 * The web admin's pages and form actions, each calling what the matching /api route calls:
 * the directory (domains, accounts, aliases), the store (queue) and the API's request schemas,
 * so a form is checked exactly as the same JSON body would be. An account's Apple profile is the
 * download the account page gives its user (src/http/mobileconfig.ts).
 */
import type { Hono } from "hono";
import { newDomainBody, parseZone } from "../api/domains.ts";
import { accountChangesBody, newAccountBody } from "../api/accounts.ts";
import { newAliasBody } from "../api/aliases.ts";
import { newTokenBody } from "../api/tokens.ts";
import { idParam } from "../api/respond.ts";
import { ApiTokens } from "../directory/tokens.ts";
import { normalizeDomain } from "../directory/directory.ts";
import { domainRecords } from "../directory/dns_records.ts";
import { clientDnsRecords } from "../http/client_records.ts";
import { profileResponse } from "../http/mobileconfig.ts";
import { checkCertificates, checkRecord } from "./dns_check.ts";
import { act, type Ctx, field, FormError, parse, render } from "./respond.tsx";
import type { AdminEnv, AdminOptions } from "./mod.ts";
import type { AdminSession, SessionStore } from "./session.ts";
import { serverStatus } from "./status.ts";
import { Dashboard } from "./pages/dashboard.tsx";
import { DomainsPage } from "./pages/domains.tsx";
import { DnsPage } from "./pages/dns.tsx";
import { AccountsPage } from "./pages/accounts.tsx";
import { AliasesPage } from "./pages/aliases.tsx";
import { AppPasswordsPage } from "./pages/app_passwords.tsx";
import { TokensPage } from "./pages/tokens.tsx";
import { QueuedMessagePage, QueuePage } from "./pages/queue.tsx";

export function mountPages(
  admin: Hono<AdminEnv>,
  options: AdminOptions,
  sessions: SessionStore,
): void {
  const { app } = options;
  const certificates = options.certificates ?? (() => []);
  const listeners = options.listeners ?? (() => []);

  const notSelf = (session: AdminSession, accountId: number, what: string) => {
    if (session.accountId === accountId) {
      throw new FormError(`you cannot ${what} the account you are signed in as`);
    }
  };

  admin.get("/", async (c) => {
    const status = await serverStatus(app, certificates, listeners);
    return render(c, "Dashboard", <Dashboard status={status} />);
  });

  // ---- domains ----
  admin.get("/domains", async (c) => {
    const domains = await Promise.all((await app.store.listDomains()).map(async (domain) => ({
      name: domain.name,
      createdAt: domain.createdAt,
      accounts: (await app.store.listAccounts(domain.id)).length,
      aliases: (await app.store.listAliases(domain.id)).length,
      dkimSelectors: (await app.store.listDkimKeys(domain.id)).map((key) => key.selector),
    })));
    return render(
      c,
      "Domains",
      <DomainsPage domains={domains} token={c.get("session").csrfToken} />,
    );
  });
  admin.post("/domains", (c) =>
    act(c, "/admin/domains", async (form) => {
      const { name } = parse(newDomainBody, { name: form.get("name") ?? "" });
      const domain = await app.directory.addDomain(name);
      return `Added ${domain.name} with its DKIM keys; publish its DNS records.`;
    }));
  admin.post("/domains/:domain/delete", (c) =>
    act(c, "/admin/domains", async () => {
      const name = normalizeDomain(c.req.param("domain"));
      await app.directory.deleteDomain(name);
      return `Deleted ${name}.`;
    }));
  admin.get("/domains/:domain/dns", async (c) => {
    const domain = await app.store.getDomain(normalizeDomain(c.req.param("domain")));
    if (!domain) return c.text(`No domain ${c.req.param("domain")}\n`, 404);
    const { config } = app.loaded;
    const zone = domainRecords({
      domain: domain.name,
      hostname: config.server.hostname,
      dkim: await app.directory.dkimKeys(domain.name),
      clients: clientDnsRecords(domain.name, config),
    });
    const records = parseZone(zone);
    const rows = await Promise.all(
      records.map(async (record) => ({
        record,
        check: await checkRecord(options.resolver, record),
      })),
    );
    return render(
      c,
      `DNS records for ${domain.name}`,
      <DnsPage
        domain={domain.name}
        rows={rows}
        zone={zone.join("\n") + "\n"}
        certificates={checkCertificates(domain.name, config, certificates())}
      />,
    );
  });

  // ---- accounts ----
  admin.get("/accounts", async (c) => {
    const accounts = await app.store.listAccounts();
    const domains = (await app.store.listDomains()).map((d) => d.name);
    const totp = new Set(await app.store.listTotpAccountIds());
    return render(
      c,
      "Accounts",
      <AccountsPage
        accounts={accounts}
        domains={domains}
        totp={totp}
        token={c.get("session").csrfToken}
      />,
    );
  });
  admin.get("/accounts/:address/mobileconfig", async (c) => {
    const account = await app.directory.getAccount(c.req.param("address")).catch(() => null);
    if (!account) return c.text(`No account ${c.req.param("address")}\n`, 404);
    const profile = profileResponse(app, account);
    // The page's security headers are set on c after this handler; keep them on the download.
    for (const [name, value] of profile.headers) c.header(name, value);
    return c.body(await profile.arrayBuffer());
  });
  admin.post("/accounts", (c) =>
    act(c, "/admin/accounts", async (form) => {
      const body = parse(newAccountBody, {
        address: field(form, "address") ?? "",
        password: form.get("password") ?? "",
        displayName: field(form, "displayName"),
        quota: field(form, "quota"),
      });
      const account = await app.directory.addAccount(body.address, {
        password: body.password ?? "",
      }, { displayName: body.displayName, quota: body.quota });
      return `Created ${account.address}.`;
    }));
  const accountAction = (
    path: string,
    action: (c: Ctx, form: URLSearchParams, address: string) => Promise<string>,
  ) =>
    admin.post(
      `/accounts/:address/${path}`,
      (c) => act(c, "/admin/accounts", (form) => action(c, form, c.req.param("address"))),
    );
  accountAction("password", async (_c, form, address) => {
    const { password } = parse(accountChangesBody, { password: form.get("password") ?? "" });
    const account = await app.directory.requireAccount(address);
    await app.directory.setPassword(account.address, password ?? "");
    return `Changed the password of ${account.address}.`;
  });
  accountAction("quota", async (_c, form, address) => {
    const { quota } = parse(accountChangesBody, { quota: field(form, "quota") ?? "" });
    const account = await app.directory.requireAccount(address);
    await app.store.updateAccount(account.id, { quota });
    return `Set the quota of ${account.address}.`;
  });
  for (const disabled of [true, false]) {
    accountAction(disabled ? "disable" : "enable", async (c, _form, address) => {
      const account = await app.directory.requireAccount(address);
      if (disabled) notSelf(c.get("session"), account.id, "disable");
      await app.store.updateAccount(account.id, { disabled });
      if (disabled) sessions.deleteAccount(account.id);
      return `${disabled ? "Disabled" : "Enabled"} ${account.address}.`;
    });
  }
  accountAction("totp/disable", async (_c, _form, address) => {
    await app.directory.disableTotp(address);
    return `Turned off two-step sign-in for ${address.toLowerCase()}; ` +
      "the password alone signs in until it is set up again.";
  });
  accountAction("delete", async (c, _form, address) => {
    const account = await app.directory.requireAccount(address);
    notSelf(c.get("session"), account.id, "delete");
    await app.directory.deleteAccount(account.address);
    await app.store.collectBlobs((hash) => app.blobs.deleteSync(hash));
    sessions.deleteAccount(account.id);
    return `Deleted ${account.address} and its mail.`;
  });

  // ---- an account's app passwords (the directory calls of /api and the account page) ----
  const appPasswordsPath = (address: string) =>
    `/admin/accounts/${encodeURIComponent(address)}/app-passwords`;
  admin.get("/accounts/:address/app-passwords", async (c) => {
    const account = await app.directory.getAccount(c.req.param("address")).catch(() => null);
    if (!account) return c.text(`No account ${c.req.param("address")}\n`, 404);
    const appPasswords = await app.directory.listAppPasswords(account.address);
    return render(
      c,
      `App passwords of ${account.address}`,
      <AppPasswordsPage
        address={account.address}
        appPasswords={appPasswords}
        token={c.get("session").csrfToken}
      />,
    );
  });
  // Back to the account's page; to the accounts list when there is no such account.
  const appPasswordAction = (
    path: string,
    action: (c: Ctx, form: URLSearchParams, address: string) => Promise<string>,
  ) =>
    admin.post(`/accounts/:address/app-passwords${path}`, async (c) => {
      const address = c.req.param("address");
      const account = await app.directory.getAccount(address).catch(() => null);
      const back = account ? appPasswordsPath(account.address) : "/admin/accounts";
      return await act(c, back, (form) => action(c, form, address));
    });
  appPasswordAction("", async (_c, form, address) => {
    const { appPassword, password } = await app.directory.addAppPassword(
      address,
      form.get("name") ?? "",
    );
    return `App password '${appPassword.name}' created for ${address.toLowerCase()}: ` +
      `${password} — give it to the user now; it is not shown again.`;
  });
  appPasswordAction("/:id/revoke", async (c, _form, address) => {
    const id = idParam(c.req.param("id") ?? "", "app password");
    const entry = (await app.directory.listAppPasswords(address)).find((e) => e.id === id);
    await app.directory.revokeAppPassword(address, id);
    return `Revoked app password '${entry?.name ?? id}' of ${address.toLowerCase()}.`;
  });

  // ---- API tokens: the signed-in administrator's own (what `postern token …` manages) ----
  const tokens = new ApiTokens(app.store, app.directory.limiter);
  admin.get("/tokens", async (c) => {
    const session = c.get("session");
    return render(
      c,
      "API tokens",
      <TokensPage
        address={session.address}
        tokens={await tokens.list(session.accountId)}
        token={session.csrfToken}
      />,
    );
  });
  admin.post("/tokens", (c) =>
    act(c, "/admin/tokens", async (form) => {
      const { label } = parse(newTokenBody, { label: form.get("label")?.trim() ?? "" });
      const { key, token } = await tokens.create(c.get("session").accountId, label);
      return `API token ${key.id}${label ? ` '${label}'` : ""} created: ${token} — ` +
        "copy it now; it is not shown again.";
    }));
  admin.post("/tokens/:id/revoke", (c) =>
    act(c, "/admin/tokens", async () => {
      const id = idParam(c.req.param("id"), "token");
      const owned = (await tokens.list(c.get("session").accountId)).some((key) => key.id === id);
      if (!owned || !(await tokens.revoke(id))) throw new FormError(`you have no token ${id}`);
      return `Revoked API token ${id}; it no longer signs in.`;
    }));

  // ---- aliases ----
  admin.get("/aliases", async (c) => {
    const aliases = await app.store.listAliases();
    return render(
      c,
      "Aliases",
      <AliasesPage aliases={aliases} token={c.get("session").csrfToken} />,
    );
  });
  admin.post("/aliases", (c) =>
    act(c, "/admin/aliases", async (form) => {
      const { address, target } = parse(newAliasBody, {
        address: field(form, "address") ?? "",
        target: field(form, "target") ?? "",
      });
      const alias = await app.directory.addAlias(address, target);
      return `Added ${alias.address} → ${alias.target}.`;
    }));
  admin.post("/aliases/delete", (c) =>
    act(c, "/admin/aliases", async (form) => {
      const address = field(form, "address") ?? "";
      await app.directory.deleteAlias(address, field(form, "target"));
      return `Deleted ${address}.`;
    }));

  // ---- queue ----
  const queuedId = (text: string) => /^[1-9][0-9]{0,15}$/.test(text) ? Number(text) : null;
  const retry = async (id?: number) => {
    const due = await app.store.retryQueued(new Date(), id);
    options.queue?.wake();
    return due;
  };
  admin.get("/queue", async (c) => {
    const messages = await app.store.listQueue();
    return render(
      c,
      "Outbound queue",
      <QueuePage messages={messages} token={c.get("session").csrfToken} />,
    );
  });
  admin.post(
    "/queue/retry",
    (c) => act(c, "/admin/queue", async () => `${await retry()} recipients due now.`),
  );
  admin.get("/queue/:id", async (c) => {
    const id = queuedId(c.req.param("id"));
    const message = id === null ? null : await app.store.getQueued(id);
    if (!message) return c.text(`No queued message ${c.req.param("id")}\n`, 404);
    return render(
      c,
      `Queued message ${message.id}`,
      <QueuedMessagePage message={message} token={c.get("session").csrfToken} />,
    );
  });
  admin.post("/queue/:id/retry", (c) =>
    act(c, "/admin/queue", async () => {
      const id = queuedId(c.req.param("id"));
      if (id === null || !(await app.store.getQueued(id))) {
        throw new FormError(`no queued message ${c.req.param("id")}`);
      }
      return `${await retry(id)} recipients of message ${id} due now.`;
    }));
  admin.post("/queue/:id/delete", (c) =>
    act(c, "/admin/queue", async () => {
      const id = queuedId(c.req.param("id"));
      if (id === null || !(await app.store.deleteQueued(id))) {
        throw new FormError(`no queued message ${c.req.param("id")}`);
      }
      return `Deleted queued message ${id}.`;
    }));
}
