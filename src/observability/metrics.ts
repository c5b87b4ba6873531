/**
 * Metrics in the Prometheus text exposition format 0.0.4: counters, gauges and histograms with
 * labels, and the server's own metrics (`postern_*`) that the protocol code counts into.
 *
 * Implementation notes:
 * - Label values come from a fixed list declared with the metric; any other value is counted
 *   as "other". No client input can add a series, so memory stays bounded (at most one extra
 *   value per label).
 * - Every declared combination of label values is rendered from the start, at 0, so a rate over
 *   the first increment is not lost.
 * - Counter names end in `_total`; in format 0.0.4 HELP and TYPE name the sample as exposed.
 * - Counting is a Map lookup and an addition: cheap enough for every connection and delivery.
 *   Values that cost more to know (memory) are read by collectors, only when scraped.
 *
 * @example
 * const registry = new MetricsRegistry();
 * const logins = registry.counter({
 *   name: "app_logins_total",
 *   help: "Logins.",
 *   labels: { result: ["ok", "failed"] },
 * });
 * logins.inc({ result: "ok" });
 * registry.render(); // "# HELP app_logins_total Logins.\n# TYPE app_logins_total counter\n..."
 */
import { SERVICES } from "../config/schema.ts";
import { VERSION } from "../version.ts";

/** The media type of the text exposition format. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Where an undeclared label value is counted. */
export const OTHER = "other";

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export type Labels<L extends string> = Record<L, string>;

export interface MetricOptions<L extends string> {
  name: string;
  help: string;
  /** Each label's possible values; others are counted as "other". */
  labels?: Record<L, readonly string[]>;
}

export interface HistogramOptions<L extends string> extends MetricOptions<L> {
  /** Upper bounds of the buckets, ascending; +Inf is added. */
  buckets: readonly number[];
}

type Kind = "counter" | "gauge" | "histogram";

abstract class Metric<L extends string, V> {
  readonly name: string;
  readonly help: string;
  readonly #labelNames: L[];
  readonly #allowed: Set<string>[];
  readonly #series = new Map<string, { values: string[]; value: V }>();

  constructor(readonly kind: Kind, options: MetricOptions<L>) {
    if (!METRIC_NAME.test(options.name)) throw new Error(`bad metric name ${options.name}`);
    const labels = options.labels ?? {} as Record<L, readonly string[]>;
    this.name = options.name;
    this.help = options.help;
    this.#labelNames = Object.keys(labels) as L[];
    for (const label of this.#labelNames) {
      if (!LABEL_NAME.test(label) || label.startsWith("__") || label === "le") {
        throw new Error(`bad label name ${label} on ${options.name}`);
      }
    }
    this.#allowed = this.#labelNames.map((label) => new Set(labels[label]));
    const combinations = this.#labelNames.reduce<string[][]>(
      (partial, label) => partial.flatMap((values) => labels[label].map((v) => [...values, v])),
      [[]],
    );
    for (const values of combinations) this.#entry(values);
  }

  protected abstract initial(): V;

  /** The series for these labels, created on first use (values already bounded). */
  protected series(labels: Partial<Labels<L>> | undefined): { value: V } {
    const values = this.#labelNames.map((label, i) => {
      const value = labels?.[label] ?? "";
      return this.#allowed[i].has(value) ? value : OTHER;
    });
    return this.#entry(values);
  }

  /** Every series, as its label pairs and value, in creation order. */
  entries(): { labels: [string, string][]; value: V }[] {
    return [...this.#series.values()].map(({ values, value }) => ({
      labels: values.map((v, i) => [this.#labelNames[i], v]),
      value,
    }));
  }

  #entry(values: string[]): { values: string[]; value: V } {
    const key = values.join("\u0000");
    let entry = this.#series.get(key);
    if (!entry) {
      entry = { values, value: this.initial() };
      this.#series.set(key, entry);
    }
    return entry;
  }
}

/** A value that only goes up (events since the process started). */
export class Counter<L extends string = never> extends Metric<L, number> {
  constructor(options: MetricOptions<L>) {
    super("counter", options);
    if (!options.name.endsWith("_total")) {
      throw new Error(`counter ${options.name} must end in _total`);
    }
  }

  protected initial(): number {
    return 0;
  }

  readonly #listeners: ((labels: Partial<Labels<L>> | undefined, by: number) => void)[] = [];

  inc(labels?: Partial<Labels<L>>, by = 1): void {
    if (!(by >= 0)) throw new Error(`counter ${this.name} cannot go down (${by})`);
    this.series(labels).value += by;
    if (by > 0) { for (const listener of this.#listeners) listener(labels, by); }
  }

  /**
   * Calls `listener` after every increment with its labels and amount (for in-process views such
   * as the dashboard's last-24-hours figures); returns a function that removes it.
   */
  onIncrement(listener: (labels: Partial<Labels<L>> | undefined, by: number) => void): () => void {
    this.#listeners.push(listener);
    return () => {
      const index = this.#listeners.indexOf(listener);
      if (index >= 0) this.#listeners.splice(index, 1);
    };
  }

  /** The current value (for tests and collectors). */
  get(labels?: Partial<Labels<L>>): number {
    return this.series(labels).value;
  }
}

/** A value that goes up and down (open connections, memory). */
export class Gauge<L extends string = never> extends Metric<L, number> {
  constructor(options: MetricOptions<L>) {
    super("gauge", options);
  }

  protected initial(): number {
    return 0;
  }

  set(labels: Partial<Labels<L>> | undefined, value: number): void {
    this.series(labels).value = value;
  }

  inc(labels?: Partial<Labels<L>>, by = 1): void {
    this.series(labels).value += by;
  }

  dec(labels?: Partial<Labels<L>>, by = 1): void {
    this.series(labels).value -= by;
  }

  get(labels?: Partial<Labels<L>>): number {
    return this.series(labels).value;
  }
}

interface HistogramValue {
  /** Observations per bucket, +Inf last (not cumulative; rendering adds them up; sparse). */
  counts: number[];
  sum: number;
  count: number;
}

/** Observations sorted into buckets by upper bound (latencies, sizes). */
export class Histogram<L extends string = never> extends Metric<L, HistogramValue> {
  readonly buckets: readonly number[];

  constructor(options: HistogramOptions<L>) {
    super("histogram", options);
    const buckets = [...options.buckets];
    if (buckets.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= buckets[i - 1]))) {
      throw new Error(`histogram ${options.name}: buckets must be finite and ascending`);
    }
    this.buckets = buckets;
  }

  protected initial(): HistogramValue {
    return { counts: [], sum: 0, count: 0 };
  }

  observe(labels: Partial<Labels<L>> | undefined, value: number): void {
    const series = this.series(labels).value;
    let index = this.buckets.findIndex((bound) => value <= bound);
    if (index < 0) index = this.buckets.length;
    series.counts[index] = (series.counts[index] ?? 0) + 1;
    series.sum += value;
    series.count++;
  }
}

type AnyMetric = Counter<string> | Gauge<string> | Histogram<string>;

/** A set of metrics rendered together, plus collectors run before each rendering. */
export class MetricsRegistry {
  readonly #metrics = new Map<string, AnyMetric>();
  readonly #collectors: (() => void)[] = [];

  counter<L extends string = never>(options: MetricOptions<L>): Counter<L> {
    return this.#add(new Counter(options));
  }

  gauge<L extends string = never>(options: MetricOptions<L>): Gauge<L> {
    return this.#add(new Gauge(options));
  }

  histogram<L extends string = never>(options: HistogramOptions<L>): Histogram<L> {
    return this.#add(new Histogram(options));
  }

  /** Runs `collect` before every rendering (for values read at scrape time). */
  onScrape(collect: () => void): void {
    this.#collectors.push(collect);
  }

  /** Every metric in the text exposition format 0.0.4. */
  render(): string {
    for (const collect of this.#collectors) collect();
    const lines: string[] = [];
    for (const metric of this.#metrics.values()) {
      lines.push(`# HELP ${metric.name} ${escapeHelp(metric.help)}`);
      lines.push(`# TYPE ${metric.name} ${metric.kind}`);
      if (metric instanceof Histogram) {
        for (const { labels, value } of metric.entries()) {
          let cumulative = 0;
          metric.buckets.forEach((bound, i) => {
            cumulative += value.counts[i] ?? 0;
            lines.push(
              sample(`${metric.name}_bucket`, [...labels, ["le", number(bound)]], cumulative),
            );
          });
          cumulative += value.counts[metric.buckets.length] ?? 0;
          lines.push(sample(`${metric.name}_bucket`, [...labels, ["le", "+Inf"]], cumulative));
          lines.push(sample(`${metric.name}_sum`, labels, value.sum));
          lines.push(sample(`${metric.name}_count`, labels, value.count));
        }
      } else {
        for (const { labels, value } of metric.entries()) {
          lines.push(sample(metric.name, labels, value));
        }
      }
    }
    return lines.join("\n") + "\n";
  }

  #add<M extends AnyMetric>(metric: M): M {
    if (this.#metrics.has(metric.name)) throw new Error(`metric ${metric.name} defined twice`);
    this.#metrics.set(metric.name, metric);
    return metric;
  }
}

function sample(name: string, labels: [string, string][], value: number): string {
  if (labels.length === 0) return `${name} ${number(value)}`;
  const pairs = labels.map(([label, v]) => `${label}="${escapeLabelValue(v)}"`);
  return `${name}{${pairs.join(",")}} ${number(value)}`;
}

/** A label value with backslash, double quote and line feed escaped. */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => c === "\n" ? "\\n" : `\\${c}`);
}

/** HELP text escapes backslash and line feed only. */
function escapeHelp(text: string): string {
  return text.replace(/[\\\n]/g, (c) => c === "\n" ? "\\n" : "\\\\");
}

function number(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

// ---- the server's metrics ----

/** The registry /metrics renders. */
export const metrics = new MetricsRegistry();

/** Where logins are checked: SMTP AUTH, IMAP, POP3, ManageSieve, HTTP (JMAP, DAV). */
export const AUTH_PROTOCOLS = ["submission", "imap", "pop3", "managesieve", "http"] as const;
export type AuthProtocol = typeof AUTH_PROTOCOLS[number];

export const connectionsAccepted = metrics.counter({
  name: "postern_connections_accepted_total",
  help: "Connections accepted on the raw-protocol listeners, by listener.",
  labels: { service: SERVICES },
});
export const connectionsRefused = metrics.counter({
  name: "postern_connections_refused_total",
  help: "Connections refused for a connection limit (total or per IP), by listener.",
  labels: { service: SERVICES },
});
export const connectionsOpen = metrics.gauge({
  name: "postern_connections_open",
  help: "Connections currently open on the raw-protocol listeners, by listener.",
  labels: { service: SERVICES },
});
export const authentications = metrics.counter({
  name: "postern_authentications_total",
  help: "Password and token logins by protocol and result (ok, failed).",
  labels: { protocol: AUTH_PROTOCOLS, result: ["ok", "failed"] },
});
export const messagesReceived = metrics.counter({
  name: "postern_messages_received_total",
  help: "Messages accepted over SMTP (250 after DATA), by listener kind (mx, submission).",
  labels: { source: ["mx", "submission"] },
});
export const messagesDelivered = metrics.counter({
  name: "postern_messages_delivered_total",
  help: "Copies stored in a local mailbox (local) or accepted by a remote host (remote).",
  labels: { destination: ["local", "remote"] },
});
export const messagesQueued = metrics.counter({
  name: "postern_messages_queued_total",
  help: "Messages written to the outbound queue.",
});
export const messagesDeferred = metrics.counter({
  name: "postern_messages_deferred_total",
  help: "Queued recipients whose delivery attempt failed temporarily (tried again later).",
});
export const messagesBounced = metrics.counter({
  name: "postern_messages_bounced_total",
  help: "Queued recipients that failed for good (a permanent error or expiry).",
});
export const queueMessages = metrics.gauge({
  name: "postern_queue_messages",
  help: "Messages in the outbound queue with a recipient still to deliver (read when scraped).",
});
export const queueRecipients = metrics.gauge({
  name: "postern_queue_recipients",
  help: "Recipients in the outbound queue still to deliver (read when scraped).",
});
export const smtpRejections = metrics.counter({
  name: "postern_smtp_rejections_total",
  help: "Permanent SMTP refusals (5xx) by stage: rcpt (relay, unknown user), data (content, " +
    "policy, spam).",
  labels: { stage: ["rcpt", "data"] },
});
export const spamVerdicts = metrics.counter({
  name: "postern_spam_verdicts_total",
  help: "Spam filter verdicts on inbound messages, by verdict.",
  labels: { verdict: ["ham", "junk", "reject"] },
});
export const storeTransactionSeconds = metrics.histogram({
  name: "postern_store_transaction_seconds",
  help: "Time of store write transactions, from BEGIN to COMMIT (durable).",
  labels: { durability: ["full", "relaxed"] },
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
});

const residentMemory = metrics.gauge({
  name: "postern_process_resident_memory_bytes",
  help: "Resident set size of the process.",
});
const heapUsed = metrics.gauge({
  name: "postern_process_heap_used_bytes",
  help: "JavaScript heap in use.",
});
const heapTotal = metrics.gauge({
  name: "postern_process_heap_total_bytes",
  help: "JavaScript heap reserved.",
});
const externalMemory = metrics.gauge({
  name: "postern_process_external_memory_bytes",
  help: "Memory held outside the JavaScript heap (buffers).",
});
const startTime = metrics.gauge({
  name: "postern_process_start_time_seconds",
  help: "When the process started, in seconds since the Unix epoch.",
});
const uptime = metrics.gauge({
  name: "postern_uptime_seconds",
  help: "Seconds since the process started.",
});
const buildInfo = metrics.gauge({
  name: "postern_build_info",
  help: "Always 1; the version label names the running build.",
  labels: { version: [VERSION] },
});

metrics.onScrape(() => {
  const memory = Deno.memoryUsage();
  residentMemory.set(undefined, memory.rss);
  heapUsed.set(undefined, memory.heapUsed);
  heapTotal.set(undefined, memory.heapTotal);
  externalMemory.set(undefined, memory.external);
  startTime.set(undefined, Math.round(performance.timeOrigin) / 1000);
  uptime.set(undefined, Math.round(performance.now()) / 1000);
  buildInfo.set({ version: VERSION }, 1);
});
