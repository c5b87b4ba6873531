/**
 * Sieve validation: scripts from RFC 5228 and the extension RFCs compile, and each rule refuses
 * a script with a message naming the problem at its line and column; bindArguments reads what
 * the interpreter needs; the compiled cache is an LRU by source.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { CompiledCache, compileSieve, MAX_ERRORS } from "../../src/sieve/compile.ts";
import { bindArguments, signatureOf, SUPPORTED_EXTENSIONS } from "../../src/sieve/extensions.ts";

const OPTIONS = { maxSize: 1 << 20, maxNesting: 32 };

function compiles(source: string): Set<string> {
  const result = compileSieve(source, OPTIONS);
  assert(
    result.ok,
    `expected to compile:\n${source}\n` +
      (result.ok ? "" : result.errors.map((e) => e.message).join("\n")),
  );
  return result.requires;
}

/** Expects exactly one error, at line:column, its message matching. */
function refuses(source: string, line: number, column: number, message: RegExp): void {
  const result = compileSieve(source, OPTIONS);
  assert(!result.ok, `expected an error:\n${source}`);
  const messages = result.errors.map((e) => e.message).join("\n");
  assertEquals(result.errors.length, 1, messages);
  assertEquals(result.errors[0].position, { line, column }, messages);
  assert(message.test(result.errors[0].message), messages);
}

const VALID: string[] = [
  // RFC 5228 9
  `require ["fileinto"];
if header :is "Sender" "owner-ietf-mtg@ietf.org" { fileinto "filter"; }
elsif address :DOMAIN :is ["From", "To"] "example.com" { keep; }
elsif anyof (NOT address :all :contains ["To", "Cc", "Bcc"] "me@example.com",
             header :matches "subject" ["*make*money*fast*", "*university*dipl*mas*"]) {
  fileinto "spam";
} else { fileinto "personal"; }`,
  `if size :over 100k { discard; } elsif not exists ["From", "Date"] { redirect "x@example.com"; stop; }`,
  `if header :comparator "i;octet" :contains "Subject" "MAKE MONEY" { discard; }`,
  `require "envelope"; if envelope :all :is "from" "tim@example.com" { discard; }`,
  `if true { keep; } if false { stop; }`,
  // RFC 5429, 5231, 5233, 4790
  `require ["reject", "ereject"]; if true { reject "no"; } else { ereject text:
go away
.
; }`,
  `require ["relational", "comparator-i;ascii-numeric"];
if header :value "lt" :comparator "i;ascii-numeric" "x-priority" "3" { keep; }
if address :count "ge" :comparator "i;ascii-numeric" ["to", "cc"] ["3"] { discard; }`,
  `require ["subaddress", "fileinto"]; if envelope :detail "to" "mta-filters" { fileinto "x"; }`
    .replace(
      '["subaddress", "fileinto"]',
      '["subaddress", "fileinto", "envelope"]',
    ),
  // RFC 5230, 6131
  `require "vacation"; vacation :days 23 :addresses ["tjs@example.edu", "ts4z@landru.example.edu"]
  "I'm away until October 19.";`,
  `require "vacation-seconds"; vacation :seconds 0 :from "a@b" :handle "h" "x";`,
  // RFC 5232, 3894
  `require ["imap4flags", "fileinto", "copy", "variables"];
if header :contains "from" "boss" { addflag "\\\\Flagged"; fileinto :copy :flags ["\\\\Seen"] "x"; }
setflag "myflags" "\\\\Answered"; if hasflag :contains "myflags" "Answered" { removeflag "\\\\Flagged"; }
keep :flags "a";`,
  // RFC 5173
  `require ["body", "fileinto"]; if body :content "text" :contains ["missile", "coordinates"] { fileinto "x"; }
if body :raw :contains "MAKE MONEY" { discard; } if body :text :matches "*" { keep; }`,
  // RFC 5229
  `require ["variables", "fileinto"];
set "honorific" "Mr"; set :upperfirst :lower "name" "\${honorific}";
set :length "len" "abc"; set :quotewildcard "q" "*";
if string :matches "\${name}" "M*" { fileinto "\${1}"; }`,
  // RFC 5260
  `require ["date", "relational", "index", "fileinto"];
if currentdate :value "ge" "date" "2007-06-30" { stop; }
if date :zone "-0500" :value "ge" "received" "hour" "09" { fileinto "x"; }
if date :index 1 :last :originalzone :is "received" "weekday" "0" { keep; }`,
  // RFC 5293
  `require ["editheader", "index"]; addheader :last "X-Hello" "World";
deleteheader :index 1 :last :contains "X-Spam" "yes"; deleteheader "X-Junk";`,
  // RFC 5490, 9042, 8579
  `require ["mailbox", "mailboxid", "special-use", "fileinto"];
if mailboxexists "Lists" { fileinto :create "Lists"; }
if mailboxidexists "F12" { fileinto :mailboxid "F12" "x"; }
if specialuse_exists "\\\\Junk" { fileinto :specialuse "\\\\Junk" "Spam"; }
if specialuse_exists "Spam" ["\\\\Junk"] { keep; }`,
  // RFC 6609
  `require ["include", "variables"]; global "test"; include :personal :once "always_allow";
include :global :optional "spam_tests"; if true { return; }`,
  // RFC 7352
  `require "duplicate"; if duplicate :header "message-id" :seconds 3600 :last { discard; }
if duplicate :uniqueid "x" :handle "h" { stop; }`,
  // regex, spamtest(plus), virustest, environment
  `require ["regex", "variables"]; if header :regex "subject" "^a.*b$" { keep; } set :quoteregex "a" "b";`,
  `require ["spamtestplus", "relational", "comparator-i;ascii-numeric"];
if spamtest :percent :value "gt" :comparator "i;ascii-numeric" "50" { discard; }
if spamtest :value "ge" :comparator "i;ascii-numeric" "5" { discard; }`,
  `require ["virustest", "relational", "comparator-i;ascii-numeric"];
if virustest :value "eq" :comparator "i;ascii-numeric" "0" { keep; }`,
  `require "environment"; if environment :contains "item" "x" { keep; }`,
  // RFC 5463
  `require ["ihave", "fileinto"]; if ihave "nonexistent-ext" { frobnicate :x "y"; } else { keep; }
if ihave "vacation" { vacation "away"; } if not ihave "body" { error "no body"; }`,
  // RFC 5703
  `require ["foreverypart", "mime", "fileinto", "variables", "extracttext", "replace", "enclose"];
foreverypart :name "loop" { if header :mime :anychild :subtype "Content-Type" "pdf" { fileinto "x"; break :name "loop"; }
  if header :mime :param "filename" :contains "Content-Disposition" ".exe" { replace "removed"; break; }
  extracttext :first 100 "v"; }
enclose :subject "Warning" :headers ["From"] "see attached";`,
  // RFC 5435, 5436
  `require ["enotify", "variables"];
if valid_notify_method "mailto:x@example.com" { notify :importance "1" :from "a@b" :message "hi" :options ["x"] "mailto:x@example.com"; }
if notify_method_capability :is "mailto:x@example.com" "Online" "yes" { keep; }
set :encodeurl "e" "a b";`,
  `require "encoded-character"; if header :contains "Subject" "\${hex:42 4F}\${unicode:1F600}" { keep; }`,
];

Deno.test("scripts of RFC 5228 and the extension RFCs compile", () => {
  for (const source of VALID) compiles(source);
});

Deno.test("requires: the required capabilities with the implied ones", () => {
  assertEquals(
    [...compiles('require ["vacation-seconds", "spamtestplus"];')].sort(),
    ["spamtest", "spamtestplus", "vacation", "vacation-seconds"],
  );
});

Deno.test("require: first, supported, enabled", () => {
  refuses('keep;\nrequire "fileinto";', 2, 1, /require must come before any other command/);
  refuses('if true { require "fileinto"; }', 1, 11, /require must come before/);
  refuses('require ["fileinto", "x-unknown"];', 1, 9, /unsupported extension "x-unknown"/);
  refuses("require 5;", 1, 1, /require takes one string list/);
  const result = compileSieve('require "vacation";', {
    ...OPTIONS,
    enabled: new Set(["fileinto"]),
  });
  assert(!result.ok && /unsupported extension "vacation"/.test(result.errors[0].message));
  compiles('require "comparator-i;ascii-casemap"; require "comparator-i;octet";');
});

Deno.test("unknown names and names or tags without their require", () => {
  refuses("frobnicate;", 1, 1, /unknown command 'frobnicate'/);
  refuses("if frob { }", 1, 4, /unknown test 'frob'/);
  refuses('fileinto "x";', 1, 1, /'fileinto' needs require "fileinto"/);
  refuses('if body :contains "x" { }', 1, 4, /test 'body' needs require "body"/);
  refuses('redirect :copy "a@b";', 1, 10, /tag :copy needs require "copy"/);
  refuses('if header :regex "a" "b" { }', 1, 11, /tag :regex needs require "regex"/);
  refuses('if address :user "to" "b" { }', 1, 12, /tag :user needs require "subaddress"/);
  refuses(
    'require "vacation"; vacation :seconds 5 "x";',
    1,
    30,
    /needs require "vacation-seconds"/,
  );
  refuses(
    'require "spamtest"; if spamtest :percent "5" { }',
    1,
    33,
    /needs require "spamtestplus"/,
  );
  refuses('keep :flags "a";', 1, 6, /tag :flags needs require "imap4flags"/);
  refuses('require "fileinto"; fileinto :create "x";', 1, 30, /needs require "mailbox"/);
  refuses('if header :index 1 "a" "b" { }', 1, 11, /needs require "index"/);
  refuses('require "include"; global "x";', 1, 20, /'global' needs require "variables"/);
  refuses('require "foreverypart"; if header :mime "a" "b" { }', 1, 35, /needs require "mime"/);
  refuses("keep :copy;", 1, 6, /'keep' has no tag :copy/);
});

Deno.test("arguments: kinds, counts, tag values, order", () => {
  refuses('redirect ["a@b", "c@d"];', 1, 10, /'redirect': address must be a string/);
  refuses("redirect;", 1, 1, /'redirect' takes 1 positional argument, not 0/);
  refuses('redirect "a@example.com" "b";', 1, 26, /takes 1 positional argument, not 2/);
  refuses('if header "a" { }', 1, 4, /'header' takes 2 positional arguments, not 1/);
  refuses('if size :over "1" { }', 1, 15, /limit must be a number/);
  refuses('if header :comparator :is "a" "b" { }', 1, 11, /:comparator needs a string/);
  refuses('require "vacation"; vacation :days "7" "x";', 1, 30, /:days needs a number/);
  refuses('require "imap4flags"; setflag;', 1, 23, /takes 1 to 2 positional arguments, not 0/);
  refuses('if header "a" :is "b" { }', 1, 15, /tag :is after positional arguments/);
  refuses('require "editheader"; deleteheader "a" "b" "c";', 1, 44, /takes 1 to 2/);
});

Deno.test("tags: twice, mutually exclusive, required groups, dependent tags", () => {
  refuses('if header :is :is "a" "b" { }', 1, 15, /tag :is given twice/);
  refuses('if header :is :matches "a" "b" { }', 1, 15, /:is and :matches exclude each other/);
  refuses('if address :localpart :domain "to" "b" { }', 1, 23, /:localpart and :domain exclude/);
  refuses('require "body"; if body :raw :text "a" { }', 1, 30, /:raw and :text exclude/);
  refuses("if size 100 { }", 1, 4, /'size' needs one of :over :under/);
  refuses('require "variables"; set :lower :upper "a" "b";', 1, 33, /:lower and :upper exclude/);
  refuses('require ["include"]; include :personal :global "x";', 1, 40, /exclude each other/);
  refuses('require "editheader"; deleteheader :last "x";', 1, 36, /:last needs :index/);
  refuses('require "index"; if header :index 0 "a" "b" { }', 1, 35, /:index counts from 1/);
  refuses('require "mime"; if header :anychild "a" "b" { }', 1, 27, /:anychild needs :mime/);
  refuses('require "date"; if date :zone "EST" "date" "hour" "1" { }', 1, 31, /:zone "EST"/);
});

Deno.test("comparators, relational operators and their combinations", () => {
  refuses('if header :comparator "i;nope" "a" "b" { }', 1, 23, /unknown comparator "i;nope"/);
  refuses(
    'if header :comparator "i;ascii-numeric" "a" "b" { }',
    1,
    23,
    /comparator "i;ascii-numeric" needs require "comparator-i;ascii-numeric"/,
  );
  refuses(
    'require "comparator-i;ascii-numeric"; if header :contains :comparator "i;ascii-numeric" "a" "1" { }',
    1,
    49,
    /:contains cannot be used with comparator "i;ascii-numeric"/,
  );
  refuses('require "relational"; if header :value "gte" "a" "1" { }', 1, 40, /gt ge lt le eq ne/);
  refuses(
    'require "relational"; if header :count ["gt"] "a" "1" { }',
    1,
    33,
    /tag :count needs a string/,
  );
  compiles('require "relational"; if header :count "EQ" "a" "1" { }');
});

Deno.test("control structure: elsif/else, tests, blocks, break, ihave", () => {
  refuses("elsif true { }", 1, 1, /elsif without a preceding if or elsif/);
  refuses("keep; else { }", 1, 7, /else without a preceding if/);
  refuses("if true { } keep; else { }", 1, 19, /else without/);
  refuses("if true;", 1, 1, /if needs a block/);
  refuses("keep { }", 1, 1, /keep takes no block/);
  refuses("if { }", 1, 1, /'if' needs a test/);
  refuses("if (true, false) { }", 1, 1, /'if' takes one test, not a test list/);
  refuses("if allof { }", 1, 4, /'allof' needs a test list/);
  refuses("if not { }", 1, 4, /'not' needs a test/);
  refuses("if true false { }", 1, 9, /'true' takes no test/);
  refuses("keep true;", 1, 6, /'keep' takes no test/);
  refuses('require "foreverypart"; break;', 1, 25, /break outside foreverypart/);
  refuses(
    'require "foreverypart"; foreverypart :name "a" { foreverypart { break :name "b"; } }',
    1,
    77,
    /no enclosing foreverypart of that name/,
  );
  compiles('require "foreverypart"; foreverypart :name "a" { foreverypart { break :name "a"; } }');
  // ihave: an unsupported capability's block is not validated; a supported one's is, with it enabled
  compiles(
    'require "ihave"; if ihave ["x-nonsense"] { x-nonsense; }'.replace(
      "x-nonsense;",
      "nonsense 1;",
    ),
  );
  compiles('require "ihave"; if allof(ihave "fileinto", true) { fileinto "a"; }');
  refuses(
    'require "ihave"; if ihave "fileinto" { fileinto 1; }',
    1,
    49,
    /mailbox must be a string/,
  );
  refuses(
    'require "ihave"; if ihave "fileinto" { } fileinto "a";',
    1,
    42,
    /needs require "fileinto"/,
  );
  refuses(
    'require ["ihave", "variables"]; if ihave "${x}" { }',
    1,
    42,
    /variables are not allowed/,
  );
  refuses('error "x";', 1, 1, /'error' needs require "ihave"/);
});

Deno.test("rules of particular commands", () => {
  refuses('require "vacation"; vacation :days 0 "x";', 1, 36, /:days must be at least 1/);
  refuses('require "variables"; set "1x" "v";', 1, 26, /"1x" is not a variable name/);
  refuses('require "variables"; set "a.b" "v";', 1, 26, /is not a variable name/);
  compiles('require "variables"; set "${a}" "v";'.replace('"${a}"', '"_a1"'));
  refuses(
    'require ["include", "variables"]; global ["ok", "no-t"];',
    1,
    42,
    /"no-t" is not a variable/,
  );
  refuses('require "imap4flags"; setflag "v" "f";', 1, 31, /needs require "variables"/);
  refuses('require "editheader"; addheader "Bad:Name" "v";', 1, 33, /not a header field name/);
  refuses('require "date"; if currentdate "century" "1" { }', 1, 32, /unknown date-part "century"/);
  compiles('require ["date", "variables"]; if currentdate "${part}" "1" { }');
  refuses(
    'require "enotify"; notify :importance "4" "mailto:a@b";',
    1,
    39,
    /:importance is "1", "2" or "3"/,
  );
  refuses('require "enotify"; notify "xmpp:a@b";', 1, 27, /unsupported notification method "xmpp"/);
  refuses('require ["include", "variables"]; include "${x}";', 1, 43, /must be a constant/);
  refuses(
    'require "encoded-character"; keep; redirect "${unicode:110000}@example.com";',
    1,
    45,
    /not a Unicode scalar/,
  );
  compiles('redirect "${unicode:110000}@example.com";');
});

Deno.test("errors: all reported in order, at most MAX_ERRORS; a syntax error alone", () => {
  const many = compileSieve("frob;\n".repeat(50), OPTIONS);
  assert(!many.ok);
  assertEquals(many.errors.length, MAX_ERRORS);
  assertEquals(
    many.errors.map((e) => e.position.line),
    [...Array(MAX_ERRORS).keys()].map((i) => i + 1),
  );
  const two = compileSieve('fileinto "a";\nif header :is :contains "a" "b" { frob; }', OPTIONS);
  assert(!two.ok);
  assertEquals(
    two.errors.map((e) => e.message),
    [
      `line 1, column 1: 'fileinto' needs require "fileinto"`,
      "line 2, column 15: tags :is and :contains exclude each other",
      "line 2, column 35: unknown command 'frob'",
    ],
  );
  const syntax = compileSieve("keep", OPTIONS);
  assert(!syntax.ok);
  assertEquals(syntax.errors.length, 1);
  assertEquals(syntax.errors[0].position, { line: 1, column: 5 });
});

Deno.test("bindArguments: tags with their values, positional arguments in order", () => {
  const result = compileSieve(
    'require ["fileinto", "imap4flags", "copy"]; fileinto :flags ["\\\\Seen", "a"] :copy "Work";',
    OPTIONS,
  );
  assert(result.ok);
  const command = result.script.commands[1];
  const { tags, positional } = bindArguments(command, signatureOf("command", "fileinto")!);
  assertEquals(tags.get("copy"), true);
  const flags = tags.get("flags");
  assert(flags !== true && flags?.kind === "stringList");
  assertEquals(flags.values, ["\\Seen", "a"]);
  assertEquals(positional.length, 1);
  assert(positional[0].kind === "string" && positional[0].value === "Work");
  assertEquals(signatureOf("test", "size")?.requiredGroups, ["size"]);
  assertEquals(signatureOf("command", "nope"), undefined);
  for (const capability of ["fileinto", "vacation", "enotify", "comparator-i;ascii-numeric"]) {
    assert(SUPPORTED_EXTENSIONS.includes(capability), capability);
  }
});

Deno.test("CompiledCache: hits by source and options, least recently used dropped", () => {
  const cache = new CompiledCache(2);
  const a = cache.compile("keep;", OPTIONS);
  assert(a.ok);
  assertEquals(cache.compile("keep;", OPTIONS), a);
  cache.compile("stop;", OPTIONS);
  cache.compile("keep;", OPTIONS); // keep; is now the most recent
  cache.compile("discard;", OPTIONS); // drops stop;
  assertEquals(cache.size, 2);
  assertEquals(cache.compile("keep;", OPTIONS), a);
  const other = cache.compile("keep;", { ...OPTIONS, enabled: new Set(["fileinto"]) });
  assert(other !== a);
  const bad = cache.compile("frob;", OPTIONS);
  assert(!bad.ok);
  assertEquals(cache.compile("frob;", OPTIONS), bad);
});
