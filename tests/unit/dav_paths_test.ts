/** DAV request paths (src/dav/paths.ts): decoding, confinement, and hrefs back. */
import { assertEquals } from "../helpers/assert.ts";
import { davHref, MAX_SEGMENTS, parseDavPath } from "../../src/dav/paths.ts";
import { mulberry32 } from "../helpers/random.ts";

Deno.test("dav paths: segments decoded, trailing slash noted, NFC names", () => {
  assertEquals(parseDavPath("/dav/calendars/alice%40example.com/work/", "/dav/"), {
    segments: ["calendars", "alice@example.com", "work"],
    trailingSlash: true,
  });
  assertEquals(parseDavPath("/dav/files/a%20b.txt", "/dav/"), {
    segments: ["files", "a b.txt"],
    trailingSlash: false,
  });
  assertEquals(parseDavPath("/dav/", "/dav/"), { segments: [], trailingSlash: true });
  assertEquals(parseDavPath("/dav", "/dav/"), { segments: [], trailingSlash: true });
  assertEquals(parseDavPath("/dav/files/Cafe\u0301", "/dav/")?.segments[1], "Caf\u00e9");
});

Deno.test("dav paths: traversal, encoded separators, NUL and bad escapes are refused", () => {
  for (
    const path of [
      "/dav/files/../etc/passwd",
      "/dav/files/%2e%2e/x",
      "/dav/files/./x",
      "/dav/files/a%2Fb",
      "/dav/files/a%5cb",
      "/dav/files/a\\b",
      "/dav/files/a%00b",
      "/dav/files/a%0Ab",
      "/dav/files/%E0%A4%A",
      "/dav/files/%C0%AF",
      "/dav/files//x",
      "/dav/files/" + "x".repeat(256),
      "/dav/" + Array.from({ length: MAX_SEGMENTS + 1 }, () => "a").join("/"),
      "/elsewhere/x",
    ]
  ) {
    assertEquals(parseDavPath(path, "/dav/"), null, path);
  }
});

Deno.test("dav paths: hrefs round-trip through the parser", () => {
  const random = mulberry32(4918);
  const alphabet = ["a", "Z", "0", " ", "@", "%", "#", "?", "&", "+", "é", "日", "'", "(", ":"];
  for (let i = 0; i < 500; i++) {
    const segments = Array.from(
      { length: 1 + Math.floor(random() * 4) },
      () =>
        Array.from(
          { length: 1 + Math.floor(random() * 8) },
          () => alphabet[Math.floor(random() * alphabet.length)],
        ).join(""),
    );
    const collection = random() < 0.5;
    const href = davHref("/dav/", segments, collection);
    const parsed = parseDavPath(href, "/dav/");
    assertEquals(parsed?.segments, segments.map((s) => s.normalize("NFC")), href);
    assertEquals(parsed?.trailingSlash, collection, href);
  }
});
