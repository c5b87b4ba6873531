import { assertEquals, assertThrows } from "../helpers/assert.ts";
import { AuthLimiter, type AuthLimiterOptions, ipKey } from "../../src/directory/ratelimit.ts";

const WINDOW_SECONDS = 900;
const WINDOW_MS = WINDOW_SECONDS * 1000;

function limiter(options: Partial<AuthLimiterOptions> = {}) {
  const clock = { now: 1_700_000_000_000 };
  const auth = new AuthLimiter({
    maxFailuresPerIp: 3,
    maxFailuresPerAccount: 5,
    windowSeconds: WINDOW_SECONDS,
    now: () => clock.now,
    ...options,
  });
  return { auth, clock };
}

Deno.test("the IP is blocked once it reaches maxFailuresPerIp, for any account", () => {
  const { auth } = limiter();
  assertEquals(auth.isBlocked("192.0.2.1", "alice"), false);
  auth.recordFailure("192.0.2.1", "alice");
  auth.recordFailure("192.0.2.1", "bob");
  assertEquals(auth.isBlocked("192.0.2.1", "carol"), false);
  auth.recordFailure("192.0.2.1", "carol");
  assertEquals(auth.isBlocked("192.0.2.1", "carol"), true);
  assertEquals(auth.isBlocked("192.0.2.1", "dave"), true);
  assertEquals(auth.isBlocked("192.0.2.1", ""), true);
  // other addresses are unaffected
  assertEquals(auth.isBlocked("192.0.2.2", "alice"), false);
});

Deno.test("the account is blocked once it reaches maxFailuresPerAccount, from any IP", () => {
  const { auth } = limiter();
  for (let i = 1; i <= 4; i++) auth.recordFailure(`198.51.100.${i}`, "Alice@Example.org");
  assertEquals(auth.isBlocked("203.0.113.9", "alice@example.org"), false);
  auth.recordFailure("198.51.100.5", "ALICE@example.org");
  // account keys are lower-cased
  assertEquals(auth.isBlocked("203.0.113.9", "alice@example.org"), true);
  assertEquals(auth.isBlocked("203.0.113.9", "Alice@Example.ORG"), true);
  assertEquals(auth.isBlocked("203.0.113.9", "bob@example.org"), false);
});

Deno.test("counters expire a full window after the most recent failure", () => {
  const { auth, clock } = limiter();
  auth.recordFailure("192.0.2.1", "alice");
  clock.now += WINDOW_MS - 1000;
  auth.recordFailure("192.0.2.1", "alice");
  clock.now += WINDOW_MS - 1000;
  // the first failure is older than a window, but the counter was refreshed by the second
  auth.recordFailure("192.0.2.1", "alice");
  assertEquals(auth.isBlocked("192.0.2.1", "bob"), true);
  clock.now += WINDOW_MS - 1;
  assertEquals(auth.isBlocked("192.0.2.1", "bob"), true);
  clock.now += 1;
  assertEquals(auth.isBlocked("192.0.2.1", "bob"), false);
  assertEquals(auth.delayMs("192.0.2.1"), 0);
  // and counting starts again from zero
  auth.recordFailure("192.0.2.1", "bob");
  auth.recordFailure("192.0.2.1", "bob");
  assertEquals(auth.isBlocked("192.0.2.1", "bob"), false);
});

Deno.test("failures recorded while blocked keep the block in place", () => {
  const { auth, clock } = limiter();
  for (let i = 0; i < 3; i++) auth.recordFailure("192.0.2.1", "x");
  for (let minute = 0; minute < 60; minute++) {
    clock.now += 60_000;
    assertEquals(auth.isBlocked("192.0.2.1", "x"), true, `minute ${minute}`);
    auth.recordFailure("192.0.2.1", "x");
  }
  clock.now += WINDOW_MS;
  assertEquals(auth.isBlocked("192.0.2.1", "x"), false);
});

Deno.test("recordSuccess clears the account counter but not the IP counter", () => {
  const { auth } = limiter({ maxFailuresPerIp: 10, maxFailuresPerAccount: 2 });
  auth.recordFailure("192.0.2.1", "alice");
  auth.recordFailure("192.0.2.1", "alice");
  assertEquals(auth.isBlocked("192.0.2.7", "alice"), true);
  assertEquals(auth.delayMs("192.0.2.1"), 500);
  auth.recordSuccess("192.0.2.1", "ALICE");
  assertEquals(auth.isBlocked("192.0.2.7", "alice"), false);
  // the address still carries its two failures
  assertEquals(auth.delayMs("192.0.2.1"), 500);
  for (let i = 0; i < 8; i++) auth.recordFailure("192.0.2.1", `user${i}`);
  assertEquals(auth.isBlocked("192.0.2.1", "alice"), true);
  auth.recordSuccess("192.0.2.1", "alice");
  assertEquals(auth.isBlocked("192.0.2.1", "alice"), true);
});

Deno.test("delayMs grows from 250 ms, doubling, to a 2 s cap", () => {
  const { auth, clock } = limiter({ maxFailuresPerIp: 100 });
  const delays = [auth.delayMs("192.0.2.1")];
  for (let i = 0; i < 7; i++) {
    auth.recordFailure("192.0.2.1", "alice");
    delays.push(auth.delayMs("192.0.2.1"));
  }
  assertEquals(delays, [0, 250, 500, 1000, 2000, 2000, 2000, 2000]);
  for (let i = 0; i < 100; i++) auth.recordFailure("192.0.2.1", "alice");
  assertEquals(auth.delayMs("192.0.2.1"), 2000);
  assertEquals(auth.delayMs("192.0.2.2"), 0);
  clock.now += WINDOW_MS;
  assertEquals(auth.delayMs("192.0.2.1"), 0);
});

Deno.test("maxDelayMs moves the cap", () => {
  const { auth } = limiter({ maxFailuresPerIp: 100, maxDelayMs: 600 });
  const delays: number[] = [];
  for (let i = 0; i < 4; i++) {
    auth.recordFailure("192.0.2.1", "alice");
    delays.push(auth.delayMs("192.0.2.1"));
  }
  assertEquals(delays, [250, 500, 600, 600]);
});

Deno.test("IPv6 addresses in the same /64 share a counter; other /64s do not", () => {
  const { auth } = limiter();
  auth.recordFailure("2001:db8:1:2::1", "a");
  auth.recordFailure("2001:db8:1:2:ffff:ffff:ffff:ffff", "b");
  auth.recordFailure("[2001:0DB8:0001:0002:0:0:0:abcd]", "c");
  assertEquals(auth.isBlocked("2001:db8:1:2:dead:beef::1", "d"), true);
  assertEquals(auth.isBlocked("2001:db8:1:3::1", "d"), false);
});

Deno.test("an IPv4-mapped IPv6 address counts as the IPv4 address", () => {
  const { auth } = limiter();
  auth.recordFailure("::ffff:192.0.2.1", "a");
  auth.recordFailure("192.0.2.1", "b");
  auth.recordFailure("::FFFF:c000:0201", "c");
  assertEquals(auth.isBlocked("192.0.2.1", "d"), true);
  assertEquals(auth.isBlocked("::ffff:192.0.2.1", "d"), true);
  assertEquals(auth.isBlocked("192.0.2.2", "d"), false);
});

Deno.test("ipKey normalises addresses", () => {
  const cases: [string, string][] = [
    ["192.0.2.1", "192.0.2.1"],
    [" 192.0.2.1 ", "192.0.2.1"],
    ["::ffff:192.0.2.1", "192.0.2.1"],
    ["::ffff:c000:201", "192.0.2.1"],
    ["0:0:0:0:0:ffff:192.0.2.1", "192.0.2.1"],
    ["[::ffff:192.0.2.1]", "192.0.2.1"],
    ["2001:db8::1", "2001:db8:0:0::/64"],
    ["2001:DB8:0:1:2:3:4:5", "2001:db8:0:1::/64"],
    ["2001:0db8:0000:0001::", "2001:db8:0:1::/64"],
    ["fe80::1%eth0", "fe80:0:0:0::/64"],
    ["::1", "0:0:0:0::/64"],
    ["::", "0:0:0:0::/64"],
    // IPv4-compatible (deprecated) addresses are not mapped: only ::ffff:0:0/96 is
    ["::192.0.2.1", "0:0:0:0::/64"],
    // not IP addresses: used as given, lower-cased
    ["unix:/run/postern.sock", "unix:/run/postern.sock"],
    ["1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7:8:9"],
    ["1::2::3", "1::2::3"],
    ["12345::1", "12345::1"],
    ["256.1.1.1", "256.1.1.1"],
    ["Unknown", "unknown"],
    ["", ""],
  ];
  for (const [input, expected] of cases) assertEquals(ipKey(input), expected, input);
});

Deno.test("an empty account name is neither counted nor blocked", () => {
  const { auth } = limiter({ maxFailuresPerIp: 100, maxFailuresPerAccount: 1 });
  auth.recordFailure("192.0.2.1", "");
  assertEquals(auth.isBlocked("192.0.2.2", ""), false);
  assertEquals(auth.size(), { ips: 1, accounts: 0 });
});

Deno.test("memory is bounded: the oldest counters are evicted beyond maxEntries", () => {
  const { auth, clock } = limiter({ maxEntries: 3, maxFailuresPerIp: 1, maxFailuresPerAccount: 1 });
  for (let i = 1; i <= 4; i++) {
    auth.recordFailure(`192.0.2.${i}`, `user${i}`);
    clock.now += 1000;
  }
  assertEquals(auth.size(), { ips: 3, accounts: 3 });
  // the first address and account were evicted, the last three are still blocked
  assertEquals(auth.isBlocked("192.0.2.1", "nobody"), false);
  assertEquals(auth.isBlocked("203.0.113.1", "user1"), false);
  for (let i = 2; i <= 4; i++) {
    assertEquals(auth.isBlocked(`192.0.2.${i}`, "nobody"), true, `ip ${i}`);
    assertEquals(auth.isBlocked("203.0.113.1", `user${i}`), true, `user ${i}`);
  }
});

Deno.test("eviction order follows the most recent failure, not the first", () => {
  const { auth, clock } = limiter({ maxEntries: 2, maxFailuresPerIp: 1 });
  auth.recordFailure("192.0.2.1", "");
  clock.now += 1;
  auth.recordFailure("192.0.2.2", "");
  clock.now += 1;
  auth.recordFailure("192.0.2.1", ""); // refreshed: now the newest
  clock.now += 1;
  auth.recordFailure("192.0.2.3", ""); // evicts .2
  assertEquals(auth.isBlocked("192.0.2.1", ""), true);
  assertEquals(auth.isBlocked("192.0.2.2", ""), false);
  assertEquals(auth.isBlocked("192.0.2.3", ""), true);
});

Deno.test("expired counters are swept when later failures are recorded", () => {
  const { auth, clock } = limiter();
  for (let i = 0; i < 1000; i++) auth.recordFailure(`10.0.${i >> 8}.${i & 255}`, `user${i}`);
  assertEquals(auth.size(), { ips: 1000, accounts: 1000 });
  clock.now += WINDOW_MS / 2;
  auth.recordFailure("192.0.2.1", "late");
  assertEquals(auth.size(), { ips: 1001, accounts: 1001 });
  clock.now += WINDOW_MS / 2;
  auth.recordFailure("192.0.2.2", "later");
  // the first thousand are a full window old; "late" is half a window old and stays
  assertEquals(auth.size(), { ips: 2, accounts: 2 });
  assertEquals(auth.isBlocked("192.0.2.1", "late"), false);
  auth.recordFailure("192.0.2.1", "late");
  auth.recordFailure("192.0.2.1", "late");
  assertEquals(auth.isBlocked("192.0.2.1", "late"), true);
});

Deno.test("options are validated", () => {
  const base = { maxFailuresPerIp: 3, maxFailuresPerAccount: 5, windowSeconds: 60 };
  const bad: Partial<AuthLimiterOptions>[] = [
    { maxFailuresPerIp: 0 },
    { maxFailuresPerAccount: 1.5 },
    { windowSeconds: 0 },
    { windowSeconds: Number.NaN },
    { maxEntries: 0 },
    { maxDelayMs: -1 },
  ];
  for (const options of bad) {
    assertThrows(() => new AuthLimiter({ ...base, ...options }), RangeError);
  }
  // Date.now is the default clock
  const real = new AuthLimiter(base);
  real.recordFailure("192.0.2.1", "a");
  assertEquals(real.delayMs("192.0.2.1"), 250);
});
