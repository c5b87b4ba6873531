import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { mulberry32 } from "../helpers/random.ts";
import {
  DEFAULT_BODY_PROPERTIES,
  headerFormAllowed,
  isHeaderProperty,
  parseHeaderProperty,
  parsePartBlobId,
  partBlobId,
  partId,
  renderEmailProperties,
  type RenderOptions,
} from "../../src/jmap/email_render.ts";
import { findSection, MimeLimitError, type MimePart, parseMime } from "../../src/mail/mime.ts";

const limits = { maxHeaderSize: 65536, maxDepth: 20, maxParts: 1000 };
const noValues: RenderOptions = {
  fetchTextBodyValues: false,
  fetchHTMLBodyValues: false,
  fetchAllBodyValues: false,
  maxBodyValueBytes: 0,
  bodyProperties: null,
};

function message(lines: string[]): { raw: Uint8Array; root: MimePart } {
  const raw = new TextEncoder().encode(lines.join("\r\n"));
  return { raw, root: parseMime(raw, limits) };
}

function render(
  lines: string[],
  properties: string[],
  options: Partial<RenderOptions> = {},
): Record<string, unknown> {
  const { raw, root } = message(lines);
  return renderEmailProperties(raw, root, "h1", properties, { ...noValues, ...options });
}

const rfcExample = [
  'To: "  James Smythe" <james@example.com>, Friends:',
  "  jane@example.com, =?UTF-8?Q?John_Sm=C3=AEth?=",
  "  <john@example.com>;",
  "Subject: Dinner on",
  " =?UTF-8?Q?Thursday=3F_Caf=C3=A9?=",
  "Message-ID: <1234@local.machine.example>",
  "In-Reply-To: <a@x.example>",
  "References: <a@x.example> (first)",
  "  <b@y.example>",
  "Date: Sun, 12 Oct 2014 14:12:34 +0200",
  "List-Post: <mailto:partytime@lists.example.com>",
  "List-Unsubscribe: (Use this) <https://lists.example.com/u?x=1>,",
  "  <mailto:leave@lists.example.com> (or this)",
  "List-Help: NO (no help)",
  "X-Custom: =?utf-8?B?w6k=?= <c@d.example>",
  "",
  "body",
  "",
];

Deno.test("RFC 8621 4.1.2.3 and 4.1.2.4: the address-list example in both forms", () => {
  const out = render(rfcExample, ["to", "header:To:asGroupedAddresses", "cc"]);
  assertEquals(out.to, [
    { name: "James Smythe", email: "james@example.com" },
    { name: null, email: "jane@example.com" },
    { name: "John Smîth", email: "john@example.com" },
  ]);
  assertEquals(out["header:To:asGroupedAddresses"], [
    { name: null, addresses: [{ name: "James Smythe", email: "james@example.com" }] },
    {
      name: "Friends",
      addresses: [
        { name: null, email: "jane@example.com" },
        { name: "John Smîth", email: "john@example.com" },
      ],
    },
  ]);
  assertEquals(out.cc, null);
});

Deno.test("RFC 8621 4.1.2.1 and 4.1.2.2: Raw keeps the octets, Text unfolds and decodes", () => {
  const out = render(rfcExample, ["header:Subject", "header:subject:asRaw", "subject"]);
  assertEquals(out["header:Subject"], " Dinner on\r\n =?UTF-8?Q?Thursday=3F_Caf=C3=A9?=");
  assertEquals(out["header:subject:asRaw"], out["header:Subject"]);
  assertEquals(out.subject, "Dinner on Thursday? Café");
});

Deno.test("RFC 8621 4.1.2.5 to 4.1.2.7: MessageIds, Date and URLs", () => {
  const out = render(rfcExample, [
    "messageId",
    "inReplyTo",
    "references",
    "sentAt",
    "header:Date:asDate",
    "header:List-Post:asURLs",
    "header:List-Unsubscribe:asURLs",
    "header:List-Help:asURLs",
    "header:X-Custom:asText",
    "header:X-Custom:asAddresses",
  ]);
  assertEquals(out.messageId, ["1234@local.machine.example"]);
  assertEquals(out.inReplyTo, ["a@x.example"]);
  assertEquals(out.references, ["a@x.example", "b@y.example"]);
  assertEquals(out.sentAt, "2014-10-12T14:12:34+02:00");
  assertEquals(out["header:Date:asDate"], out.sentAt);
  assertEquals(out["header:List-Post:asURLs"], ["mailto:partytime@lists.example.com"]);
  assertEquals(out["header:List-Unsubscribe:asURLs"], [
    "https://lists.example.com/u?x=1",
    "mailto:leave@lists.example.com",
  ]);
  assertEquals(out["header:List-Help:asURLs"], null);
  assertEquals(out["header:X-Custom:asText"], "é <c@d.example>");
  assertEquals(out["header:X-Custom:asAddresses"], [{ name: "é", email: "c@d.example" }]);
});

Deno.test("asDate keeps the zone offset, uses Z for UTC and gives null when unreadable", () => {
  const dates: [string, string | null][] = [
    ["Tue, 1 Jul 2003 10:52:37 +0000", "2003-07-01T10:52:37Z"],
    ["Tue, 1 Jul 2003 10:52:37 -0730 (PDT)", "2003-07-01T10:52:37-07:30"],
    ["1 Jul 03 10:52 GMT", "2003-07-01T10:52:00Z"],
    ["not a date", null],
  ];
  for (const [value, expected] of dates) {
    const out = render([`Date: ${value}`, "", "x"], ["sentAt"]);
    assertEquals(out.sentAt, expected, value);
  }
});

Deno.test("header:…:all lists every instance in order; without it the last one wins", () => {
  const lines = [
    "Received: from a",
    "Subject: first",
    "Received: from b",
    "received: from c",
    "Subject: second",
    "",
    "x",
  ];
  const out = render(lines, [
    "header:Received:all",
    "header:RECEIVED",
    "header:Subject:asText:all",
    "subject",
    "header:X-Missing",
    "header:X-Missing:all",
    "headers",
  ]);
  assertEquals(out["header:Received:all"], [" from a", " from b", " from c"]);
  assertEquals(out["header:RECEIVED"], " from c");
  assertEquals(out["header:Subject:asText:all"], ["first", "second"]);
  assertEquals(out.subject, "second");
  assertEquals(out["header:X-Missing"], null);
  assertEquals(out["header:X-Missing:all"], []);
  assertEquals((out.headers as unknown[]).length, 5);
  assertEquals((out.headers as unknown[])[3], { name: "received", value: " from c" });
});

Deno.test("header:…:all stops at 1000 instances", () => {
  const lines = Array.from({ length: 1500 }, (_, i) => `X-Many: ${i}`);
  const out = render([...lines, "", "x"], ["header:X-Many:all", "header:X-Many"]);
  const all = out["header:X-Many:all"] as string[];
  assertEquals(all.length, 1000);
  assertEquals(all[999], " 999");
  assertEquals(out["header:X-Many"], " 1499");
});

Deno.test("parseHeaderProperty: suffix order, case, and the forms each field allows", () => {
  assertEquals(parseHeaderProperty("header:From"), { name: "From", form: "Raw", all: false });
  assertEquals(parseHeaderProperty("HEADER:from:ASADDRESSES:all"), {
    name: "from",
    form: "Addresses",
    all: true,
  });
  assertEquals(parseHeaderProperty("header:X-A:asDate"), { name: "X-A", form: "Date", all: false });
  for (
    const bad of [
      "header:",
      "header::asRaw",
      "header:From:all:asAddresses",
      "header:From:asFoo",
      "header:From:",
      "header:Fr om",
      "header:From:asDate",
      "header:Subject:asAddresses",
      "header:To:asText",
      "header:Received:asText",
      "header:List-Post:asText",
      "from",
    ]
  ) {
    assertEquals(parseHeaderProperty(bad), null, bad);
    assert(!isHeaderProperty(bad), bad);
  }
  assert(headerFormAllowed("Resent-Reply-To", "Addresses"));
  assert(headerFormAllowed("List-Id", "Text"));
  assert(headerFormAllowed("Comments", "Text"));
  assert(headerFormAllowed("Resent-Message-ID", "MessageIds"));
  assert(headerFormAllowed("Content-Type", "URLs"));
  assert(!headerFormAllowed("Date", "Text"));
  assert(!headerFormAllowed("message-id", "Addresses"));
  assert(headerFormAllowed("Return-Path", "Raw"));
  assert(!headerFormAllowed("Return-Path", "Addresses"));
});

const mixed = [
  "From: a@example.com",
  "Content-Type: multipart/mixed; boundary=outer",
  "",
  "--outer",
  "Content-Type: multipart/alternative; boundary=inner",
  "",
  "--inner",
  "Content-Type: text/plain; charset=utf-8",
  "Content-Transfer-Encoding: quoted-printable",
  "",
  "Caf=C3=A9 au lait",
  "second line",
  "--inner",
  "Content-Type: text/html; charset=utf-8",
  "",
  "<p>Caf\u00e9 <b>au</b> lait</p>",
  "--inner--",
  "--outer",
  'Content-Type: application/pdf; name="=?utf-8?Q?r=C3=A9sum=C3=A9.pdf?="',
  "Content-Disposition: attachment",
  "Content-Transfer-Encoding: base64",
  "Content-ID: <part2@example.com> (the pdf)",
  "Content-Language: en, de",
  "",
  "JVBERi0xLjQK",
  "--outer",
  "Content-Type: text/csv",
  "Content-Disposition: attachment; filename=data.csv",
  "",
  "a,b",
  "--outer--",
  "",
];

Deno.test("RFC 8621 4.1.4: bodyStructure, textBody, htmlBody and attachments", () => {
  const out = render(mixed, ["bodyStructure", "textBody", "htmlBody", "attachments"]);
  const ids = (list: unknown) => (list as { partId: string }[]).map((p) => p.partId);
  assertEquals(ids(out.textBody), ["1.1"]);
  assertEquals(ids(out.htmlBody), ["1.2"]);
  assertEquals(ids(out.attachments), ["2", "3"]);
  const tree = out.bodyStructure as Record<string, unknown>;
  assertEquals(tree.partId, null);
  assertEquals(tree.blobId, null);
  assertEquals(tree.type, "multipart/mixed");
  assertEquals(tree.charset, null);
  const [alternative, pdf, csv] = tree.subParts as Record<string, unknown>[];
  assertEquals(alternative.partId, null);
  assertEquals((alternative.subParts as Record<string, unknown>[]).map((p) => p.type), [
    "text/plain",
    "text/html",
  ]);
  const plain = (alternative.subParts as Record<string, unknown>[])[0];
  assertEquals(plain, {
    partId: "1.1",
    blobId: "Ph1_1-1",
    size: new TextEncoder().encode("Café au lait\r\nsecond line").length,
    name: null,
    type: "text/plain",
    charset: "utf-8",
    disposition: null,
    cid: null,
    language: null,
    location: null,
  });
  assertEquals(pdf, {
    partId: "2",
    blobId: "Ph1_2",
    size: 9,
    name: "résumé.pdf",
    type: "application/pdf",
    charset: null,
    disposition: "attachment",
    cid: "part2@example.com",
    language: ["en", "de"],
    location: null,
  });
  assertEquals(csv.name, "data.csv");
  assertEquals(csv.charset, "us-ascii");
  assertEquals((out.attachments as Record<string, unknown>[])[0], pdf);
});

Deno.test("bodyProperties picks the part properties, header:… and headers included", () => {
  const out = render(mixed, ["attachments", "bodyStructure"], {
    bodyProperties: ["partId", "headers", "header:Content-ID:asMessageIds", "subParts"],
  });
  const pdf = (out.attachments as Record<string, unknown>[])[0];
  assertEquals(pdf.partId, "2");
  assertEquals(pdf["header:Content-ID:asMessageIds"], ["part2@example.com"]);
  assertEquals((pdf.headers as { name: string }[]).map((h) => h.name), [
    "Content-Type",
    "Content-Disposition",
    "Content-Transfer-Encoding",
    "Content-ID",
    "Content-Language",
  ]);
  assertEquals(pdf.subParts, null);
  const tree = out.bodyStructure as Record<string, unknown>;
  assertEquals(tree.partId, null);
  assertEquals((tree.subParts as unknown[]).length, 3);
  assertEquals((tree.headers as { name: string }[])[0], { name: "From", value: " a@example.com" });
});

Deno.test("bodyValues follow fetchTextBodyValues, fetchHTMLBodyValues and fetchAllBodyValues", () => {
  const text = render(mixed, ["bodyValues"], { fetchTextBodyValues: true });
  assertEquals(text.bodyValues, {
    "1.1": { value: "Café au lait\nsecond line", isEncodingProblem: false, isTruncated: false },
  });
  const html = render(mixed, ["bodyValues"], { fetchHTMLBodyValues: true });
  assertEquals(Object.keys(html.bodyValues as object), ["1.2"]);
  assertEquals(
    (html.bodyValues as Record<string, { value: string }>)["1.2"].value,
    "<p>Café <b>au</b> lait</p>",
  );
  const both = render(mixed, ["bodyValues"], {
    fetchTextBodyValues: true,
    fetchHTMLBodyValues: true,
  });
  assertEquals(Object.keys(both.bodyValues as object).sort(), ["1.1", "1.2"]);
  const all = render(mixed, ["bodyValues"], { fetchAllBodyValues: true });
  assertEquals(Object.keys(all.bodyValues as object).sort(), ["1.1", "1.2", "3"]);
  assertEquals(render(mixed, ["bodyValues"]).bodyValues, {});
});

Deno.test("maxBodyValueBytes cuts before a multi-byte character and outside HTML tags", () => {
  // "Café" is 5 bytes; a limit of 4 would split the "é".
  const plain = render(mixed, ["bodyValues"], { fetchTextBodyValues: true, maxBodyValueBytes: 4 });
  assertEquals(plain.bodyValues, {
    "1.1": { value: "Caf", isEncodingProblem: false, isTruncated: true },
  });
  const exact = render(mixed, ["bodyValues"], { fetchTextBodyValues: true, maxBodyValueBytes: 5 });
  assertEquals((exact.bodyValues as Record<string, { value: string }>)["1.1"].value, "Café");
  // 11 bytes end inside "<b>": the cut moves back before the tag.
  const html = render(mixed, ["bodyValues"], { fetchHTMLBodyValues: true, maxBodyValueBytes: 11 });
  assertEquals(html.bodyValues, {
    "1.2": { value: "<p>Café ", isEncodingProblem: false, isTruncated: true },
  });
  const roomy = render(mixed, ["bodyValues"], {
    fetchTextBodyValues: true,
    maxBodyValueBytes: 1000,
  });
  assertEquals(
    (roomy.bodyValues as Record<string, { isTruncated: boolean }>)["1.1"].isTruncated,
    false,
  );
});

Deno.test("maxBodyValueBytes on a large part reads a bounded window and still cuts cleanly", () => {
  const body = "é".repeat(200000);
  const out = render(
    ["Content-Type: text/plain; charset=utf-8", "", body],
    ["bodyValues"],
    { fetchAllBodyValues: true, maxBodyValueBytes: 1001 },
  );
  assertEquals(out.bodyValues, {
    "0": { value: "é".repeat(500), isEncodingProblem: false, isTruncated: true },
  });
});

Deno.test("isEncodingProblem: unknown charset, invalid bytes, broken base64, unknown encoding", () => {
  const cases: [string[], string, boolean][] = [
    [["Content-Type: text/plain; charset=iso-8859-1", "", "caf\xe9"], "café", false],
    [["Content-Type: text/plain; charset=x-no-such-charset", "", "hello"], "hello", true],
    [["Content-Type: text/plain; charset=utf-8", "", "caf\xe9"], "caf\ufffd", true],
    [["Content-Type: text/plain", "", "caf\xc3\xa9"], "café", false],
    [["Content-Type: text/plain", "Content-Transfer-Encoding: base64", "", "aGk=!!"], "hi", true],
    [
      ["Content-Type: text/plain", "Content-Transfer-Encoding: base64", "", "aGVsbG8="],
      "hello",
      false,
    ],
    [["Content-Type: text/plain", "Content-Transfer-Encoding: x-uuencode", "", "hi"], "hi", true],
    [["Content-Type: text/plain; charset=utf-7", "", "Hi +Jjo-"], "Hi \u263a", false],
  ];
  for (const [lines, value, problem] of cases) {
    const raw = Uint8Array.from(lines.join("\r\n"), (c) => c.charCodeAt(0));
    const root = parseMime(raw, limits);
    const out = renderEmailProperties(raw, root, "h", ["bodyValues"], {
      ...noValues,
      fetchAllBodyValues: true,
    });
    assertEquals(out.bodyValues, {
      "0": { value, isEncodingProblem: problem, isTruncated: false },
    }, lines.join(" | "));
  }
});

Deno.test("a leaf message root is part 0 with blob id P<hash>_0", () => {
  const out = render(["Subject: hi", "", "hello"], ["bodyStructure", "textBody", "preview"]);
  const tree = out.bodyStructure as Record<string, unknown>;
  assertEquals(tree.partId, "0");
  assertEquals(tree.blobId, "Ph1_0");
  assertEquals(tree.type, "text/plain");
  assertEquals(tree.charset, "us-ascii");
  assertEquals(tree.size, 5);
  assert(!("subParts" in tree));
  assertEquals(out.textBody, [tree]);
  assertEquals(out.preview, "hello");
});

Deno.test("message/rfc822 is a leaf; hasAttachment and preview", () => {
  const out = render([
    "Content-Type: multipart/mixed; boundary=b",
    "",
    "--b",
    "Content-Type: text/plain",
    "",
    "see attached",
    "--b",
    "Content-Type: message/rfc822",
    "",
    "Subject: inner",
    "Content-Type: multipart/alternative; boundary=c",
    "",
    "--c",
    "",
    "inner text",
    "--c--",
    "--b--",
    "",
  ], ["bodyStructure", "attachments", "hasAttachment", "preview", "unknownProperty"]);
  const parts = (out.bodyStructure as { subParts: Record<string, unknown>[] }).subParts;
  assertEquals(parts.map((p) => p.type), ["text/plain", "message/rfc822"]);
  assert(!("subParts" in parts[1]));
  assertEquals(parts[1].blobId, "Ph1_2");
  assertEquals((out.attachments as { partId: string }[]).map((p) => p.partId), ["2"]);
  assertEquals(out.hasAttachment, true);
  assertEquals(out.preview, "see attached");
  assert(!("unknownProperty" in out));
});

Deno.test("part blob ids round-trip and resolve with findSection", () => {
  const { root } = message(mixed);
  for (const section of ["", "1", "1.1", "1.2", "2", "3", "12.3.45"]) {
    for (const hash of ["abc", "a_b-c", "0"]) {
      const id = partBlobId(hash, section);
      assertMatch(id, /^[A-Za-z0-9_-]+$/);
      assertEquals(parsePartBlobId(id), { hash, section });
    }
  }
  const leaf = findSection(root, "1.2")!;
  assertEquals(partId(leaf), "1.2");
  assertEquals(findSection(root, parsePartBlobId(partBlobId("x", partId(leaf)))!.section), leaf);
  for (
    const bad of ["", "P", "Pabc", "Pabc_", "Pabc_1.2", "Pabc_01", "Pabc_1--2", "Xabc_1", "P_1"]
  ) {
    assertEquals(parsePartBlobId(bad), null, bad);
  }
});

Deno.test("raw header bytes: UTF-8 when valid, else Latin-1; NUL dropped", () => {
  const raw = Uint8Array.from(
    "Subject: caf\xc3\xa9\r\nX-Old: caf\xe9\x00!\r\n\r\nx",
    (c) => c.charCodeAt(0),
  );
  const root = parseMime(raw, limits);
  const out = renderEmailProperties(
    raw,
    root,
    "h",
    ["subject", "header:X-Old", "headers"],
    noValues,
  );
  assertEquals(out.subject, "café");
  assertEquals(out["header:X-Old"], " café!");
  assertEquals(out.headers, [
    { name: "Subject", value: " café" },
    { name: "X-Old", value: " café!" },
  ]);
});

Deno.test("a tree 300 multiparts deep renders in full", () => {
  const depth = 300;
  const lines: string[] = [];
  for (let i = 0; i < depth; i++) {
    lines.push(`Content-Type: multipart/mixed; boundary=b${i}`, "", `--b${i}`);
  }
  lines.push("Content-Type: text/plain", "", "deep");
  for (let i = depth - 1; i >= 0; i--) lines.push(`--b${i}--`);
  const raw = new TextEncoder().encode(lines.join("\r\n"));
  const root = parseMime(raw, { maxHeaderSize: 65536, maxDepth: 1000, maxParts: 1000 });
  const out = renderEmailProperties(raw, root, "h", ["bodyStructure", "textBody", "bodyValues"], {
    ...noValues,
    fetchAllBodyValues: true,
  });
  let node = out.bodyStructure as { subParts?: unknown[]; partId: string | null };
  let levels = 0;
  while (node.subParts) {
    node = node.subParts[0] as typeof node;
    levels++;
  }
  assertEquals(levels, depth);
  const leafId = Array(depth).fill("1").join(".");
  assertEquals(node.partId, leafId);
  assertEquals((out.textBody as { partId: string }[])[0].partId, leafId);
  assertEquals((out.bodyValues as Record<string, { value: string }>)[leafId].value, "deep");
});

const ALL_PROPERTIES = [
  "headers",
  "header:From:asAddresses:all",
  "header:To:asGroupedAddresses",
  "header:Subject:asText",
  "header:Date:asDate:all",
  "header:Message-ID:asMessageIds",
  "header:List-Post:asURLs",
  "header:Content-Type",
  "header:X-Any:asDate",
  "header:X-Any:asURLs",
  "bodyStructure",
  "textBody",
  "htmlBody",
  "attachments",
  "bodyValues",
  "hasAttachment",
  "preview",
  "messageId",
  "inReplyTo",
  "references",
  "sender",
  "from",
  "to",
  "cc",
  "bcc",
  "replyTo",
  "subject",
  "sentAt",
];

Deno.test("fuzz: 500 mangled messages render every property without throwing", () => {
  const rand = mulberry32(8621);
  const seeds = [rfcExample, mixed].map((lines) => lines.join("\r\n"));
  const junk = '\r\n:;<>"()=?@,\\\x00\x80\xc3\xff-=?utf-8?B?w6k=?= boundary=outer --outer\t ';
  let rendered = 0;
  for (let n = 0; n < 500; n++) {
    const chars = Array.from(seeds[n % seeds.length]);
    const edits = 1 + Math.floor(rand() * 40);
    for (let e = 0; e < edits; e++) {
      const at = Math.floor(rand() * (chars.length + 1));
      const op = rand();
      const c = junk[Math.floor(rand() * junk.length)];
      if (op < 0.4) chars.splice(at, 1);
      else if (op < 0.8) chars.splice(at, 0, c);
      else chars.splice(at, Math.floor(rand() * 50), c.repeat(Math.floor(rand() * 5)));
    }
    const raw = Uint8Array.from(chars.join(""), (c) => c.charCodeAt(0) & 0xff);
    let root: MimePart;
    try {
      root = parseMime(raw, limits);
    } catch (error) {
      if (error instanceof MimeLimitError) continue;
      throw error;
    }
    const out = renderEmailProperties(raw, root, "fz", ALL_PROPERTIES, {
      fetchTextBodyValues: rand() < 0.5,
      fetchHTMLBodyValues: rand() < 0.5,
      fetchAllBodyValues: rand() < 0.5,
      maxBodyValueBytes: rand() < 0.5 ? 0 : Math.floor(rand() * 64),
      bodyProperties: rand() < 0.5
        ? null
        : [...DEFAULT_BODY_PROPERTIES, "headers", "subParts", "header:Content-Type:asText:all"],
    });
    JSON.stringify(out);
    for (const part of out.textBody as { blobId: string }[]) {
      assertMatch(part.blobId, /^[A-Za-z0-9_-]+$/);
      assert(parsePartBlobId(part.blobId) !== null);
    }
    rendered++;
  }
  assert(rendered > 400, `only ${rendered} messages parsed`);
});
