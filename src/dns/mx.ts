/**
 * Where to deliver mail for a domain (RFC 5321 5.1, RFC 7505).
 *
 * - MX records, lowest preference first; hosts of equal preference in random order so load
 *   spreads across them (RFC 5321 5.1: "the sender-SMTP MUST randomize them").
 * - A single MX record "." of preference 0 is a null MX: the domain accepts no mail, and the
 *   sender must not fall back to its address records (RFC 7505 3, 4).
 * - No MX records at all (NODATA) but an A or AAAA record: the domain itself is the one host,
 *   at preference 0 (the implicit MX).
 * - NXDOMAIN, or neither MX nor address records: no host; the message bounces.
 * - SERVFAIL, REFUSED or a timeout at any step: temporary; the message waits in the queue.
 *
 * @example
 * const route = await resolveMailHosts(resolver, "example.com");
 * if (route.kind === "hosts") for (const host of route.hosts) await tryDeliver(host.name);
 */
import { DnsError, type Resolver } from "./resolver.ts";

export interface MailHost {
  name: string;
  preference: number;
}

export type MailRoute =
  | { kind: "hosts"; hosts: MailHost[] }
  | { kind: "null_mx" }
  | { kind: "none" }
  | { kind: "temporary"; reason: string };

/** RFC 7505 3: exactly one MX record, preference 0, exchange the root ("."). */
export function isNullMx(records: readonly { exchange: string; preference: number }[]): boolean {
  return records.length === 1 && isRoot(records[0].exchange) && records[0].preference === 0;
}

function isRoot(exchange: string): boolean {
  return exchange === "." || exchange === "";
}

/**
 * Orders MX records for delivery: ascending preference, shuffled within each preference.
 * Records with the root as exchange are dropped (a malformed null MX mixed with real hosts).
 */
export function orderMailHosts(
  records: readonly { exchange: string; preference: number }[],
  random: () => number = Math.random,
): MailHost[] {
  const byPreference = new Map<number, MailHost[]>();
  for (const record of records) {
    if (isRoot(record.exchange)) continue;
    const name = record.exchange.toLowerCase().replace(/\.+$/, "");
    const group = byPreference.get(record.preference) ?? [];
    if (!group.some((host) => host.name === name)) {
      group.push({ name, preference: record.preference });
    }
    byPreference.set(record.preference, group);
  }
  const hosts: MailHost[] = [];
  for (const preference of [...byPreference.keys()].sort((x, y) => x - y)) {
    const group = byPreference.get(preference)!;
    for (let i = group.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [group[i], group[j]] = [group[j], group[i]];
    }
    hosts.push(...group);
  }
  return hosts;
}

function isTemporary(error: unknown): error is DnsError {
  return error instanceof DnsError &&
    (error.code === "SERVFAIL" || error.code === "TIMEOUT" || error.code === "REFUSED");
}

function temporary(error: unknown): MailRoute {
  return { kind: "temporary", reason: error instanceof Error ? error.message : String(error) };
}

/** Resolves the hosts to try for mail to `domain`; see the module comment for the rules. */
export async function resolveMailHosts(
  resolver: Resolver,
  domain: string,
  random: () => number = Math.random,
): Promise<MailRoute> {
  const name = domain.toLowerCase().replace(/\.+$/, "");
  try {
    const records = await resolver.mx(name);
    if (isNullMx(records)) return { kind: "null_mx" };
    const hosts = orderMailHosts(records, random);
    // Only "." records besides a non-zero preference: treat like a null MX (nothing to try).
    return hosts.length ? { kind: "hosts", hosts } : { kind: "null_mx" };
  } catch (error) {
    if (!(error instanceof DnsError)) return temporary(error);
    if (error.code === "NXDOMAIN") return { kind: "none" };
    if (error.code !== "NODATA") return temporary(error);
  }
  // No MX records: implicit MX if the domain has an address (RFC 5321 5.1).
  const lookups = await Promise.allSettled([resolver.a(name), resolver.aaaa(name)]);
  if (lookups.some((r) => r.status === "fulfilled" && r.value.length > 0)) {
    return { kind: "hosts", hosts: [{ name, preference: 0 }] };
  }
  const failed = lookups.find((r) => r.status === "rejected" && isTemporary(r.reason));
  if (failed?.status === "rejected") return temporary(failed.reason);
  const unexpected = lookups.find((r) =>
    r.status === "rejected" && !(r.reason instanceof DnsError)
  );
  if (unexpected?.status === "rejected") return temporary(unexpected.reason);
  return { kind: "none" };
}
