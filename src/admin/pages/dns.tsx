/** A domain's DNS page: every record to publish, each checked against live DNS. */
import type { DnsRecord } from "../../api/domains.ts";
import type { CertificateCheck, DnsCheck } from "../dns_check.ts";

const LABELS: Record<DnsCheck["status"], string> = {
  present: "present",
  missing: "missing",
  wrong: "wrong",
  failed: "lookup failed",
  unchecked: "not checked",
};

const CERTIFICATE_CLASSES: Record<CertificateCheck["status"], string> = {
  covered: "present",
  "self-signed": "wrong",
  "not covered": "missing",
};

export function DnsPage(
  props: {
    domain: string;
    rows: { record: DnsRecord; check: DnsCheck }[];
    zone: string;
    certificates: CertificateCheck[];
  },
) {
  return (
    <>
      <p>
        Publish these records in the zone of{" "}
        {props.domain}. Each is looked up now through the server's resolver.
      </p>
      <table>
        <thead>
          <tr>
            <th>Status</th>
            <th>Name</th>
            <th>Type</th>
            <th>Value</th>
            <th>Published now</th>
            <th>Purpose</th>
          </tr>
        </thead>
        <tbody>
          {props.rows.map(({ record, check }) => (
            <tr data-type={record.type} data-name={record.name} data-status={check.status}>
              <td class={check.status}>{LABELS[check.status]}</td>
              <td>{record.name}</td>
              <td>{record.type}</td>
              <td class="value">{record.value}</td>
              <td class="value">{check.found.join("\n")}</td>
              <td>{record.purpose}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Certificate names</h2>
      <p>
        Clients reach these names over TLS. A name not covered needs adding to{" "}
        <code>[tls] names</code>; with <code>[acme]</code>{" "}
        on, the next certificate ordered covers it (its DNS record must point here first).
      </p>
      <table>
        <thead>
          <tr>
            <th>Status</th>
            <th>Name</th>
            <th>Expires</th>
            <th>Purpose</th>
          </tr>
        </thead>
        <tbody>
          {props.certificates.map((check) => (
            <tr data-certificate={check.name} data-status={check.status}>
              <td class={CERTIFICATE_CLASSES[check.status]}>{check.status}</td>
              <td>{check.name}</td>
              <td>{check.notAfter ? check.notAfter.toISOString().slice(0, 10) : ""}</td>
              <td>{check.purpose}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Zone file</h2>
      <pre id="zone">{props.zone}</pre>
    </>
  );
}
