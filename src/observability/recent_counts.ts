/**
 * Mail counts over the last 24 hours for the dashboard and GET /api/status: messages received,
 * delivered, bounced and refused, in 24 hourly buckets kept in memory.
 *
 * Implementation notes:
 * - Fed by the metrics counters themselves (Counter.onIncrement), so every place that counts a
 *   message for /metrics also counts it here, with no second call at the counting sites.
 * - Refused = permanent SMTP refusals at RCPT and DATA (postern_smtp_rejections_total), which
 *   include spam rejects (they are refused at DATA).
 * - A bucket is one clock hour; the window is the current hour and the 23 before it, so "24 h"
 *   is between 23 and 24 hours. Counts start at 0 when the process starts.
 *
 * @example
 * recentCounts.totals(); // { received: 3, delivered: 3, bounced: 0, rejected: 1 }
 */
import { messagesBounced, messagesDelivered, messagesReceived, smtpRejections } from "./metrics.ts";

export type RecentKind = "received" | "delivered" | "bounced" | "rejected";
export type RecentTotals = Record<RecentKind, number>;

const HOUR_MS = 3_600_000;
const HOURS = 24;

function zero(): RecentTotals {
  return { received: 0, delivered: 0, bounced: 0, rejected: 0 };
}

/** Hourly buckets of mail counts; `now` is injectable for tests of the window. */
export class RecentCounts {
  readonly #buckets = new Map<number, RecentTotals>();

  constructor(readonly now: () => number = Date.now) {}

  add(kind: RecentKind, by = 1): void {
    const hour = Math.floor(this.now() / HOUR_MS);
    let bucket = this.#buckets.get(hour);
    if (!bucket) {
      bucket = zero();
      this.#buckets.set(hour, bucket);
      for (const old of this.#buckets.keys()) if (old <= hour - HOURS) this.#buckets.delete(old);
    }
    bucket[kind] += by;
  }

  /** Sums over the current hour and the 23 before it. */
  totals(): RecentTotals {
    const hour = Math.floor(this.now() / HOUR_MS);
    const sum = zero();
    for (const [start, bucket] of this.#buckets) {
      if (start <= hour - HOURS || start > hour) continue;
      for (const kind of Object.keys(sum) as RecentKind[]) sum[kind] += bucket[kind];
    }
    return sum;
  }
}

/** The process-wide counts, fed by the metrics counters. */
export const recentCounts = new RecentCounts();

messagesReceived.onIncrement((_labels, by) => recentCounts.add("received", by));
messagesDelivered.onIncrement((_labels, by) => recentCounts.add("delivered", by));
messagesBounced.onIncrement((_labels, by) => recentCounts.add("bounced", by));
smtpRejections.onIncrement((_labels, by) => recentCounts.add("rejected", by));
