/**
 * The DNS records a local domain publishes so that clients configure themselves and other
 * servers find its MTA-STS policy: SRV records for mail (RFC 6186, RFC 8314 5.1) and for
 * CalDAV/CardDAV (RFC 6764), the `_mta-sts` TXT record (RFC 8461 3.1), and the CNAMEs that make
 * autoconfig.<domain>, autodiscover.<domain> and mta-sts.<domain> reach this server.
 *
 * Implementation notes:
 * - A pure function of the configuration: the admin DNS page compares these with live DNS.
 * - Services whose listener is off still get an SRV record, with target "." (RFC 6186 3.4,
 *   RFC 2782): it tells clients not to try them rather than leaving them to guess.
 * - Priorities prefer implicit TLS over STARTTLS (RFC 8314 5.1) and IMAP over POP3 (RFC 6186
 *   3.4 lets the priority order services of a kind).
 */
import type { Config } from "../config/schema.ts";
import { type ClientEndpoint, clientEndpoints } from "./client_endpoints.ts";
import { mtaStsPolicy, mtaStsPolicyId } from "./mta_sts.ts";

interface RecordBase {
  /** Owner name, without trailing dot. */
  name: string;
  /** The record data as written in a zone file. */
  value: string;
  /** What the record is for, in a few words. */
  purpose: string;
}

export type ClientRecord =
  | RecordBase & { type: "TXT" }
  | RecordBase & { type: "CNAME" }
  | RecordBase & { type: "SRV"; priority: number; weight: number; port: number; target: string };

const DAV_CONTEXT_PATH = "/dav/";

/**
 * Every record `domain` should publish for client autoconfiguration and MTA-STS.
 *
 * @example
 * clientDnsRecords("example.com", config).find((r) => r.name === "_imaps._tcp.example.com");
 * // { type: "SRV", value: "0 1 993 mail.example.com.", priority: 0, weight: 1, port: 993, ... }
 */
export function clientDnsRecords(domain: string, config: Config): ClientRecord[] {
  const zone = domain.toLowerCase().replace(/\.$/, "");
  const endpoints = clientEndpoints(config);
  const host = endpoints.hostname;
  const records: ClientRecord[] = [];
  const srv = (
    service: string,
    endpoint: ClientEndpoint | null,
    priority: number,
    purpose: string,
  ) => {
    const target = endpoint ? `${host}.` : ".";
    const port = endpoint?.port ?? 0;
    const weight = endpoint ? 1 : 0;
    records.push({
      type: "SRV",
      name: `_${service}._tcp.${zone}`,
      value: endpoint ? `${priority} ${weight} ${port} ${target}` : "0 0 0 .",
      priority: endpoint ? priority : 0,
      weight,
      port,
      target,
      purpose: endpoint ? purpose : `${purpose} (not offered)`,
    });
  };
  srv("imaps", endpoints.imaps, 0, "IMAP over TLS");
  srv("imap", endpoints.imap, 5, "IMAP with STARTTLS");
  srv("pop3s", endpoints.pop3s, 10, "POP3 over TLS");
  srv("pop3", endpoints.pop3, 15, "POP3 with STARTTLS");
  srv("submissions", endpoints.submissions, 0, "mail submission over TLS");
  srv("submission", endpoints.submission, 5, "mail submission with STARTTLS");
  srv("caldavs", endpoints.https, 0, "CalDAV over HTTPS");
  srv("carddavs", endpoints.https, 0, "CardDAV over HTTPS");
  if (endpoints.https) {
    // RFC 6764 4: the context path, so clients need not try /.well-known first.
    for (const service of ["caldavs", "carddavs"]) {
      records.push({
        type: "TXT",
        name: `_${service}._tcp.${zone}`,
        value: `path=${DAV_CONTEXT_PATH}`,
        purpose: `${service === "caldavs" ? "CalDAV" : "CardDAV"} context path`,
      });
    }
  }
  const id = mtaStsPolicyId(mtaStsPolicy(config));
  records.push({
    type: "TXT",
    name: `_mta-sts.${zone}`,
    value: `v=STSv1; id=${id}`,
    purpose: "MTA-STS policy id (changes with the policy)",
  });
  for (
    const [label, purpose] of [
      ["mta-sts", "MTA-STS policy host (the certificate must cover it)"],
      ["autoconfig", "Thunderbird autoconfiguration"],
      ["autodiscover", "Outlook Autodiscover (the certificate must cover it)"],
    ]
  ) {
    records.push({ type: "CNAME", name: `${label}.${zone}`, value: `${host}.`, purpose });
  }
  return records;
}
