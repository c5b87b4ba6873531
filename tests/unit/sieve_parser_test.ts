/**
 * The Sieve parser: RFC 5228 and extension RFC examples parse to the expected trees (names and
 * tags lower-cased, escapes undone, multi-line strings unstuffed, quantifiers applied), and each
 * class of syntax error is a SieveError at the right line and column.
 */
import { assert, assertEquals, assertThrows } from "../helpers/assert.ts";
import { type Argument, type Command, SieveError, type Test } from "../../src/sieve/ast.ts";
import { type ParseLimits, parseSieve } from "../../src/sieve/parser.ts";

const LIMITS: ParseLimits = { maxSize: 1 << 20, maxNesting: 32 };

/** A compact rendering of a tree, positions left out, for readable expectations. */
function show(node: Command | Test): unknown {
  const args = node.arguments.map((a: Argument) =>
    a.kind === "tag"
      ? ":" + a.name
      : a.kind === "stringList"
      ? a.values
      : a.kind === "number"
      ? a.value
      : JSON.stringify(a.value)
  );
  const out: Record<string, unknown> = { [node.name]: args };
  if (node.tests.length > 0) out.tests = node.tests.map(show);
  if ("block" in node && node.block !== null) out.block = node.block.map(show);
  return out;
}

const parse = (source: string) => parseSieve(source, LIMITS).commands.map(show);

function syntaxError(source: string, limits = LIMITS): SieveError {
  return assertThrows(() => parseSieve(source, limits), SieveError);
}

Deno.test("RFC 5228 9 example: the tree", () => {
  const script = `#
# Example Sieve Filter
# Declare any optional features or extension used by the script
#
require ["fileinto"];

#
# Handle messages from known mailing lists
# Move messages from IETF filter discussion list to filter mailbox
#
if header :is "Sender" "owner-ietf-mtg@ietf.org"
        {
        fileinto "filter";  # move to "filter" mailbox
        }
#
# Keep all messages to or from people in my company
#
elsif address :DOMAIN :is ["From", "To"] "example.com"
        {
        keep;               # keep in "In" mailbox
        }

#
# Try and catch unsolicited email.  If a message is not to me,
# or it contains a subject known to be spam, file it away.
#
elsif anyof (NOT address :all :contains
               ["To", "Cc", "Bcc"] "me@example.com",
             header :matches "subject"
               ["*make*money*fast*", "*university*dipl*mas*"])
        {
        fileinto "spam";   # move to "spam" mailbox
        }
else
        {
        # Move all other (non-company) mail to "personal"
        # mailbox.
        fileinto "personal";
        }
`;
  assertEquals(parse(script), [
    { require: [["fileinto"]] },
    {
      if: [],
      tests: [{ header: [":is", '"Sender"', '"owner-ietf-mtg@ietf.org"'] }],
      block: [{ fileinto: ['"filter"'] }],
    },
    {
      elsif: [],
      tests: [{ address: [":domain", ":is", ["From", "To"], '"example.com"'] }],
      block: [{ keep: [] }],
    },
    {
      elsif: [],
      tests: [{
        anyof: [],
        tests: [
          {
            not: [],
            tests: [{ address: [":all", ":contains", ["To", "Cc", "Bcc"], '"me@example.com"'] }],
          },
          {
            header: [":matches", '"subject"', ["*make*money*fast*", "*university*dipl*mas*"]],
          },
        ],
      }],
      block: [{ fileinto: ['"spam"'] }],
    },
    { else: [], block: [{ fileinto: ['"personal"'] }] },
  ]);
});

Deno.test("RFC 5228 examples: size, allof, exists, redirect, discard", () => {
  assertEquals(
    parse(`if allof (header :contains "From" "Coyote", header :contains "To" "Road") {
   discard; }`),
    [{
      if: [],
      tests: [{
        allof: [],
        tests: [{ header: [":contains", '"From"', '"Coyote"'] }, {
          header: [":contains", '"To"', '"Road"'],
        }],
      }],
      block: [{ discard: [] }],
    }],
  );
  assertEquals(
    parse(`if not exists ["From","Date"] { discard; }
if size :over 1M { redirect "bart@example.com"; }`),
    [
      {
        if: [],
        tests: [{ not: [], tests: [{ exists: [["From", "Date"]] }] }],
        block: [{ discard: [] }],
      },
      {
        if: [],
        tests: [{ size: [":over", 1048576] }],
        block: [{ redirect: ['"bart@example.com"'] }],
      },
    ],
  );
});

Deno.test("positions are 1-based lines and characters", () => {
  const script = parseSieve('keep;\r\n  if true {\n\tstop;\n}\n# é\n/* x */ discard "é" ;', LIMITS);
  assertEquals(script.commands[0].position, { line: 1, column: 1 });
  assertEquals(script.commands[1].position, { line: 2, column: 3 });
  assertEquals(script.commands[1].tests[0].position, { line: 2, column: 6 });
  assertEquals(script.commands[1].block![0].position, { line: 3, column: 2 });
  assertEquals(script.commands[2].position, { line: 6, column: 9 });
  assertEquals(script.commands[2].arguments[0].position, { line: 6, column: 17 });
});

Deno.test('quoted strings: only \\" and \\\\ escape; other backslashes drop; line ends become CRLF', () => {
  const [cmd] = parseSieve(
    'x "a\\"b" "c\\\\d" "\\a\\b\\c" "two\nlines\r\nhere" "" "😀";',
    LIMITS,
  ).commands;
  assertEquals(
    cmd.arguments.map((a) => a.kind === "string" ? a.value : null),
    ['a"b', "c\\d", "abc", "two\r\nlines\r\nhere", "", "😀"],
  );
});

Deno.test("multi-line strings: dot-stuffing, hash comment after text:, LF or CRLF", () => {
  const source =
    "vacation text: # a comment\r\nLine 1\r\n.Line 2\r\n..Line 3\r\n\r\n..\r\n.\r\n;\n" +
    "reject text:\nsingle\n.\n;\n" + "x TEXT:  \t\n.\n;";
  const [vacation, reject, empty] = parseSieve(source, LIMITS).commands;
  assertEquals(vacation.arguments[0], {
    kind: "string",
    value: "Line 1\r\n.Line 2\r\n.Line 3\r\n\r\n.\r\n",
    position: { line: 1, column: 10 },
  });
  assertEquals(reject.arguments[0].kind === "string" && reject.arguments[0].value, "single\r\n");
  assertEquals(reject.position, { line: 9, column: 1 });
  assertEquals(empty.arguments[0].kind === "string" && empty.arguments[0].value, "");
  assertEquals(empty.position, { line: 13, column: 1 });
});

Deno.test("numbers: K, M, G in either case", () => {
  const [cmd] = parseSieve("x 0 17 1k 2K 3m 4M 1g 2G 9007199254740991;", LIMITS).commands;
  assertEquals(
    cmd.arguments.map((a) => a.kind === "number" ? a.value : null),
    [0, 17, 1024, 2048, 3 << 20, 4 << 20, 1 << 30, 2 * 2 ** 30, 9007199254740991],
  );
});

Deno.test("identifiers and tags are lower-cased; strings keep their case", () => {
  assertEquals(parse('FileInto :COPY :Flags ["\\\\Seen"] "INBOX.Work";'), [
    { fileinto: [":copy", ":flags", ["\\Seen"], '"INBOX.Work"'] },
  ]);
});

Deno.test("extension RFC examples parse", () => {
  // RFC 5229 (variables)
  assertEquals(
    parse(`require "variables";
set :lower :upperfirst "b" "${"${a}"}";
if string :matches " ${"${state}"} " "* pending *" { set "state" "done"; }`).slice(1),
    [
      { set: [":lower", ":upperfirst", '"b"', '"${a}"'] },
      {
        if: [],
        tests: [{ string: [":matches", '" ${state} "', '"* pending *"'] }],
        block: [{ set: ['"state"', '"done"'] }],
      },
    ],
  );
  // RFC 5230 (vacation)
  assertEquals(
    parse(`vacation :days 7 :subject "Out of office" :addresses ["a@b", "c@d"] :mime
  :handle "h" "I'm away";`),
    [{
      vacation: [
        ":days",
        7,
        ":subject",
        '"Out of office"',
        ":addresses",
        ["a@b", "c@d"],
        ":mime",
        ":handle",
        '"h"',
        `"I'm away"`,
      ],
    }],
  );
  // RFC 5260 (date, index)
  assertEquals(
    parse(`if date :value "ge" :originalzone "date" "hour" "09" { stop; }
if header :index 2 :last :contains "Received" "x" { stop; }`),
    [
      {
        if: [],
        tests: [{ date: [":value", '"ge"', ":originalzone", '"date"', '"hour"', '"09"'] }],
        block: [{ stop: [] }],
      },
      {
        if: [],
        tests: [{ header: [":index", 2, ":last", ":contains", '"Received"', '"x"'] }],
        block: [{ stop: [] }],
      },
    ],
  );
  // RFC 5703 (foreverypart), RFC 5435 (enotify)
  assertEquals(
    parse(
      `foreverypart :name "outer" { if header :mime :anychild :type "Content-Type" "text" { break :name "outer"; } }
notify :importance "1" :options ["a"] :message "m" "mailto:alm@example.com";`,
    ),
    [
      {
        foreverypart: [":name", '"outer"'],
        block: [{
          if: [],
          tests: [{ header: [":mime", ":anychild", ":type", '"Content-Type"', '"text"'] }],
          block: [{ break: [":name", '"outer"'] }],
        }],
      },
      {
        notify: [
          ":importance",
          '"1"',
          ":options",
          ["a"],
          ":message",
          '"m"',
          '"mailto:alm@example.com"',
        ],
      },
    ],
  );
});

Deno.test("comments: hash to end of line, bracket comments across lines, not inside strings", () => {
  assertEquals(
    parse('keep; # stop;\n/* discard;\n * more */ stop; "#" ;'.replace('"#" ;', 'x "#/*";')),
    [{ keep: [] }, { stop: [] }, { x: ['"#/*"'] }],
  );
  assertEquals(parse("keep;# at the end"), [{ keep: [] }]);
  assertEquals(parse(""), []);
  assertEquals(parse("  \n\n# only a comment\n"), []);
});

Deno.test("syntax errors carry their line and column", () => {
  const cases: [string, number, number, RegExp][] = [
    ["keep", 1, 5, /expected ';' or '\{'/],
    ["keep;\nstop", 2, 5, /expected ';' or '\{'/],
    ["if true {\n keep;\n", 3, 1, /missing '\}' for the block opened at line 1, column 9/],
    ["keep;\n}", 2, 1, /'\}' without a block/],
    ['fileinto "abc', 1, 10, /unterminated quoted string/],
    ['x ["a" "b"];', 1, 8, /expected ',' or '\]'/],
    ["x [];", 1, 4, /expected a string in the string list/],
    ['x ["a",];', 1, 8, /expected a string/],
    ["x [1];", 1, 4, /expected a string/],
    ["x 99999999999999999999;", 1, 3, /too large/],
    ["x 9999999999999G;", 1, 3, /too large/],
    ["x 12abc;", 1, 5, /followed by a space/],
    ["keep;\n  /* never closed", 2, 3, /unterminated \/\* comment/],
    ["x :;", 1, 4, /tag name/],
    ["x :1;", 1, 4, /tag name/],
    ["if allof (true; false) { }", 1, 15, /expected ',' or '\)'/],
    ["if allof (true, ) { }", 1, 17, /expected a test/],
    ["if anyof ( { }", 1, 12, /expected a test/],
    ["if ( true { }", 1, 11, /expected ',' or '\)'/],
    ["x text:\nabc\n", 2, 1, /unterminated multi-line/],
    ["x text: abc\n.\n;", 1, 9, /line end or a # comment/],
    ["keep;\rstop;", 1, 6, /bare CR/],
    ["keep; @", 1, 7, /unexpected '@'/],
    ["keep; \x00", 1, 7, /U\+0000/],
    ["keep / 2;", 1, 6, /unexpected '\/'/],
    ["keep; é;", 1, 7, /unexpected 'é'/],
    ['😀 x "é" ;', 1, 1, /unexpected '😀'/],
    ['x "é" @', 1, 7, /unexpected '@'/],
    ["123;", 1, 1, /expected a command/],
    ['"a";', 1, 1, /expected a command/],
    [":tag;", 1, 1, /expected a command/],
  ];
  for (const [source, line, column, message] of cases) {
    const error = syntaxError(source);
    assertEquals(
      [error.position, message.test(error.message)],
      [{ line, column }, true],
      `${JSON.stringify(source)}: ${error.message}`,
    );
    assert(error.message.startsWith(`line ${line}, column ${column}: `));
  }
});

Deno.test("limits: size, nesting of blocks and of tests, tokens", () => {
  let error = syntaxError("keep;".repeat(10), { ...LIMITS, maxSize: 49 });
  assertEquals(error.position, { line: 1, column: 1 });
  assert(/larger than 49 bytes/.test(error.message));
  // bytes, not characters
  syntaxError('x "' + "é".repeat(30) + '";', { ...LIMITS, maxSize: 60 });
  parseSieve('x "' + "é".repeat(27) + '";', { ...LIMITS, maxSize: 60 });

  const nested = (n: number) => "if true {".repeat(n) + "keep;" + "}".repeat(n);
  parseSieve(nested(8), { ...LIMITS, maxNesting: 8 });
  error = syntaxError(nested(9), { ...LIMITS, maxNesting: 8 });
  assert(/nested deeper than 8/.test(error.message), error.message);

  parseSieve("if " + "not ".repeat(7) + "true { }", { ...LIMITS, maxNesting: 8 });
  error = syntaxError("if " + "not ".repeat(8) + "true { }", { ...LIMITS, maxNesting: 8 });
  assertEquals(error.position, { line: 1, column: 36 });
  parseSieve("if " + "anyof(".repeat(7) + "true" + ")".repeat(7) + " { }", {
    ...LIMITS,
    maxNesting: 8,
  });
  syntaxError("if " + "anyof(".repeat(8) + "true" + ")".repeat(8) + " { }", {
    ...LIMITS,
    maxNesting: 8,
  });

  parseSieve("keep; stop;", { ...LIMITS, maxTokens: 4 });
  error = syntaxError("keep; stop; discard;", { ...LIMITS, maxTokens: 4 });
  assertEquals(error.position, { line: 1, column: 13 });
  assert(/more than 4 tokens/.test(error.message));
});
