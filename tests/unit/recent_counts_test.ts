/**
 * The dashboard's last-24-hours counts (src/observability/recent_counts.ts): hourly buckets that
 * leave the window after 24 hours, and the process-wide counts fed by the metrics counters.
 */
import { assertEquals } from "../helpers/assert.ts";
import { RecentCounts, recentCounts } from "../../src/observability/recent_counts.ts";
import { messagesDelivered, smtpRejections } from "../../src/observability/metrics.ts";

const HOUR = 3_600_000;

Deno.test("RecentCounts: sums the current hour and the 23 before it", () => {
  let now = 1_000 * HOUR + 10;
  const counts = new RecentCounts(() => now);
  counts.add("received");
  counts.add("rejected", 2);
  now += 23 * HOUR;
  counts.add("delivered");
  assertEquals(counts.totals(), { received: 1, delivered: 1, bounced: 0, rejected: 2 });
  now += HOUR; // the first hour's bucket is now 24 hours old
  assertEquals(counts.totals(), { received: 0, delivered: 1, bounced: 0, rejected: 0 });
  now += 24 * HOUR;
  counts.add("bounced");
  assertEquals(counts.totals(), { received: 0, delivered: 0, bounced: 1, rejected: 0 });
});

Deno.test("recentCounts follows the metrics counters it listens to", () => {
  const before = recentCounts.totals();
  messagesDelivered.inc({ destination: "local" });
  messagesDelivered.inc({ destination: "remote" }, 2);
  messagesDelivered.inc({ destination: "remote" }, 0);
  smtpRejections.inc({ stage: "rcpt" });
  const after = recentCounts.totals();
  assertEquals(after.delivered - before.delivered, 3);
  assertEquals(after.rejected - before.rejected, 1);
  assertEquals(after.received, before.received);
});
