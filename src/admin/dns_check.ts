/**
 * Checks the records a domain should publish (GET /api/domains/{d}/dns) against live DNS through
 * the project resolver (src/dns/resolver.ts), for the web admin's DNS page.
 *
 * Implementation notes:
 * - present: a record with exactly the expected data is published. wrong: the name has records of
 *   that type for the same purpose (for TXT: the same `v=` tag) but none with the expected data.
 *   missing: NXDOMAIN, no data, or only unrelated TXT records at the name.
 * - failed: the lookup itself failed (SERVFAIL, timeout, refused); nothing is concluded.
 * - SRV (RFC 2782): present when a record has the expected target and port; wrong when the name
 *   has SRV records but none with that target and port (priority and weight are the admin's
 *   choice and are shown, not compared).
 * - unchecked: the resolver has no lookup for the type, so it is not checked.
 * - The names clients reach over TLS (the hostname, and mta-sts., autodiscover., autoconfig. of
 *   the domain, which the records point here) are checked against the certificates served:
 *   covered (a certificate lists the name), self-signed (only a self-signed one does; clients
 *   warn), or not covered (the name gets a certificate without it; clients refuse).
 */
import { DnsError, normalizeName, type Resolver } from "../dns/resolver.ts";
import type { DnsRecord } from "../api/domains.ts";
import type { Config } from "../config/schema.ts";
import type { CertificateDescription } from "../tls/certificates.ts";
import { nameMatches } from "../tls/names.ts";

export type DnsCheckStatus = "present" | "missing" | "wrong" | "failed" | "unchecked";

export interface DnsCheck {
  status: DnsCheckStatus;
  /** What DNS answered, for the page (empty when nothing or not checked). */
  found: string[];
}

/** The lookups used here; Resolver has them all. */
export type CheckResolver = Pick<Resolver, "mx" | "txt" | "cname" | "srv">;

/** The text of a zone-file TXT value: its quoted strings unescaped and joined (RFC 1035 5.1). */
export function txtText(value: string): string {
  const strings = [...value.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) =>
    m[1].replace(/\\(.)/g, "$1")
  );
  return strings.length > 0 ? strings.join("") : value;
}

/**
 * Checks one record against live DNS.
 *
 * @example
 * await checkRecord(resolver, { name: "example.com", type: "MX", value: "10 mail.example.com.", ttl: 3600, purpose: "" });
 * // { status: "present", found: ["10 mail.example.com"] }
 */
export async function checkRecord(resolver: CheckResolver, record: DnsRecord): Promise<DnsCheck> {
  try {
    switch (record.type) {
      case "MX": {
        const [preference, exchange] = record.value.split(/\s+/);
        const found = await resolver.mx(record.name);
        const text = found.map((r) => `${r.preference} ${r.exchange}`);
        const match = found.some((r) =>
          r.preference === Number(preference) && r.exchange === normalizeName(exchange)
        );
        return { status: match ? "present" : "wrong", found: text };
      }
      case "TXT": {
        const expected = txtText(record.value);
        const found = await resolver.txt(record.name);
        if (found.includes(expected)) return { status: "present", found };
        const tag = /^v=[A-Za-z0-9]+/.exec(expected)?.[0]?.toLowerCase();
        const related = tag ? found.filter((t) => t.toLowerCase().startsWith(tag)) : found;
        return { status: related.length > 0 ? "wrong" : "missing", found };
      }
      case "CNAME": {
        const found = await resolver.cname(record.name);
        const match = found.includes(normalizeName(record.value));
        return { status: match ? "present" : "wrong", found };
      }
      case "SRV": {
        const [, , port, target] = record.value.split(/\s+/);
        const wanted = target === "." ? "." : normalizeName(target ?? "");
        const found = await resolver.srv(record.name);
        const text = found.map((r) => `${r.priority} ${r.weight} ${r.port} ${r.target}`);
        const match = found.some((r) => r.port === Number(port) && r.target === wanted);
        return { status: match ? "present" : "wrong", found: text };
      }
      default:
        return { status: "unchecked", found: [] };
    }
  } catch (error) {
    if (error instanceof DnsError) {
      const missing = error.code === "NXDOMAIN" || error.code === "NODATA";
      return { status: missing ? "missing" : "failed", found: [] };
    }
    throw error;
  }
}

export type CertificateStatus = "covered" | "self-signed" | "not covered";

export interface CertificateCheck {
  name: string;
  purpose: string;
  status: CertificateStatus;
  /** When the certificate that covers the name expires; null when none does. */
  notAfter: Date | null;
}

/**
 * Whether the certificates served cover each name clients of `domain` reach over TLS.
 *
 * @example
 * checkCertificates("example.com", config, certificates.describe());
 * // [{ name: "mail.example.com", status: "covered", ... }, { name: "mta-sts.example.com", ... }]
 */
export function checkCertificates(
  domain: string,
  config: Config,
  certificates: CertificateDescription[],
): CertificateCheck[] {
  const names: [string, string][] = [
    [config.server.hostname.toLowerCase(), "IMAP, POP3, SMTP, JMAP, DAV and this admin"],
  ];
  if (config.mta_sts.mode !== "none") {
    names.push([`mta-sts.${domain}`, "MTA-STS policy (senders fetch it over HTTPS only)"]);
  }
  names.push(
    [`autodiscover.${domain}`, "Outlook Autodiscover (HTTPS only)"],
    [`autoconfig.${domain}`, "Thunderbird autoconfiguration (tries HTTPS first)"],
  );
  return names.map(([name, purpose]) => {
    const covering = certificates.filter((c) => c.names.some((n) => nameMatches(n, name)));
    const trusted = covering.find((c) => !c.selfSigned);
    const best = trusted ?? covering[0];
    return {
      name,
      purpose,
      status: trusted ? "covered" : covering.length > 0 ? "self-signed" : "not covered",
      notAfter: best?.notAfter ?? null,
    };
  });
}
