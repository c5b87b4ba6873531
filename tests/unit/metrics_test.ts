/**
 * The metrics registry (src/observability/metrics.ts) as a scraper sees it: the exact text
 * format 0.0.4, read back by the Prometheus text parser of tests/helpers/prometheus.ts.
 */
import { assert, assertEquals, assertThrows } from "../helpers/assert.ts";
import { parsePrometheus, PrometheusParseError, sampleValue } from "../helpers/prometheus.ts";
import { metrics, MetricsRegistry } from "../../src/observability/metrics.ts";
import { VERSION } from "../../src/version.ts";

Deno.test("a registry renders HELP, TYPE and samples in the text format 0.0.4", () => {
  const registry = new MetricsRegistry();
  const logins = registry.counter({
    name: "test_logins_total",
    help: "Logins by result.",
    labels: { protocol: ["imap", "pop3"], result: ["ok", "failed"] },
  });
  const open = registry.gauge({ name: "test_open", help: "Open things." });
  logins.inc({ protocol: "imap", result: "ok" });
  logins.inc({ protocol: "imap", result: "ok" }, 2);
  logins.inc({ protocol: "pop3", result: "failed" });
  open.inc();
  open.inc();
  open.dec();
  assertEquals(
    registry.render(),
    [
      "# HELP test_logins_total Logins by result.",
      "# TYPE test_logins_total counter",
      'test_logins_total{protocol="imap",result="ok"} 3',
      'test_logins_total{protocol="imap",result="failed"} 0',
      'test_logins_total{protocol="pop3",result="ok"} 0',
      'test_logins_total{protocol="pop3",result="failed"} 1',
      "# HELP test_open Open things.",
      "# TYPE test_open gauge",
      "test_open 1",
      "",
    ].join("\n"),
  );
  const parsed = parsePrometheus(registry.render());
  assertEquals(parsed.get("test_logins_total")?.type, "counter");
  assertEquals(parsed.get("test_logins_total")?.help, "Logins by result.");
  assertEquals(sampleValue(parsed, "test_logins_total", { protocol: "imap", result: "ok" }), 3);
  assertEquals(sampleValue(parsed, "test_open"), 1);
});

Deno.test("label values and HELP text are escaped and parse back to what was counted", () => {
  const registry = new MetricsRegistry();
  const odd = 'C:\\mail "quoted"\nsecond line';
  const paths = registry.counter({
    name: "test_paths_total",
    help: "Paths\\with a backslash\nand a line feed.",
    labels: { path: [odd] },
  });
  paths.inc({ path: odd }, 5);
  const text = registry.render();
  assert(
    text.includes('test_paths_total{path="C:\\\\mail \\"quoted\\"\\nsecond line"} 5\n'),
    text,
  );
  assert(text.includes("# HELP test_paths_total Paths\\\\with a backslash\\nand a line feed.\n"));
  const parsed = parsePrometheus(text);
  assertEquals(parsed.get("test_paths_total")?.help, "Paths\\with a backslash\nand a line feed.");
  assertEquals(sampleValue(parsed, "test_paths_total", { path: odd }), 5);
});

Deno.test("histogram buckets are cumulative, end in +Inf, and carry _sum and _count", () => {
  const registry = new MetricsRegistry();
  const latency = registry.histogram({
    name: "test_latency_seconds",
    help: "Latency.",
    labels: { kind: ["read"] },
    buckets: [0.01, 0.1, 1],
  });
  for (const value of [0.005, 0.01, 0.05, 0.5, 0.7, 3]) latency.observe({ kind: "read" }, value);
  const text = registry.render();
  assertEquals(
    text.split("\n").filter((line) => line.startsWith("test_latency_seconds")),
    [
      'test_latency_seconds_bucket{kind="read",le="0.01"} 2',
      'test_latency_seconds_bucket{kind="read",le="0.1"} 3',
      'test_latency_seconds_bucket{kind="read",le="1"} 5',
      'test_latency_seconds_bucket{kind="read",le="+Inf"} 6',
      'test_latency_seconds_sum{kind="read"} 4.265',
      'test_latency_seconds_count{kind="read"} 6',
    ],
  );
  const parsed = parsePrometheus(text);
  assertEquals(parsed.get("test_latency_seconds")?.type, "histogram");
  assertEquals(sampleValue(parsed, "test_latency_seconds_bucket", { kind: "read", le: "+Inf" }), 6);
  assertEquals(sampleValue(parsed, "test_latency_seconds_count", { kind: "read" }), 6);
});

Deno.test("undeclared label values fold into one 'other' series: clients cannot add series", () => {
  const registry = new MetricsRegistry();
  const commands = registry.counter({
    name: "test_commands_total",
    help: "Commands.",
    labels: { verb: ["LOGIN", "SELECT"] },
  });
  for (let i = 0; i < 10_000; i++) commands.inc({ verb: `X-GUESS-${i}` });
  commands.inc({ verb: "LOGIN" });
  const parsed = parsePrometheus(registry.render());
  const samples = parsed.get("test_commands_total")!.samples;
  assertEquals(samples.map((s) => [s.labels.verb, s.value]), [
    ["LOGIN", 1],
    ["SELECT", 0],
    ["other", 10_000],
  ]);
});

Deno.test("the registry refuses what would render an invalid exposition", () => {
  const registry = new MetricsRegistry();
  assertThrows(() => registry.counter({ name: "test_logins", help: "no _total" }));
  assertThrows(() => registry.gauge({ name: "test-dash", help: "bad name" }));
  assertThrows(() =>
    registry.gauge({ name: "test_le", help: "reserved label", labels: { le: ["1"] } })
  );
  assertThrows(() => registry.histogram({ name: "test_h", help: "h", buckets: [1, 0.5] }));
  const counter = registry.counter({ name: "test_once_total", help: "once" });
  assertThrows(() => registry.counter({ name: "test_once_total", help: "twice" }));
  assertThrows(() => counter.inc(undefined, -1));
  assertEquals(counter.get(), 0);
});

Deno.test("the server's registry renders its process gauges and build info", () => {
  const parsed = parsePrometheus(metrics.render());
  assertEquals(sampleValue(parsed, "postern_build_info", { version: VERSION }), 1);
  assert(sampleValue(parsed, "postern_process_resident_memory_bytes") > 1_000_000);
  assert(sampleValue(parsed, "postern_process_heap_used_bytes") > 0);
  const started = sampleValue(parsed, "postern_process_start_time_seconds");
  assert(started > 1_600_000_000 && started <= Date.now() / 1000, String(started));
  assertEquals(parsed.get("postern_connections_accepted_total")?.type, "counter");
  assertEquals(
    sampleValue(parsed, "postern_authentications_total", { protocol: "imap", result: "failed" }),
    0,
  );
  assertEquals(parsed.get("postern_store_transaction_seconds")?.type, "histogram");
});

Deno.test("the test parser reads what Prometheus reads and refuses what it refuses", () => {
  const good = [
    "# a comment",
    "# HELP up Whether the target answers.",
    "# TYPE up gauge",
    'up{job="mail",instance="a:1",} 1 1700000000000',
    "# TYPE temp untyped",
    "temp +Inf",
    "temp_other NaN",
    "",
  ].join("\n");
  const parsed = parsePrometheus(good);
  assertEquals(parsed.get("up")?.samples, [
    { name: "up", labels: { job: "mail", instance: "a:1" }, value: 1, timestamp: 1700000000000 },
  ]);
  assertEquals(sampleValue(parsed, "temp"), Infinity);
  assert(Number.isNaN(sampleValue(parsed, "temp_other")));
  const bad = [
    "up 1", // no final line feed
    "up\n", // no value
    "up one\n",
    'up{job="a} 1\n', // unterminated value
    'up{job="a\\t"} 1\n', // unknown escape
    'up{job="a",job="b"} 1\n',
    'up{1job="a"} 1\n',
    "up 1\nup 2\n", // duplicate series
    "a 1\nb 1\na 2\n", // family split
    "a 1\n# TYPE a gauge\n", // TYPE after samples
    "# TYPE a countr\n",
    "# TYPE a counter\na -1\n",
    '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n', // no +Inf
    '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
    "# TYPE h histogram\nh 1\n",
    "# HELP a bad \\q escape\n",
    "up 1 12.5\n",
  ];
  for (const text of bad) {
    assertThrows(() => parsePrometheus(text), PrometheusParseError);
  }
});
