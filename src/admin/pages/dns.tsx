/** A domain's DNS page: every record to publish, each checked against live DNS. */
import type { DnsRecord } from "../../api/domains.ts";
import type { DnsCheck } from "../dns_check.ts";

const LABELS: Record<DnsCheck["status"], string> = {
  present: "present",
  missing: "missing",
  wrong: "wrong",
  failed: "lookup failed",
  unchecked: "not checked",
};

export function DnsPage(
  props: { domain: string; rows: { record: DnsRecord; check: DnsCheck }[]; zone: string },
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
      <h2>Zone file</h2>
      <pre id="zone">{props.zone}</pre>
    </>
  );
}
