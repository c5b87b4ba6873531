/**
 * The in-memory log ring (src/observability/recent.ts) behind GET /api/logs: bounded, newest
 * first, filtered by minimum level, component and session, credentials redacted, fields copied
 * when logged; and the logger feeds it with what it writes.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { RecentLog, recentLog } from "../../src/observability/recent.ts";
import { configureLogging, logger } from "../../src/observability/log.ts";

Deno.test("recent log: bounded, newest first, filtered by level, component and session", () => {
  const ring = new RecentLog(5);
  const time = new Date("2026-01-01T00:00:00Z");
  for (let i = 0; i < 8; i++) {
    ring.record(time, i % 2 ? "warn" : "info", i < 4 ? "smtp" : "imap", `event ${i}`, {
      session: `s${i % 3}`,
      n: i,
    });
  }
  assertEquals(ring.query().map((e) => e.message), [7, 6, 5, 4, 3].map((i) => `event ${i}`));
  assertEquals(ring.query({ level: "warn" }).map((e) => e.fields.n), [7, 5, 3]);
  assertEquals(ring.query({ level: "error" }), []);
  assertEquals(ring.query({ component: "smtp" }).map((e) => e.fields.n), [3]);
  assertEquals(ring.query({ session: "s1" }).map((e) => e.fields.n), [7, 4]);
  assertEquals(ring.query({ limit: 2 }).map((e) => e.fields.n), [7, 6]);
  assertEquals(ring.query()[0].time, "2026-01-01T00:00:00.000Z");
  ring.clear();
  assertEquals(ring.query(), []);
});

Deno.test("recent log: credentials are redacted and fields are copies", () => {
  const ring = new RecentLog(10);
  const nested = { host: "mx.example.net", tries: [1, 2] };
  ring.record(new Date(), "error", "queue", "failed", {
    password: "hunter2",
    relay_password: "x",
    token: "t",
    authorization: "Basic abc",
    tokens: 12,
    user: "a@example.com",
    error: new Error("boom"),
    target: nested,
    big: 10n,
    long: "y".repeat(10_000),
  });
  nested.host = "changed";
  const [event] = ring.query();
  assertEquals(event.fields.password, "[redacted]");
  assertEquals(event.fields.relay_password, "[redacted]");
  assertEquals(event.fields.token, "[redacted]");
  assertEquals(event.fields.authorization, "[redacted]");
  assertEquals(event.fields.tokens, 12);
  assertEquals(event.fields.user, "a@example.com");
  assert(String(event.fields.error).startsWith("Error: boom"));
  assertEquals(event.fields.target, { host: "mx.example.net", tries: [1, 2] });
  assertEquals(event.fields.big, "10");
  assert(String(event.fields.long).length < 4100);
  assert(!JSON.stringify(event).includes("hunter2"));
});

Deno.test("recent log: the logger records what it writes, at or above its level", () => {
  configureLogging({ level: "info" });
  const log = logger("unit-recent", { session: "abc123" });
  log.debug("not written");
  log.info("written", { count: 3 });
  const found = recentLog.query({ component: "unit-recent" });
  assertEquals(found.map((e) => [e.level, e.message, e.fields]), [
    ["info", "written", { session: "abc123", count: 3 }],
  ]);
});
