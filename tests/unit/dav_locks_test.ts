/**
 * WebDAV locks (src/dav/locks.ts): the LockManager's conflicts, coverage and expiry, and the If
 * header (RFC 4918 10.4) parsed and evaluated on every example of the RFC.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import {
  evaluateIf,
  type IfList,
  type Lock,
  lockKey,
  LockManager,
  parseIfHeader,
  submittedTokens,
} from "../../src/dav/locks.ts";

const T1 = "urn:uuid:181d4fae-7d8c-11d0-a765-00a0c91e6bf2";
const T2 = "urn:uuid:58f202ac-22cf-11d1-b12d-002035b29092";

function lock(
  locks: LockManager,
  root: string,
  depth: Lock["depth"],
  scope: Lock["scope"] = "exclusive",
  timeoutSeconds = 3600,
): Lock {
  return locks.create({ root, depth, scope, owner: "", accountId: 1, timeoutSeconds });
}

function roots(found: Lock[]): string[] {
  return found.map((l) => `${l.root} ${l.depth} ${l.scope}`).sort();
}

Deno.test("lockKey drops one trailing slash but keeps the root", () => {
  assertEquals(lockKey("/dav/files/a/dir/"), "/dav/files/a/dir");
  assertEquals(lockKey("/dav/files/a/doc"), "/dav/files/a/doc");
  assertEquals(lockKey("/"), "/");
});

Deno.test("locks: exclusive conflicts with everything overlapping, shared only with exclusive", () => {
  const locks = new LockManager();
  lock(locks, "/a", 0, "exclusive");
  // Same root: any new lock conflicts with an exclusive one.
  assertEquals(roots(locks.conflicts("/a", 0, "shared")), ["/a 0 exclusive"]);
  assertEquals(roots(locks.conflicts("/a", "infinity", "exclusive")), ["/a 0 exclusive"]);
  // A depth-0 lock does not reach its members; a depth-infinity ancestor reaches it.
  assertEquals(locks.conflicts("/a/b", 0, "exclusive"), []);
  assertEquals(locks.conflicts("/a/b", "infinity", "exclusive"), []);
  assertEquals(roots(locks.conflicts("/", "infinity", "shared")), ["/a 0 exclusive"]);
  assertEquals(locks.conflicts("/", 0, "exclusive"), []);
  // "/ab" is not below "/a".
  assertEquals(locks.conflicts("/ab", "infinity", "exclusive"), []);

  const shared = new LockManager();
  lock(shared, "/s", "infinity", "shared");
  lock(shared, "/s", "infinity", "shared");
  assertEquals(shared.conflicts("/s", "infinity", "shared"), []);
  assertEquals(shared.conflicts("/s/x/y", 0, "shared"), []);
  assertEquals(roots(shared.conflicts("/s/x/y", 0, "exclusive")), [
    "/s infinity shared",
    "/s infinity shared",
  ]);
  assertEquals(shared.conflicts("/sx", 0, "exclusive"), []);
  assertEquals(shared.conflicts("/t", "infinity", "exclusive"), []);

  const deep = new LockManager();
  lock(deep, "/a/b/c", 0, "shared");
  assertEquals(roots(deep.conflicts("/a", "infinity", "exclusive")), ["/a/b/c 0 shared"]);
  assertEquals(deep.conflicts("/a", "infinity", "shared"), []);
  assertEquals(deep.conflicts("/a", 0, "exclusive"), []);
  assertEquals(deep.conflicts("/a/b/c/d", 0, "exclusive"), []);
});

Deno.test("locks: covering and within follow depth and path boundaries", () => {
  const locks = new LockManager();
  lock(locks, "/a", "infinity", "shared");
  lock(locks, "/a/b", 0, "shared");
  lock(locks, "/a/b/c", "infinity", "shared");
  lock(locks, "/ab", "infinity", "shared");
  assertEquals(roots(locks.covering("/a")), ["/a infinity shared"]);
  assertEquals(roots(locks.covering("/a/b")), ["/a infinity shared", "/a/b 0 shared"]);
  assertEquals(roots(locks.covering("/a/b/x")), ["/a infinity shared"]);
  assertEquals(roots(locks.covering("/a/b/c/d/e")), [
    "/a infinity shared",
    "/a/b/c infinity shared",
  ]);
  assertEquals(roots(locks.covering("/abc")), []);
  assertEquals(roots(locks.within("/a/b")), ["/a/b 0 shared", "/a/b/c infinity shared"]);
  assertEquals(roots(locks.within("/a")), [
    "/a infinity shared",
    "/a/b 0 shared",
    "/a/b/c infinity shared",
  ]);
  assertEquals(locks.within("/a/x"), []);
});

Deno.test("locks: a depth-infinity lock on / covers every path and is within /", () => {
  const locks = new LockManager();
  const root = lock(locks, "/", "infinity");
  const other = new LockManager();
  lock(other, "/x/y", 0);
  assertEquals(locks.covering("/x/y").map((l) => l.token), [root.token]);
  assertEquals(locks.conflicts("/x", 0, "shared").map((l) => l.token), [root.token]);
  assertEquals(roots(other.conflicts("/", "infinity", "exclusive")), ["/x/y 0 exclusive"]);
  assertEquals(roots(other.within("/")), ["/x/y 0 exclusive"]);
  other.removeWithin("/");
  assertEquals(other.covering("/x/y"), []);
});

Deno.test("locks: get, remove and removeWithin", () => {
  const locks = new LockManager();
  const a = lock(locks, "/a", "infinity");
  const b = lock(locks, "/a/b", 0, "shared");
  const ab = lock(locks, "/ab", 0);
  const top = lock(locks, "/", 0);
  assert(a.token.startsWith("urn:uuid:"));
  assertEquals(new Set([a, b, ab, top].map((l) => l.token)).size, 4);
  assertEquals(locks.get(b.token), b);
  assertEquals(locks.get("urn:uuid:unknown"), undefined);
  locks.removeWithin("/a");
  assertEquals(locks.get(a.token), undefined);
  assertEquals(locks.get(b.token), undefined);
  assertEquals(locks.get(ab.token), ab);
  assertEquals(locks.get(top.token), top);
  assertEquals(locks.remove(ab.token), true);
  assertEquals(locks.remove(ab.token), false);
  assertEquals(locks.get(ab.token), undefined);
});

Deno.test("locks: expired locks cover nothing, conflict with nothing and are forgotten", () => {
  const locks = new LockManager();
  const expired = lock(locks, "/a", "infinity");
  const live = lock(locks, "/a/b", 0, "shared");
  expired.expiresAt = Date.now() - 1;
  assertEquals(locks.get(expired.token), undefined);
  assertEquals(locks.covering("/a/b").map((l) => l.token), [live.token]);
  assertEquals(locks.conflicts("/a", 0, "exclusive"), []);
  assertEquals(locks.within("/a").map((l) => l.token), [live.token]);

  // A timeout of 0 seconds expires at once; a refresh with 0 ends a lock.
  const instant = lock(locks, "/c", 0, "exclusive", 0);
  assertEquals(locks.get(instant.token), undefined);
  assertEquals(locks.covering("/c"), []);
  locks.refresh(live, 0);
  assertEquals(live.timeoutSeconds, 0);
  assertEquals(locks.covering("/a/b"), []);

  // A refresh of a live lock keeps it.
  const kept = lock(locks, "/d", 0, "exclusive", 1);
  locks.refresh(kept, 600);
  assertEquals([kept.timeoutSeconds, locks.get(kept.token)], [600, kept]);
  assert(kept.expiresAt > Date.now());
});

// ---- If header (RFC 4918 10.4) ----

function untagged(...conditions: IfList["conditions"]): IfList {
  return { resource: null, conditions };
}

const token = (value: string, not = false) => ({ not, kind: "token" as const, value });
const etag = (value: string, not = false) => ({ not, kind: "etag" as const, value });

Deno.test("If: every RFC 4918 example parses", () => {
  const examples: [string, string, IfList[]][] = [
    [
      "10.4.6 no-tag production",
      `(<${T1}>\r\n   ["I am an ETag"])\r\n   (["I am another ETag"])`,
      [untagged(token(T1), etag('"I am an ETag"')), untagged(etag('"I am another ETag"'))],
    ],
    [
      "10.4.7 Not with no-tag production",
      `(Not <${T1}>\r\n   <${T2}>)`,
      [untagged(token(T1, true), token(T2))],
    ],
    [
      "10.4.8 a condition that is always true",
      `(<${T1}>)\r\n   (Not <DAV:no-lock>)`,
      [untagged(token(T1)), untagged(token("DAV:no-lock", true))],
    ],
    [
      "10.4.9 tagged list in COPY",
      `</resource1>\r\n   (<${T1}>\r\n   [W/"A weak ETag"]) (["strong ETag"])`,
      [
        { resource: "/resource1", conditions: [token(T1), etag('"A weak ETag"')] },
        { resource: "/resource1", conditions: [etag('"strong ETag"')] },
      ],
    ],
    [
      "10.4.10 lock tokens with collection locks",
      `<http://www.example.com/specs/>\r\n   (<${T1}>)`,
      [{ resource: "/specs/", conditions: [token(T1)] }],
    ],
    [
      "10.4.11 ETag on an unmapped URL",
      `</specs/rfc2518.doc> (["4217"])`,
      [{ resource: "/specs/rfc2518.doc", conditions: [etag('"4217"')] }],
    ],
    [
      "10.4.11 Not ETag on an unmapped URL",
      `</specs/rfc2518.doc> (Not ["4217"])`,
      [{ resource: "/specs/rfc2518.doc", conditions: [etag('"4217"', true)] }],
    ],
    [
      "7.5.1 COPY with a tagged lock token",
      "<http://www.example.com/users/f/fielding/index.html>\r\n" +
      "   (<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>)",
      [{
        resource: "/users/f/fielding/index.html",
        conditions: [token("urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6")],
      }],
    ],
    [
      "9.9.6 MOVE of a collection with two no-tag lists",
      "(<urn:uuid:fe184f2e-6eec-41d0-c765-01adc56e6bb4>)\r\n" +
      "   (<urn:uuid:e454f3f3-acdc-452a-56c7-00a5c91e4b77>)",
      [
        untagged(token("urn:uuid:fe184f2e-6eec-41d0-c765-01adc56e6bb4")),
        untagged(token("urn:uuid:e454f3f3-acdc-452a-56c7-00a5c91e4b77")),
      ],
    ],
  ];
  for (const [label, header, expected] of examples) {
    assertEquals(parseIfHeader(header), expected, label);
    // The same header as an HTTP stack hands it over after unfolding.
    assertEquals(parseIfHeader(header.replace(/\r\n/g, " ")), expected, `${label} (unfolded)`);
  }
});

Deno.test("If: more than one tag, Not in any case, and entity tags with brackets", () => {
  assertEquals(parseIfHeader(`</a> (<${T1}>) </b> (<${T2}>) ([W/"x"])`), [
    { resource: "/a", conditions: [token(T1)] },
    { resource: "/b", conditions: [token(T2)] },
    { resource: "/b", conditions: [etag('"x"')] },
  ]);
  assertEquals(parseIfHeader(`(NOT<${T1}>not [""])`), [
    untagged(token(T1, true), etag('""', true)),
  ]);
  // "]" and spaces are allowed inside an opaque-tag (RFC 9110 8.8.3: etagc).
  assertEquals(parseIfHeader('(["a]b c"])'), [untagged(etag('"a]b c"'))]);
  assertEquals(parseIfHeader('([W/"a]b"] Not ["("])'), [
    untagged(etag('"a]b"'), etag('"("', true)),
  ]);
  // Tagged resources are reduced to their path, dot segments resolved.
  assertEquals(parseIfHeader(`<https://h.example/x/../y/%7E?q#f> (<${T1}>)`), [
    { resource: "/y/%7E", conditions: [token(T1)] },
  ]);
});

Deno.test("If: malformed headers are null", () => {
  const malformed = [
    "",
    "   ",
    "foobar",
    "()",
    `(<${T1}>) ()`,
    `(<${T1}>`,
    `(<${T1}`,
    '(["abc"',
    '(["abc]',
    '(["abc" x])',
    `(Not <${T1}>`,
    `(Not Not <${T1}>)`,
    "(Not)",
    `(<${T1}> junk)`,
    `(<${T1}>) junk`,
    `(${T1})`,
    "</only-a-tag>",
    `</a> </b> (<${T1}>)`,
    `</a> (<${T1}>) </b>`,
    // RFC 4918 10.4.2: the two list types cannot be mixed.
    `(<${T1}>) </a> (<${T2}>)`,
    "<http://[::1/> (<a>)",
    "(<a>) )",
    "((<a>))",
  ];
  for (const header of malformed) {
    assertEquals(parseIfHeader(header), null, JSON.stringify(header));
  }
});

Deno.test("If: submitted tokens are the tokens not under Not", () => {
  const lists = parseIfHeader(`</a> (<${T1}> Not <${T2}>) (Not <DAV:no-lock> ["e"])`);
  assertEquals([...submittedTokens(lists)], [T1]);
  assertEquals(submittedTokens(null).size, 0);
});

interface PathState {
  etag: string | null;
  tokens: Set<string>;
}

function evaluate(header: string, requestPath: string, states: Record<string, PathState>) {
  const lists = parseIfHeader(header);
  assert(lists, header);
  const asked: string[] = [];
  const holds = evaluateIf(lists, requestPath, (path) => {
    asked.push(path);
    return states[path] ?? { etag: null, tokens: new Set() };
  });
  return { holds, asked };
}

Deno.test("If: evaluation of the RFC 4918 10.4 examples", () => {
  const state = (etag: string | null, ...tokens: string[]) => ({ etag, tokens: new Set(tokens) });
  const h1046 = `(<${T1}> ["I am an ETag"]) (["I am another ETag"])`;
  assertEquals(evaluate(h1046, "/r", { "/r": state('"I am an ETag"', T1) }).holds, true);
  assertEquals(evaluate(h1046, "/r", { "/r": state('"I am an ETag"') }).holds, false);
  assertEquals(evaluate(h1046, "/r", { "/r": state('"I am another ETag"') }).holds, true);
  assertEquals(evaluate(h1046, "/r", { "/r": state('"other"', T1) }).holds, false);
  assertEquals(evaluate(h1046, "/r", {}).holds, false);

  const h1047 = `(Not <${T1}> <${T2}>)`;
  assertEquals(evaluate(h1047, "/r", { "/r": state(null, T2) }).holds, true);
  assertEquals(evaluate(h1047, "/r", { "/r": state(null, T1, T2) }).holds, false);
  assertEquals(evaluate(h1047, "/r", { "/r": state(null) }).holds, false);

  // DAV:no-lock is never a lock token: Not <DAV:no-lock> is always true.
  const h1048 = `(<${T1}>) (Not <DAV:no-lock>)`;
  assertEquals(evaluate(h1048, "/r", {}).holds, true);
  assertEquals(evaluate("(<DAV:no-lock>)", "/r", { "/r": state('"e"', T1) }).holds, false);

  // Tagged lists are evaluated against the tagged resource, not the request URI.
  const h1049 = `</resource1> (<${T1}> [W/"A weak ETag"]) (["strong ETag"])`;
  const copy = evaluate(h1049, "/resource2", {
    "/resource1": state('"A weak ETag"', T1),
    "/resource2": state('"strong ETag"'),
  });
  assertEquals(copy, { holds: true, asked: ["/resource1"] });
  assertEquals(
    evaluate(h1049, "/resource2", {
      "/resource1": state('"A weak ETag"'),
      "/resource2": state('"strong ETag"', T1),
    }).holds,
    false,
  );
  assertEquals(
    evaluate(h1049, "/resource2", { "/resource1": state('"strong ETag"') }).holds,
    true,
  );

  // The collection's lock is matched on the collection (its key has no trailing slash).
  const h10410 = `<http://www.example.com/specs/> (<${T1}>)`;
  const specs = evaluate(h10410, "/specs/rfc2518.txt", { "/specs": state(null, T1) });
  assertEquals(specs, { holds: true, asked: ["/specs"] });
  assertEquals(
    evaluate(h10410, "/specs/rfc2518.txt", { "/specs/rfc2518.txt": state(null, T1) }).holds,
    false,
  );

  // An unmapped URL has no entity tag and no lock.
  assertEquals(evaluate(`</specs/rfc2518.doc> (["4217"])`, "/x", {}).holds, false);
  assertEquals(evaluate(`</specs/rfc2518.doc> (Not ["4217"])`, "/x", {}).holds, true);
  assertEquals(evaluate(`</specs/rfc2518.doc> (Not <${T1}>)`, "/x", {}).holds, true);
  assertEquals(evaluate('(Not ["4217"])', "/x", { "/x": state('"4217"') }).holds, false);
});

Deno.test("If: entity tags compare by opaque tag (weak comparison) and exactly", () => {
  const states = { "/r": { etag: '"abc"', tokens: new Set<string>() } };
  assertEquals(evaluate('(["abc"])', "/r", states).holds, true);
  assertEquals(evaluate('([W/"abc"])', "/r", states).holds, true);
  assertEquals(evaluate('(["ABC"])', "/r", states).holds, false);
  assertEquals(evaluate("([abc])", "/r", states).holds, false);
  assertEquals(evaluate('([W/"abc"] Not ["abc"])', "/r", states).holds, false);
  // The request path is looked up as a lock key.
  assertEquals(evaluate('(["abc"])', "/r/", states), { holds: true, asked: ["/r"] });
});
