/**
 * The DNS records a domain needs, as zone-file lines ready to paste: MX, SPF, DKIM (one per key),
 * DMARC, and the client-discovery SRV records (RFC 6186, RFC 8314) and autoconfig name.
 *
 * @example
 * console.log(domainRecords({ domain: "example.com", hostname: "mail.example.com", dkim }).join("\n"));
 */
import type { DkimKey } from "../store/types.ts";
import { dkimRecord } from "../smtp/dkim_keys.ts";

export interface DomainRecordsInput {
  domain: string;
  hostname: string;
  dkim: DkimKey[];
}

/** A TXT value as one or more quoted strings of at most 255 octets (RFC 1035 3.3.14). */
export function txtStrings(value: string): string {
  const parts: string[] = [];
  for (let i = 0; i < value.length; i += 255) parts.push(value.slice(i, i + 255));
  return parts.map((part) => `"${part.replace(/(["\\])/g, "\\$1")}"`).join(" ");
}

export function domainRecords({ domain, hostname, dkim }: DomainRecordsInput): string[] {
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
    "; Where mail clients find the servers (RFC 6186, RFC 8314).",
    `_submissions._tcp.${d}\t3600\tIN\tSRV\t0 1 465 ${h}`,
    `_submission._tcp.${d}\t3600\tIN\tSRV\t1 1 587 ${h}`,
    `_imaps._tcp.${d}\t3600\tIN\tSRV\t0 1 993 ${h}`,
    `_imap._tcp.${d}\t3600\tIN\tSRV\t1 1 143 ${h}`,
    `_pop3s._tcp.${d}\t3600\tIN\tSRV\t0 1 995 ${h}`,
    `_pop3._tcp.${d}\t3600\tIN\tSRV\t1 1 110 ${h}`,
    `autoconfig.${d}\t3600\tIN\tCNAME\t${h}`,
  );
  return lines;
}
