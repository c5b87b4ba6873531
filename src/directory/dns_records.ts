/**
 * The DNS records a domain needs, as zone-file lines ready to paste: MX, SPF, DKIM (one per key),
 * DMARC, and the client records (SRV for RFC 6186/8314/6764, the MTA-STS TXT, the autoconfig,
 * autodiscover and mta-sts names) that src/http/client_records.ts derives from the listeners.
 *
 * @example
 * const clients = clientDnsRecords("example.com", config);
 * console.log(domainRecords({ domain: "example.com", hostname, dkim, clients }).join("\n"));
 */
import type { DkimKey } from "../store/types.ts";
import { dkimRecord } from "../smtp/dkim_keys.ts";
import type { ClientRecord } from "../http/client_records.ts";

export interface DomainRecordsInput {
  domain: string;
  hostname: string;
  dkim: DkimKey[];
  /** The client-discovery records (clientDnsRecords). */
  clients: ClientRecord[];
}

/** A TXT value as one or more quoted strings of at most 255 octets (RFC 1035 3.3.14). */
export function txtStrings(value: string): string {
  const parts: string[] = [];
  for (let i = 0; i < value.length; i += 255) parts.push(value.slice(i, i + 255));
  return parts.map((part) => `"${part.replace(/(["\\])/g, "\\$1")}"`).join(" ");
}

export function domainRecords(
  { domain, hostname, dkim, clients }: DomainRecordsInput,
): string[] {
  const d = `${domain}.`;
  const h = `${hostname}.`;
  const lines = [
    `; DNS records for ${domain}, served by ${hostname}`,
    `; ${hostname} itself needs A (and AAAA) records with this server's public addresses,`,
    `; and the reverse (PTR) of each address should name ${hostname}.`,
    "",
    "; Mail for the domain goes to this server.",
    `${d}\t3600\tIN\tMX\t10 ${h}`,
    "; Only this domain's MX hosts send its mail (SPF, RFC 7208).",
    `${d}\t3600\tIN\tTXT\t${txtStrings("v=spf1 mx -all")}`,
  ];
  if (dkim.length > 0) lines.push("; Public keys for the DKIM signatures on outgoing mail.");
  for (const key of dkim) {
    lines.push(`${key.selector}._domainkey.${d}\t3600\tIN\tTXT\t${txtStrings(dkimRecord(key))}`);
  }
  lines.push(
    "; What receivers do with mail that fails SPF and DKIM alignment (DMARC, RFC 7489).",
    `_dmarc.${d}\t3600\tIN\tTXT\t${
      txtStrings(`v=DMARC1; p=quarantine; rua=mailto:postmaster@${domain}`)
    }`,
  );
  lines.push(
    "; Where clients find the servers (RFC 6186, RFC 8314, RFC 6764) and MTA-STS (RFC 8461).",
  );
  for (const record of clients) {
    const value = record.type === "TXT" ? txtStrings(record.value) : record.value;
    lines.push(`; ${record.purpose}`, `${record.name}.\t3600\tIN\t${record.type}\t${value}`);
  }
  return lines;
}
