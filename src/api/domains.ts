/**
 * /api/domains: list, add (with DKIM keys), show, delete, and the DNS records to publish — what
 * `postern domain …` does, through the same directory functions.
 */
import type { Hono } from "hono";
import { z } from "zod";
import { normalizeDomain } from "../directory/directory.ts";
import { domainRecords } from "../directory/dns_records.ts";
import { clientDnsRecords } from "../http/client_records.ts";
import type { Domain } from "../store/types.ts";
import type { ApiEnv } from "./auth.ts";
import type { ApiDeps } from "./deps.ts";
import { ApiError, readJson } from "./respond.ts";

export const newDomainBody = z.object({
  name: z.string().min(1).max(253).describe("The domain name, e.g. example.com."),
}).strict();

/** One record of a zone as domainRecords writes it. */
export interface DnsRecord {
  name: string;
  ttl: number;
  type: string;
  value: string;
  purpose: string;
}

export function mountDomains(api: Hono<ApiEnv>, deps: ApiDeps): void {
  const { app } = deps;
  const view = async (domain: Domain) => ({
    name: domain.name,
    createdAt: domain.createdAt.toISOString(),
    accounts: (await app.store.listAccounts(domain.id)).length,
    aliases: (await app.store.listAliases(domain.id)).length,
    dkimSelectors: (await app.store.listDkimKeys(domain.id)).map((key) => key.selector),
  });
  const find = async (name: string) => {
    const domain = await app.store.getDomain(normalizeDomain(name));
    if (!domain) throw new ApiError(404, "notFound", `no domain ${name}`);
    return domain;
  };

  api.get("/domains", async (c) => {
    const domains = await app.store.listDomains();
    return c.json({ domains: await Promise.all(domains.map(view)) });
  });
  api.post("/domains", async (c) => {
    const { name } = await readJson(c, newDomainBody, deps.maxRequestSize);
    const domain = await app.directory.addDomain(name);
    return c.json(await view(domain), 201);
  });
  api.get("/domains/:domain", async (c) => c.json(await view(await find(c.req.param("domain")))));
  api.delete("/domains/:domain", async (c) => {
    const domain = await find(c.req.param("domain"));
    await app.directory.deleteDomain(domain.name);
    return c.body(null, 204);
  });
  api.get("/domains/:domain/dns", async (c) => {
    const domain = await find(c.req.param("domain"));
    const { config } = app.loaded;
    const dkim = await app.directory.dkimKeys(domain.name);
    const clients = clientDnsRecords(domain.name, config);
    const zone = domainRecords({
      domain: domain.name,
      hostname: config.server.hostname,
      dkim,
      clients,
    });
    return c.json({ domain: domain.name, records: parseZone(zone), zone: zone.join("\n") + "\n" });
  });
}

/**
 * The records of zone-file lines ("name TTL IN type value"), each with the comment line before
 * it as its purpose; the zone text stays the one place records are made.
 */
export function parseZone(lines: string[]): DnsRecord[] {
  const records: DnsRecord[] = [];
  let comment = "";
  for (const line of lines) {
    if (line.startsWith(";")) {
      comment = line.replace(/^;\s*/, "");
      continue;
    }
    const fields = line.split("\t");
    if (fields.length < 5 || fields[2] !== "IN") continue;
    records.push({
      name: fields[0].replace(/\.$/, ""),
      ttl: Number(fields[1]),
      type: fields[3],
      value: fields.slice(4).join("\t"),
      purpose: comment,
    });
  }
  return records;
}
