/**
 * IMAP command assembly and parsing: every command and argument form Postern parses, the
 * assembler across line and literal boundaries with each limit, and the error a client sees.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import {
  type AssemblerOptions,
  type AssemblerStep,
  CommandAssembler,
  DEFAULT_PARSER_LIMITS,
  type ImapCommand,
  parseCommand,
  parseCommandLine,
  ParseError,
  type SearchKey,
} from "../../src/imap/wire/parser.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

const OPTIONS: AssemblerOptions = {
  maxLiteralSize: 1000,
  maxCommandSize: 4000,
  maxLiterals: 5,
  literalMinus: false,
};

interface Session {
  /** What the server wrote: continuation requests and error responses. */
  written: string[];
  results: (ImapCommand | ParseError)[];
  /** Octets dropped through skip steps. */
  skipped: number;
}

/** Plays a session over a whole byte stream: reads lines and literals as the assembler asks. */
function session(wire: string | Uint8Array, options: Partial<AssemblerOptions> = {}): Session {
  const input = typeof wire === "string" ? enc.encode(wire) : wire;
  const assembler = new CommandAssembler({ ...OPTIONS, ...options });
  const out: Session = { written: [], results: [], skipped: 0 };
  let pos = 0;
  const readLine = (): Uint8Array | null => {
    if (pos >= input.length) return null;
    let end = input.indexOf(0x0a, pos);
    if (end < 0) end = input.length;
    const line = input.subarray(pos, end > pos && input[end - 1] === 0x0d ? end - 1 : end);
    pos = end + 1;
    return line;
  };
  for (;;) {
    const line = readLine();
    if (line === null) return out;
    let step: AssemblerStep = assembler.pushLine(line);
    for (;;) {
      if (step.kind === "literal") {
        if (step.continuation) out.written.push("+ Ready");
        if (pos + step.size > input.length) return out;
        assembler.pushLiteral(input.slice(pos, pos + step.size));
        pos += step.size;
      } else if (step.kind === "skip") {
        out.skipped += Math.min(step.size, input.length - pos);
        pos += step.size;
        assembler.literalSkipped();
      } else break;
      const next = readLine();
      if (next === null) return out;
      step = assembler.pushLine(next);
    }
    if (step.kind === "command") out.results.push(parseCommand(step.command));
    else {
      const e = step.error;
      out.written.push(`${e.tag ?? "*"} ${e.status}${e.code ? ` [${e.code}]` : ""} ${e.text}`);
    }
  }
}

/** Parses one command given on the wire (with literals); fails the test on a parse error. */
function ok(wire: string): ImapCommand {
  const s = session(wire.includes("\r\n") ? wire : wire + "\r\n");
  assertEquals(s.results.length, 1, `one command from ${JSON.stringify(wire)}: ${s.written}`);
  const result = s.results[0];
  if (result instanceof ParseError) throw new Error(`${wire}: ${result.message}`);
  return result;
}

// deno-lint-ignore no-explicit-any
function args(wire: string): any {
  return ok(wire).args;
}

/** The ParseError of a command given as one line. */
function bad(line: string, pattern?: RegExp): ParseError {
  const result = parseCommandLine(line);
  assert(result instanceof ParseError, `expected a ParseError for ${JSON.stringify(line)}`);
  if (pattern) assertMatch(result.message, pattern);
  return result;
}

const all = (start: number | "*", end = start) => ({ start, end });
const ranges = (...r: { start: number | "*"; end: number | "*" }[]) => ({
  kind: "ranges",
  ranges: r,
});

Deno.test("commands without arguments, any case", () => {
  for (
    const name of [
      "CAPABILITY",
      "NOOP",
      "LOGOUT",
      "STARTTLS",
      "IDLE",
      "CHECK",
      "CLOSE",
      "UNSELECT",
      "EXPUNGE",
      "NAMESPACE",
      "UNAUTHENTICATE",
    ]
  ) {
    assertEquals(ok(`a1 ${name.toLowerCase()}`), { tag: "a1", command: name, args: {} });
  }
  bad("a1 NOOP x", /NOOP: expected end of command at position 7/);
});

Deno.test("tags and command names", () => {
  assertEquals(ok("A.b]1 NOOP").tag, "A.b]1");
  assertEquals(bad("+a NOOP").tag, null);
  assertEquals(bad("a+ NOOP").tag, null);
  assertEquals(bad("(a) NOOP").tag, null);
  assertEquals(bad("").tag, null);
  assertEquals(bad("a1").tag, null);
  assertEquals(bad("a1 ").tag, "a1");
  bad("a1 FROB", /unknown command FROB/);
  bad("a1 UID NOOP", /unknown UID command NOOP/);
  bad("a1  NOOP", /expected a command name at position 3/);
});

Deno.test("LOGIN: atoms, quoted strings with escapes, literals", () => {
  assertEquals(args("a LOGIN fred secret"), { userid: "fred", password: "secret" });
  assertEquals(args('a LOGIN "fr\\"ed" "p\\\\w d"'), { userid: 'fr"ed', password: "p\\w d" });
  assertEquals(args("a LOGIN {4}\r\nfred {6+}\r\nsecret\r\n"), {
    userid: "fred",
    password: "secret",
  });
  assertEquals(args('a LOGIN "jos\u00e9" ""'), { userid: "jos\u00e9", password: "" });
  bad('a LOGIN "fred', /expected closing " at position 13/);
  bad('a LOGIN "a\\b" x', /backslash/);
  bad("a LOGIN fred", /expected SP/);
  bad("a LOGIN (fred) x", /expected a user name/);
  bad("a LOGIN fred {3}", /the literal's octets/);
  bad("a LOGIN fred {3} x", /CRLF after a literal/);
});

Deno.test("AUTHENTICATE with and without SASL-IR", () => {
  assertEquals(args("a AUTHENTICATE plain"), { mechanism: "PLAIN", initialResponse: null });
  assertEquals(args("a AUTHENTICATE PLAIN AGZyZWQAc2VjcmV0"), {
    mechanism: "PLAIN",
    initialResponse: "AGZyZWQAc2VjcmV0",
  });
  assertEquals(args("a AUTHENTICATE EXTERNAL ="), { mechanism: "EXTERNAL", initialResponse: "=" });
  bad("a AUTHENTICATE PLAIN a=b", /not base64/);
});

Deno.test("ENABLE, ID, COMPRESS, quota commands", () => {
  assertEquals(args("a ENABLE condstore UTF8=ACCEPT"), {
    capabilities: ["CONDSTORE", "UTF8=ACCEPT"],
  });
  bad("a ENABLE", /expected SP/);
  assertEquals(args("a ID NIL"), { parameters: null });
  assertEquals(args('a ID ("name" "Thunderbird" "version" NIL)'), {
    parameters: [{ name: "name", value: "Thunderbird" }, { name: "version", value: null }],
  });
  assertEquals(args("a ID ()"), { parameters: [] });
  bad('a ID ("name")', /expected SP/);
  bad(`a ID ("${"x".repeat(31)}" NIL)`, /longer than 30/);
  bad(`a ID ("x" "${"x".repeat(1025)}")`, /longer than 1024/);
  assertEquals(args("a COMPRESS deflate"), { mechanism: "DEFLATE" });
  assertEquals(args('a GETQUOTA ""'), { root: "" });
  assertEquals(args("a GETQUOTAROOT inbox"), { mailbox: "INBOX" });
  assertEquals(args("a SETQUOTA user (STORAGE 512 MESSAGE 1000)"), {
    root: "user",
    limits: [{ resource: "STORAGE", limit: 512 }, { resource: "MESSAGE", limit: 1000 }],
  });
});

Deno.test("mailbox commands: SELECT/EXAMINE, CREATE, DELETE, RENAME, (UN)SUBSCRIBE, STATUS", () => {
  assertEquals(args("a SELECT InBoX"), { mailbox: "INBOX", condstore: false, qresync: null });
  assertEquals(args('a EXAMINE "Sent Items" (CONDSTORE)'), {
    mailbox: "Sent Items",
    condstore: true,
    qresync: null,
  });
  assertEquals(args('a SELECT "&ZeVnLIqe-"'), {
    mailbox: "&ZeVnLIqe-",
    condstore: false,
    qresync: null,
  });
  assertEquals(args("a CREATE Archive/2024"), { mailbox: "Archive/2024", specialUse: [] });
  assertEquals(args("a CREATE MySent (USE (\\sent \\X-Custom))"), {
    mailbox: "MySent",
    specialUse: ["\\Sent", "\\X-Custom"],
  });
  bad("a CREATE x (USE (Sent))", /special-use attribute/);
  assertEquals(args("a DELETE {3}\r\nfoo\r\n"), { mailbox: "foo" });
  assertEquals(args("a RENAME a b"), { mailbox: "a", newName: "b" });
  assertEquals(args("a SUBSCRIBE x]y"), { mailbox: "x]y" });
  assertEquals(args("a UNSUBSCRIBE x"), { mailbox: "x" });
  assertEquals(
    args("a STATUS blurdybloop (UIDNEXT MESSAGES unseen HIGHESTMODSEQ SIZE DELETED MAILBOXID)"),
    {
      mailbox: "blurdybloop",
      items: ["UIDNEXT", "MESSAGES", "UNSEEN", "HIGHESTMODSEQ", "SIZE", "DELETED", "MAILBOXID"],
    },
  );
  bad("a STATUS x ()", /expected a status item/);
  bad("a STATUS x (FOO)", /unknown status item FOO/);
  bad("a SELECT x (FOO)", /unknown or repeated select parameter FOO/);
  bad("a SELECT x (CONDSTORE CONDSTORE)", /repeated/);
  bad("a SELECT a%b", /expected end of command/);
});

Deno.test("SELECT with QRESYNC parameters", () => {
  assertEquals(args("a SELECT INBOX (QRESYNC (67890007 9006011519404500))").qresync, {
    uidValidity: 67890007,
    modseq: 9006011519404500,
    knownUids: null,
    seqMatch: null,
  });
  const full = args(
    "a SELECT INBOX (CONDSTORE QRESYNC (67890007 9006011519 41,43:211,214:541 (1,3:5 2,4:9)))",
  ) as { condstore: boolean; qresync: unknown };
  assertEquals(full.condstore, true);
  assertEquals(full.qresync, {
    uidValidity: 67890007,
    modseq: 9006011519,
    knownUids: ranges(all(41), all(43, 211), all(214, 541)),
    seqMatch: { sequences: ranges(all(1), all(3, 5)), uids: ranges(all(2), all(4, 9)) },
  });
  assertEquals(args("a SELECT x (QRESYNC (1 2 (1 2)))").qresync.seqMatch, {
    sequences: ranges(all(1)),
    uids: ranges(all(2)),
  });
  bad("a SELECT x (QRESYNC (0 1))", /UIDVALIDITY/);
  bad("a SELECT x (QRESYNC (1 1 1:*))", /\* is not allowed/);
  bad("a SELECT x (QRESYNC (1 1 $))", /\$ is not allowed/);
  bad("a SELECT x (QRESYNC (1 99999999999999999999))", /too large/);
});

Deno.test("LIST, LIST-EXTENDED and LSUB", () => {
  assertEquals(args('a LIST "" *'), {
    selection: [],
    reference: "",
    patterns: ["*"],
    returnOptions: null,
    extended: false,
  });
  assertEquals(args("a LIST ~/Mail/ %]x"), {
    selection: [],
    reference: "~/Mail/",
    patterns: ["%]x"],
    returnOptions: null,
    extended: false,
  });
  assertEquals(
    args('a LIST (SUBSCRIBED RECURSIVEMATCH remote) "" ("%" {7}\r\nOther/*) RETURN (CHILDREN)\r\n'),
    {
      selection: ["SUBSCRIBED", "RECURSIVEMATCH", "REMOTE"],
      reference: "",
      patterns: ["%", "Other/*"],
      returnOptions: { subscribed: false, children: true, specialUse: false, status: null },
      extended: true,
    },
  );
  assertEquals(
    args('a LIST (SPECIAL-USE) "" * RETURN (SUBSCRIBED SPECIAL-USE STATUS (MESSAGES UNSEEN))'),
    {
      selection: ["SPECIAL-USE"],
      reference: "",
      patterns: ["*"],
      returnOptions: {
        subscribed: true,
        children: false,
        specialUse: true,
        status: ["MESSAGES", "UNSEEN"],
      },
      extended: true,
    },
  );
  assertEquals((args('a LIST () "" % RETURN ()') as { extended: boolean }).extended, true);
  bad('a LIST (RECURSIVEMATCH) "" *', /RECURSIVEMATCH needs another/);
  bad('a LIST (FOO) "" *', /unknown selection option FOO/);
  bad('a LIST "" * RETURN (FOO)', /unknown or repeated return option/);
  bad('a LIST "" * FOO', /expected RETURN/);
  bad('a LIST "" ()', /expected a mailbox pattern/);
  assertEquals(args('a LSUB "#news." "comp.mail.*"'), {
    reference: "#news.",
    pattern: "comp.mail.*",
  });
});

Deno.test("APPEND: flags, date-time, literal, literal+, binary literal8, UTF8, MULTIAPPEND", () => {
  assertEquals(args("a APPEND saved-messages (\\Seen) {5}\r\nHello\r\n"), {
    mailbox: "saved-messages",
    messages: [{
      flags: ["\\Seen"],
      internalDate: null,
      data: enc.encode("Hello"),
      binary: false,
      utf8: false,
    }],
  });
  const withDate = args('a APPEND x () "17-Jul-1996 02:44:25 -0700" {3+}\r\nabc\r\n') as {
    messages: { internalDate: unknown; flags: string[] }[];
  };
  assertEquals(withDate.messages[0].flags, []);
  assertEquals(withDate.messages[0].internalDate, {
    year: 1996,
    month: 7,
    day: 17,
    hour: 2,
    minute: 44,
    second: 25,
    zoneMinutes: -420,
    epochMs: Date.UTC(1996, 6, 17, 9, 44, 25),
  });
  const s = session('a APPEND x " 1-Jan-2020 00:00:00 +0000" {3+}\r\nabc\r\n');
  assertEquals(s.written, []);
  assertEquals(
    (s.results[0] as { args: { messages: { internalDate: { day: number } }[] } })
      .args.messages[0].internalDate.day,
    1,
  );

  const binary = new Uint8Array([...enc.encode("a APPEND x ~{3}\r\n"), 0, 1, 2, 13, 10]);
  const b = session(binary);
  assertEquals(b.written, ["+ Ready"]);
  assertEquals((b.results[0] as { args: unknown }).args, {
    mailbox: "x",
    messages: [{
      flags: [],
      internalDate: null,
      data: new Uint8Array([0, 1, 2]),
      binary: true,
      utf8: false,
    }],
  });
  const nul = session(new Uint8Array([...enc.encode("a APPEND x {3}\r\n"), 0, 1, 2, 13, 10]));
  assertMatch((nul.results[0] as ParseError).message, /NUL octet/);

  const utf8 = args("a APPEND x UTF8 (~{2+}\r\nhi)\r\n") as {
    messages: { utf8: boolean; binary: boolean }[];
  };
  assertEquals([utf8.messages[0].utf8, utf8.messages[0].binary], [true, true]);

  const multi = session(
    'a APPEND x (\\Seen) {2}\r\nm1 (\\Draft $Forwarded) "1-Feb-1994 21:52:25 +0100" {2}\r\nm2 {2+}\r\nm3\r\n',
  );
  assertEquals(multi.written, ["+ Ready", "+ Ready"]);
  const messages =
    (multi.results[0] as { args: { messages: { flags: string[]; data: Uint8Array }[] } })
      .args.messages;
  assertEquals(messages.map((m) => [m.flags, dec.decode(m.data)]), [
    [["\\Seen"], "m1"],
    [["\\Draft", "$Forwarded"], "m2"],
    [[], "m3"],
  ]);

  bad("a APPEND x", /expected SP/);
  bad("a APPEND x (\\Seen)", /expected SP/);
  bad("a APPEND x hello", /expected a flag list, date-time or literal/);
  bad('a APPEND x "17-Jul-1996 02:44:25" {1}', /expected SP/);
  bad('a APPEND x "31-Feb-1996 02:44:25 +0000" {1}', /no day 31 in Feb 1996/);
  bad('a APPEND x "17-Jux-1996 02:44:25 +0000" {1}', /unknown month "Jux"/);
  bad('a APPEND x "17-Jul-1996 25:44:25 +0000" {1}', /time out of range/);
  bad("a APPEND x (\\Recent) {1}", /\\Recent cannot be set/);
  bad("a APPEND x (\\*) {1}", /flag name after/);
  bad("a LOGIN ~{1}", /expected SP/);
});

Deno.test("REPLACE and UID REPLACE", () => {
  assertEquals(args("a REPLACE 3 Drafts (\\Draft) {1+}\r\nx\r\n"), {
    target: 3,
    mailbox: "Drafts",
    message: {
      flags: ["\\Draft"],
      internalDate: null,
      data: enc.encode("x"),
      binary: false,
      utf8: false,
    },
  });
  assertEquals(ok("a UID REPLACE 25 Drafts {1+}\r\nx\r\n").command, "UID REPLACE");
  bad("a REPLACE 0 x {1}", /a message number/);
});

Deno.test("sequence sets", () => {
  assertEquals(args("a COPY 1:*,5,7:9 Trash"), {
    sequence: ranges(all(1, "*"), all(5), all(7, 9)),
    mailbox: "Trash",
  });
  assertEquals(args("a UID MOVE $ Archive"), { sequence: { kind: "saved" }, mailbox: "Archive" });
  assertEquals(args("a UID EXPUNGE 3000:3002"), { sequence: ranges(all(3000, 3002)) });
  assertEquals(ok("a MOVE *:4 x").command, "MOVE");
  assertEquals(ok("a UID COPY 4 x").command, "UID COPY");
  bad("a COPY 0 x", /non-zero|message number/);
  bad("a COPY 01 x", /message number/);
  bad("a COPY 1, x", /message number/);
  bad("a COPY 1:: x", /message number/);
  bad("a COPY 4294967296 x", /too large/);
  bad("a COPY $,1 x", /expected SP/);
  const limited = parseCommandLine("a COPY 1,2,3,4 x", {
    ...DEFAULT_PARSER_LIMITS,
    maxSequenceRanges: 3,
  });
  assertMatch((limited as ParseError).message, /longer than 3 ranges/);
});

Deno.test("FETCH attributes, macros, sections, partials, modifiers", () => {
  const fetch = (line: string) => args(line) as { attributes: unknown[]; macro: string | null };
  assertEquals(fetch("a FETCH 1 fast"), {
    sequence: ranges(all(1)),
    attributes: [{ kind: "FLAGS" }, { kind: "INTERNALDATE" }, { kind: "RFC822.SIZE" }],
    macro: "FAST",
    changedSince: null,
    vanished: false,
  });
  assertEquals(fetch("a FETCH 1 ALL").attributes.length, 4);
  assertEquals(fetch("a FETCH 1 FULL").attributes.at(-1), { kind: "BODY" });
  assertEquals(
    fetch(
      "a FETCH 2:4 (ENVELOPE FLAGS INTERNALDATE RFC822 RFC822.HEADER RFC822.SIZE RFC822.TEXT BODY BODYSTRUCTURE UID MODSEQ EMAILID THREADID SAVEDATE)",
    ).attributes.map((a) => (a as { kind: string }).kind),
    [
      "ENVELOPE",
      "FLAGS",
      "INTERNALDATE",
      "RFC822",
      "RFC822.HEADER",
      "RFC822.SIZE",
      "RFC822.TEXT",
      "BODY",
      "BODYSTRUCTURE",
      "UID",
      "MODSEQ",
      "EMAILID",
      "THREADID",
      "SAVEDATE",
    ],
  );
  assertEquals(fetch("a FETCH 1 BODY.PEEK[HEADER.FIELDS (From To)]<0.100>").attributes, [{
    kind: "BODY[]",
    peek: true,
    section: { part: [], text: "HEADER.FIELDS", fields: ["From", "To"] },
    partial: { offset: 0, length: 100 },
  }]);
  assertEquals(
    fetch(
      'a FETCH 1 (BODY[] BODY[1.2.3] BODY[4.TEXT] BODY[2.MIME] BODY[HEADER] BODY[TEXT]<5.6> BODY[1.HEADER.FIELDS.NOT ("X-Spam" {4}\r\nDate)])\r\n',
    ).attributes.map((a) => (a as { section: unknown }).section),
    [
      { part: [], text: null, fields: [] },
      { part: [1, 2, 3], text: null, fields: [] },
      { part: [4], text: "TEXT", fields: [] },
      { part: [2], text: "MIME", fields: [] },
      { part: [], text: "HEADER", fields: [] },
      { part: [], text: "TEXT", fields: [] },
      { part: [1], text: "HEADER.FIELDS.NOT", fields: ["X-Spam", "Date"] },
    ],
  );
  assertEquals(
    fetch("a FETCH 1 (BINARY[1] BINARY.PEEK[]<0.10> BINARY.SIZE[2.1] PREVIEW PREVIEW (LAZY))")
      .attributes,
    [
      { kind: "BINARY[]", peek: false, part: [1], partial: null },
      { kind: "BINARY[]", peek: true, part: [], partial: { offset: 0, length: 10 } },
      { kind: "BINARY.SIZE", part: [2, 1] },
      { kind: "PREVIEW", lazy: false },
      { kind: "PREVIEW", lazy: true },
    ],
  );
  assertEquals(args("a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)"), {
    sequence: ranges(all(1, "*")),
    attributes: [{ kind: "FLAGS" }],
    macro: null,
    changedSince: 12345,
    vanished: true,
  });
  bad("a FETCH 1:* FLAGS (VANISHED CHANGEDSINCE 1)", /VANISHED is allowed in UID FETCH only/);
  bad("a UID FETCH 1:* FLAGS (VANISHED)", /VANISHED requires CHANGEDSINCE/);
  bad("a FETCH 1 FLAGS (CHANGEDSINCE 0)", /mod-sequence/);
  bad("a FETCH 1 FLAGS (FOO)", /unknown or repeated fetch modifier FOO/);
  bad("a FETCH 1 (ALL)", /macro/);
  bad("a FETCH 1 (FLAGS ALL)", /macro/);
  bad("a FETCH 1 BODY[MIME]", /unknown section text MIME/);
  bad("a FETCH 1 BODY[0]", /part number/);
  bad("a FETCH 1 BODY[1.FOO]", /unknown section text FOO/);
  bad("a FETCH 1 BODY[HEADER.FIELDS]", /expected SP/);
  bad("a FETCH 1 BODY[HEADER.FIELDS ()]", /header field name/);
  bad("a FETCH 1 BODY[TEXT", /expected "]"/);
  bad("a FETCH 1 BODY[]<0.0>", /partial length/);
  bad("a FETCH 1 BODY[]<5>", /expected "."/);
  bad("a FETCH 1 BINARY[HEADER]", /part numbers only/);
  bad("a FETCH 1 RFC822[]", /RFC822\[ is not one/);
  bad("a FETCH 1 (FLAGS", /expected "\)" or SP/);
  bad("a FETCH 1 ()", /fetch attribute/);
  bad("a FETCH 1 FROB", /unknown fetch attribute FROB/);
  bad("a FETCH 1 PREVIEW (FOO)", /expected LAZY/);
  const many = parseCommandLine("a FETCH 1 (" + Array(101).fill("UID").join(" ") + ")");
  assertMatch((many as ParseError).message, /more than 100 fetch attributes/);
});

Deno.test("STORE: FLAGS, +FLAGS.SILENT, -FLAGS, unparenthesised, UNCHANGEDSINCE", () => {
  assertEquals(args("a STORE 1:* +FLAGS.SILENT (\\Deleted $Junk)"), {
    sequence: ranges(all(1, "*")),
    action: "add",
    silent: true,
    flags: ["\\Deleted", "$Junk"],
    unchangedSince: null,
  });
  assertEquals(args("a UID STORE 5 (UNCHANGEDSINCE 320162338) -flags \\seen \\FLAGGED"), {
    sequence: ranges(all(5)),
    action: "remove",
    silent: false,
    flags: ["\\Seen", "\\Flagged"],
    unchangedSince: 320162338,
  });
  assertEquals((args("a STORE 1 FLAGS ()") as { flags: string[] }).flags, []);
  assertEquals(
    (args("a STORE 1 FLAGS (\\Answered \\Draft \\X-Ext kw)") as { flags: string[] })
      .flags,
    ["\\Answered", "\\Draft", "\\X-Ext", "kw"],
  );
  bad("a STORE 1 +FLAGS", /expected SP/);
  bad("a STORE 1 LABELS (x)", /unknown store item LABELS/);
  bad("a STORE 1 (FOO 1) FLAGS (x)", /UNCHANGEDSINCE/);
  bad("a STORE 1 FLAGS (a b", /expected "\)"/);
  bad('a STORE 1 FLAGS ("x")', /expected a flag/);
  bad("a STORE 1 FLAGS (a]b)", /expected "\)"/);
});

function search(line: string): { returnOptions: unknown; charset: unknown; criteria: SearchKey } {
  return args(line) as { returnOptions: unknown; charset: unknown; criteria: SearchKey };
}

Deno.test("SEARCH: the example from the brief, RETURN and CHARSET", () => {
  assertEquals(
    search(
      'a UID SEARCH RETURN (MIN COUNT) CHARSET UTF-8 OR (FROM "a" SINCE 1-Jan-2020) NOT SEEN 1:*',
    ),
    {
      returnOptions: ["MIN", "COUNT"],
      charset: "UTF-8",
      criteria: {
        kind: "AND",
        keys: [
          {
            kind: "OR",
            left: {
              kind: "AND",
              keys: [
                { kind: "FROM", value: "a" },
                { kind: "SINCE", date: { year: 2020, month: 1, day: 1 } },
              ],
            },
            right: { kind: "NOT", key: { kind: "SEEN" } },
          },
          { kind: "SEQUENCE", set: ranges(all(1, "*")) },
        ],
      },
    },
  );
  assertEquals(search("a SEARCH RETURN () ALL").returnOptions, []);
  assertEquals(search("a SEARCH RETURN (SAVE MAX ALL) ALL").returnOptions, ["SAVE", "MAX", "ALL"]);
  assertEquals(search("a SEARCH ALL").returnOptions, null);
  assertEquals(search('a SEARCH CHARSET "us-ascii" ALL').charset, "US-ASCII");
  const latin = session(
    new Uint8Array([...enc.encode("a SEARCH CHARSET ISO-8859-1 TEXT {1}\r\n"), 0xe9, 13, 10]),
  );
  assertEquals((latin.results[0] as { args: { criteria: unknown } }).args.criteria, {
    kind: "TEXT",
    value: "\u00e9",
  });
  const badUtf8 = session(new Uint8Array([...enc.encode("a SEARCH TEXT {1}\r\n"), 0xe9, 13, 10]));
  assertMatch((badUtf8.results[0] as ParseError).message, /not valid utf-8/);
  const charset = bad("a SEARCH CHARSET X-NOPE ALL", /unsupported charset X-NOPE/);
  assertEquals([charset.code, charset.tag], ["BADCHARSET", "a"]);
  bad("a SEARCH RETURN (FOO) ALL", /unknown RETURN option FOO/);
  bad("a SEARCH RETURN ALL", /expected "\(" opening a list of RETURN options/);
  bad("a SEARCH", /expected SP/);
  bad("a SEARCH ALL ", /expected a search key/);
  bad("a SEARCH CHARSET", /expected SP/);
});

Deno.test("SEARCH: every key", () => {
  const one = (key: string) => search(`a SEARCH ${key}`).criteria;
  for (
    const flag of [
      "ALL",
      "ANSWERED",
      "DELETED",
      "DRAFT",
      "FLAGGED",
      "NEW",
      "OLD",
      "RECENT",
      "SEEN",
      "UNANSWERED",
      "UNDELETED",
      "UNDRAFT",
      "UNFLAGGED",
      "UNSEEN",
      "SAVEDATESUPPORTED",
    ]
  ) assertEquals(one(flag.toLowerCase()), { kind: flag });
  for (const text of ["BCC", "BODY", "CC", "FROM", "SUBJECT", "TEXT", "TO"]) {
    assertEquals(one(`${text} "hello world"`), { kind: text, value: "hello world" });
  }
  for (
    const key of [
      "BEFORE",
      "ON",
      "SINCE",
      "SENTBEFORE",
      "SENTON",
      "SENTSINCE",
      "SAVEDBEFORE",
      "SAVEDON",
      "SAVEDSINCE",
    ]
  ) assertEquals(one(`${key} 1-Feb-1994`), { kind: key, date: { year: 1994, month: 2, day: 1 } });
  assertEquals(one('ON "29-feb-2024"'), { kind: "ON", date: { year: 2024, month: 2, day: 29 } });
  assertEquals(one("HEADER X-Mailer {3}\r\nfoo\r\n"), {
    kind: "HEADER",
    field: "X-Mailer",
    value: "foo",
  });
  assertEquals(one('HEADER Message-ID ""'), { kind: "HEADER", field: "Message-ID", value: "" });
  assertEquals(one("KEYWORD $Junk"), { kind: "KEYWORD", flag: "$Junk" });
  assertEquals(one("UNKEYWORD foo"), { kind: "UNKEYWORD", flag: "foo" });
  assertEquals(one("LARGER 1000"), { kind: "LARGER", size: 1000 });
  assertEquals(one("SMALLER 0"), { kind: "SMALLER", size: 0 });
  assertEquals(one("OLDER 3600"), { kind: "OLDER", seconds: 3600 });
  assertEquals(one("YOUNGER 60"), { kind: "YOUNGER", seconds: 60 });
  assertEquals(one("UID 1:100,4"), { kind: "UID", set: ranges(all(1, 100), all(4)) });
  assertEquals(one("UID $"), { kind: "UID", set: { kind: "saved" } });
  assertEquals(one("$"), { kind: "SEQUENCE", set: { kind: "saved" } });
  assertEquals(one("MODSEQ 620162338"), { kind: "MODSEQ", entry: null, modseq: 620162338 });
  assertEquals(one('MODSEQ "/flags/\\\\draft" all 620162338'), {
    kind: "MODSEQ",
    entry: { flag: "\\draft", type: "all" },
    modseq: 620162338,
  });
  assertEquals(one("EMAILID M6d99ac3275bb4e"), { kind: "EMAILID", id: "M6d99ac3275bb4e" });
  assertEquals(one("THREADID T64b478a75b7ea9"), { kind: "THREADID", id: "T64b478a75b7ea9" });
  assertEquals(one("NOT (SEEN)"), { kind: "NOT", key: { kind: "SEEN" } });
  assertEquals(one("OR OR SEEN DRAFT (DELETED FLAGGED)"), {
    kind: "OR",
    left: { kind: "OR", left: { kind: "SEEN" }, right: { kind: "DRAFT" } },
    right: { kind: "AND", keys: [{ kind: "DELETED" }, { kind: "FLAGGED" }] },
  });
});

Deno.test("SEARCH: errors and limits", () => {
  bad("a SEARCH UID 1:100,$", /expected end of command|message number/);
  bad("a SEARCH FOO", /unknown search key FOO/);
  bad("a SEARCH FROM", /expected SP/);
  bad("a SEARCH SINCE 2020-01-01", /expected "-"|month/);
  bad("a SEARCH SINCE 1-Feb-94", /four-digit year/);
  bad("a SEARCH SINCE 0-Feb-1994", /no day 0/);
  bad("a SEARCH SINCE 32-Jan-1994", /no day 32/);
  bad("a SEARCH LARGER x", /expected a size/);
  bad("a SEARCH OLDER 0", /seconds/);
  bad("a SEARCH KEYWORD \\Seen", /takes a keyword/);
  bad("a SEARCH OR SEEN", /expected SP/);
  bad("a SEARCH ()", /expected a search key/);
  bad("a SEARCH (SEEN", /expected "\)" or SP/);
  bad("a SEARCH SEEN)", /expected SP at position 13, found "\)"/);
  bad('a SEARCH MODSEQ "/flags/x" other 1', /entry type/);
  bad('a SEARCH MODSEQ "/x" all 1', /entry name/);
  bad("a SEARCH EMAILID a.b", /invalid object id/);
  assert(
    !(parseCommandLine("a SEARCH " + "(".repeat(16) + "ALL" + ")".repeat(16)) instanceof
      ParseError),
  );
  bad("a SEARCH " + "(".repeat(17) + "ALL" + ")".repeat(17), /nested deeper than 16/);
  bad("a SEARCH " + "NOT ".repeat(1000) + "ALL", /more than 1000 search keys/);
  bad("a SEARCH " + "OR ".repeat(5000) + "ALL", /more than 1000 search keys/);
  const limited = { ...DEFAULT_PARSER_LIMITS, maxNestingDepth: 2, maxSearchKeys: 3 };
  assertMatch((parseCommandLine("a SEARCH (((ALL)))", limited) as ParseError).message, /deeper/);
  assertMatch((parseCommandLine("a SEARCH ALL ALL ALL ALL", limited) as ParseError).message, /3/);
});

Deno.test("SORT and THREAD", () => {
  assertEquals(args("a SORT (REVERSE DATE subject) UTF-8 ALL"), {
    returnOptions: null,
    criteria: [{ key: "DATE", reverse: true }, { key: "SUBJECT", reverse: false }],
    charset: "UTF-8",
    search: { kind: "ALL" },
  });
  assertEquals(ok("a UID SORT RETURN (COUNT) (DISPLAYFROM) US-ASCII SEEN UNDELETED").args, {
    returnOptions: ["COUNT"],
    criteria: [{ key: "DISPLAYFROM", reverse: false }],
    charset: "US-ASCII",
    search: { kind: "AND", keys: [{ kind: "SEEN" }, { kind: "UNDELETED" }] },
  });
  bad("a SORT (FOO) UTF-8 ALL", /unknown sort key FOO/);
  bad("a SORT () UTF-8 ALL", /sort key/);
  assertEquals(bad("a SORT (DATE) ALL", /unsupported charset ALL/).code, "BADCHARSET");
  assertEquals(args("a THREAD references UTF-8 SINCE 5-MAR-2000"), {
    algorithm: "REFERENCES",
    charset: "UTF-8",
    search: { kind: "SINCE", date: { year: 2000, month: 3, day: 5 } },
  });
  assertEquals(ok("a UID THREAD ORDEREDSUBJECT UTF-8 ALL").command, "UID THREAD");
  bad("a THREAD REFERENCES", /expected SP/);
});

Deno.test("errors name the position and carry the tag", () => {
  const e = bad("t7 FETCH 1:3 (FLAGS BODY[HEADER.FIELDS (Subject)] BOGUS)");
  assertEquals(e.tag, "t7");
  assertMatch(e.message, /^FETCH: unknown fetch attribute BOGUS/);
  const p = bad("t8 SELECT INBOX x");
  assertEquals(p.position, 16);
  assertEquals(
    p.message,
    'SELECT: expected "(" opening a list of select parameters at position 16, found "x"',
  );
  // A literal's octets count in positions: 2nd line starts after "a LOGIN {3}\r\nabc".
  const l = session("a LOGIN {3}\r\nabc\r\n").results[0] as ParseError;
  assertMatch(l.message, /expected SP at position 16, found end of command/);
  const c = bad('a LOGIN "x\u0001y\r"', /TEXT-CHAR/);
  assertEquals(c.tag, "a");
  bad("a LOGIN x\u0000 y", /expected SP at position 9, found octet 0x00/);
});

Deno.test("assembler: literals across lines, continuations only for synchronizing ones", () => {
  const s = session("a LOGIN {4}\r\nfred {6}\r\nsecret\r\nb LOGIN {4+}\r\nfred {6+}\r\nsecret\r\n");
  assertEquals(s.written, ["+ Ready", "+ Ready"]);
  assertEquals(s.results.length, 2);
  // Literal octets may hold CRLF and look like commands; they never end the command.
  const tricky = session("a APPEND x {16}\r\nb NOOP\r\nc NOOP\r\n\r\nd NOOP\r\n");
  assertEquals(
    tricky.results.map((r) => (r as ImapCommand).command),
    ["APPEND", "NOOP"],
  );
  // A quoted string ending in "}" is no literal.
  const q = session('a LOGIN x "{5}"\r\n');
  assertEquals((q.results[0] as { args: unknown }).args, { userid: "x", password: "{5}" });
  // An empty literal.
  assertEquals((session('a LOGIN {0}\r\n ""\r\n').results[0] as { args: unknown }).args, {
    userid: "",
    password: "",
  });
});

Deno.test("assembler: a too-large synchronizing literal is refused without a continuation", () => {
  const s = session("a APPEND x {1001}\r\nb NOOP\r\n");
  assertEquals(s.written, ["a NO [TOOBIG] Literal too large (at most 1000 octets)"]);
  assertEquals(s.results.map((r) => (r as ImapCommand).tag), ["b"]);
});

Deno.test("assembler: a too-large non-synchronizing literal is skipped, then refused", () => {
  const body = "x".repeat(1001);
  const s = session(`a APPEND x {1001+}\r\n${body} {3+}\r\nabc\r\nb NOOP\r\n`);
  assertEquals(s.written, ["a NO [TOOBIG] Literal too large (at most 1000 octets)"]);
  assertEquals(s.skipped, 1004);
  assertEquals(s.results.map((r) => (r as ImapCommand).tag), ["b"]);
});

Deno.test("assembler: LITERAL- allows {n+} up to 4096 octets only", () => {
  const big = { maxLiteralSize: 10_000, maxCommandSize: 20_000, literalMinus: true };
  const fits = session(`a APPEND x {4096+}\r\n${"y".repeat(4096)}\r\n`, big);
  assertEquals([fits.written, fits.results.length], [[], 1]);
  const over = session(`a APPEND x {4097+}\r\n${"y".repeat(4097)}\r\nb NOOP\r\n`, big);
  assertEquals(over.written, [
    "a BAD [TOOBIG] Non-synchronizing literal over 4096 octets (LITERAL-); use {n}",
  ]);
  assertEquals(over.skipped, 4097);
  assertEquals(over.results.length, 1);
  const sync = session(`a APPEND x {4097}\r\n${"y".repeat(4097)}\r\n`, big);
  assertEquals([sync.written, sync.results.length], [["+ Ready"], 1]);
  const plus = session(`a APPEND x {4097+}\r\n${"y".repeat(4097)}\r\n`, {
    ...big,
    literalMinus: false,
  });
  assertEquals([plus.written, plus.results.length], [[], 1]);
});

Deno.test("assembler: command size and literal count limits", () => {
  const long = session(`a LOGIN x ${"y".repeat(4000)}\r\nb NOOP\r\n`);
  assertEquals(long.written, ["a BAD Command too long"]);
  assertEquals(long.results.length, 1);
  const lits = session(
    `a APPEND x {900+}\r\n${"z".repeat(900)} {900}\r\n`.repeat(1) +
      `${"z".repeat(900)} {900+}\r\n${"z".repeat(900)} {900+}\r\n${"z".repeat(900)} {900+}\r\n` +
      `${"z".repeat(900)}\r\nb NOOP\r\n`,
  );
  assertEquals(lits.written, [
    "+ Ready",
    "a BAD [TOOBIG] Command too long (at most 4000 octets)",
  ]);
  assertEquals(lits.skipped, 900);
  assertEquals(lits.results.map((r) => (r as ImapCommand).tag), ["b"]);
  const count = session("a LOGIN {1+}\r\na {1+}\r\nb\r\n", { maxLiterals: 1 });
  assertEquals(count.written, ["a BAD Too many literals in one command (at most 1)"]);
  assertEquals(count.skipped, 1);
  const syncCount = session("a LOGIN {1}\r\na {1}\r\nb NOOP\r\n", { maxLiterals: 1 });
  assertEquals(syncCount.written, [
    "+ Ready",
    "a BAD Too many literals in one command (at most 1)",
  ]);
  assertEquals(syncCount.results.map((r) => (r as ImapCommand).tag), ["b"]);
});

Deno.test("assembler: untaggable input, unskippable sizes, state misuse", () => {
  const untagged = session("{1001}\r\n");
  assertEquals(untagged.written, ["* NO [TOOBIG] Literal too large (at most 1000 octets)"]);
  const assembler = new CommandAssembler(OPTIONS);
  const step = assembler.pushLine(enc.encode("a X {99999999999999999999999+}"));
  assertEquals(step.kind, "error");
  assert(step.kind === "error" && step.error.fatal);
  assertEquals(assembler.inCommand, false);
  assertEquals(assembler.pushLine(enc.encode("a LOGIN {1}")).kind, "literal");
  assertEquals(assembler.inCommand, true);
  let threw = false;
  try {
    assembler.pushLine(enc.encode("x"));
  } catch (error) {
    threw = error instanceof RangeError;
  }
  assert(threw, "pushLine while a literal is due is a session bug");
  threw = false;
  try {
    assembler.pushLiteral(new Uint8Array(2));
  } catch (error) {
    threw = error instanceof RangeError;
  }
  assert(threw, "a literal of the wrong size is a session bug");
  assembler.reset();
  assertEquals(assembler.pushLine(enc.encode("a NOOP")).kind, "command");
});

Deno.test("parser: inconsistent assembled input is a ParseError, not a crash", () => {
  const line = (s: string) => enc.encode(s);
  const r1 = parseCommand({ lines: [line("a LOGIN {3}"), line(" x")], literals: [] });
  assertMatch((r1 as ParseError).message, /the literal's octets/);
  const r2 = parseCommand({
    lines: [line("a LOGIN {3}"), line(" x")],
    literals: [{ data: new Uint8Array(2), binary: false }],
  });
  assertMatch((r2 as ParseError).message, /2 octets where 3 were announced/);
  const r3 = parseCommand({ lines: [], literals: [] });
  assert(r3 instanceof ParseError);
});
