/** The JMAP HTTP policy pieces: plain HTTP only from this machine, Range parsing, base URLs. */
import { Hono } from "hono";
import { assertEquals } from "../helpers/assert.ts";
import {
  authMiddleware,
  baseUrl,
  isLoopback,
  type JmapService,
  parseRange,
} from "../../src/jmap/http.ts";

function serviceAllowing(allow: boolean): JmapService {
  return {
    app: { loaded: { config: { jmap: { allow_plaintext_http: allow } } } },
    tokens: null,
  } as unknown as JmapService;
}

async function statusFrom(ip: string, url: string, allow = false): Promise<number> {
  const app = new Hono();
  app.get("/jmap/session", authMiddleware(serviceAllowing(allow)) as never, (c) => c.text("ok"));
  const response = await app.fetch(new Request(url), { remoteAddr: { hostname: ip } });
  await response.body?.cancel();
  return response.status;
}

Deno.test("jmap http: plain HTTP from another machine is refused before any password is read", async () => {
  assertEquals(await statusFrom("192.0.2.7", "http://mail.example.com/jmap/session"), 403);
  // From this machine (a TLS-terminating proxy) it reaches authentication (401 without any).
  assertEquals(await statusFrom("127.0.0.1", "http://mail.example.com/jmap/session"), 401);
  assertEquals(await statusFrom("::1", "http://mail.example.com/jmap/session"), 401);
  // Over HTTPS, and with allow_plaintext_http, everyone reaches authentication.
  assertEquals(await statusFrom("192.0.2.7", "https://mail.example.com/jmap/session"), 401);
  assertEquals(await statusFrom("192.0.2.7", "http://mail.example.com/jmap/session", true), 401);
});

Deno.test("jmap http: forwarded scheme and host are trusted from loopback only", () => {
  const request = new Request("http://127.0.0.1:8080/jmap/session", {
    headers: { "x-forwarded-proto": "https", "x-forwarded-host": "mail.example.com" },
  });
  assertEquals(baseUrl(request, "127.0.0.1"), "https://mail.example.com");
  assertEquals(baseUrl(request, "192.0.2.7"), "http://127.0.0.1:8080");
  const bad = new Request("http://127.0.0.1/", { headers: { "x-forwarded-host": "evil/x?y" } });
  assertEquals(baseUrl(bad, "127.0.0.1"), "http://127.0.0.1");
  assertEquals(isLoopback("::ffff:127.0.0.1"), true);
  assertEquals(isLoopback("10.0.0.1"), false);
});

Deno.test("jmap http: Range headers (RFC 9110 14.1.2)", () => {
  assertEquals(parseRange(undefined, 10), null);
  assertEquals(parseRange("bytes=0-3", 10), { start: 0, end: 3 });
  assertEquals(parseRange("bytes=5-", 10), { start: 5, end: 9 });
  assertEquals(parseRange("bytes=-4", 10), { start: 6, end: 9 });
  assertEquals(parseRange("bytes=2-100", 10), { start: 2, end: 9 });
  assertEquals(parseRange("bytes=10-12", 10), "invalid");
  assertEquals(parseRange("bytes=5-2", 10), "invalid");
  assertEquals(parseRange("bytes=-0", 10), "invalid");
  // Multiple ranges and other units are not supported: the whole body (allowed by RFC 9110).
  assertEquals(parseRange("bytes=0-1,3-4", 10), null);
  assertEquals(parseRange("items=0-1", 10), null);
});
