/**
 * The comment-preserving TOML editor (src/config/edit.ts) on the repository's own config.toml:
 * a changed value changes its line only, new keys land at the end of their section, new
 * sections at the end of the file, strings and arrays are written as TOML, values it cannot edit
 * safely are refused, and random edit sequences keep the file parseable and equal to what was
 * asked.
 */
import { parse as parseToml } from "smol-toml";
import { assert, assertEquals, assertMatch, assertThrows } from "../helpers/assert.ts";
import { mulberry32 } from "../helpers/random.ts";
import { deepEqual, editToml, TomlEditError, type TomlValue } from "../../src/config/edit.ts";
import { settingKeys, valueAt } from "../../src/config/settings.ts";
import { parseConfigText } from "../../src/config/load.ts";

const CONFIG = await Deno.readTextFile(new URL("../../config.toml", import.meta.url));
const parsed = parseToml(CONFIG) as Record<string, unknown>;

/** The lines of `after` that differ from `before` (same line count assumed). */
function changedLines(before: string, after: string): number[] {
  const a = before.split("\n");
  const b = after.split("\n");
  assertEquals(b.length, a.length, after);
  return a.flatMap((line, i) => line === b[i] ? [] : [i]);
}

function withValue(document: unknown, path: string[], value: unknown): unknown {
  const copy = structuredClone(document) as Record<string, unknown>;
  let node = copy;
  for (const part of path.slice(0, -1)) {
    if (value === undefined && node[part] === undefined) return copy;
    node = (node[part] ??= {}) as Record<string, unknown>;
  }
  if (value === undefined) delete node[path.at(-1)!];
  else node[path.at(-1)!] = value;
  return copy;
}

function otherValue(value: unknown): TomlValue {
  if (typeof value === "boolean") return !value;
  if (typeof value === "number") return value + 1;
  if (typeof value === "string") return `${value}-"changed" \\ é ✉`;
  if (Array.isArray(value)) return value.length ? [] : ["a", 'b"c', "ü"];
  throw new Error(`unexpected ${typeof value}`);
}

Deno.test("config edit: changing any key of config.toml changes its line and nothing else", () => {
  let edited = 0;
  for (const { key, path } of settingKeys()) {
    const old = valueAt(parsed, path);
    if (old === undefined) continue;
    const value = otherValue(old);
    const result = editToml(CONFIG, [{ path, value }]);
    const lines = changedLines(CONFIG, result);
    assertEquals(lines.length, 1, key);
    const before = CONFIG.split("\n")[lines[0]];
    const after = result.split("\n")[lines[0]];
    const name = path.at(-1)!;
    assert(after.startsWith(before.slice(0, before.indexOf("=") + 1)), `${key}: ${after}`);
    assert(after.trimStart().startsWith(`${name} =`), after);
    const comment = /\s+#[^"]*$/.exec(before);
    if (comment) assert(after.endsWith(comment[0]), `${key}: comment kept in ${after}`);
    assert(deepEqual(parseToml(result), withValue(parsed, path, value)), key);
    edited++;
  }
  assert(edited > 100, `edited ${edited} keys`);
});

Deno.test("config edit: a float stays a float, literal strings stay literal where they can", () => {
  const result = editToml(CONFIG, [{ path: ["spam", "junk_threshold"], value: 6 }]);
  assertMatch(result, /^junk_threshold = 6\.0$/m);
  const half = editToml(CONFIG, [{ path: ["spam", "junk_threshold"], value: 6.5 }]);
  assertMatch(half, /^junk_threshold = 6\.5$/m);
  const integer = editToml(CONFIG, [{ path: ["smtp", "max_hops"], value: 40 }]);
  assertMatch(integer, /^max_hops = 40$/m);
  const literal = "[a]\npath = 'C:\\data' # where\n";
  assertEquals(
    editToml(literal, [{ path: ["a", "path"], value: "D:\\x" }]),
    "[a]\npath = 'D:\\x' # where\n",
  );
  assertEquals(
    editToml(literal, [{ path: ["a", "path"], value: "it's" }]),
    `[a]\npath = "it's" # where\n`,
  );
});

Deno.test("config edit: strings with quotes, backslashes, control characters and unicode", () => {
  const values = [
    'say "hi"',
    "back\\slash\\",
    "tab\tnew\nline\r",
    "bell\u0007 del\u007f nul\u0000",
    "ünïcödé ✉ 📬 \u2028",
    "'''",
    '"""',
    "# not a comment",
    "",
  ];
  for (const value of values) {
    const result = editToml(CONFIG, [{ path: ["smtp", "greeting"], value }]);
    assertEquals(changedLines(CONFIG, result).length, 1, JSON.stringify(value));
    assertEquals((parseToml(result) as { smtp: { greeting: string } }).smtp.greeting, value);
  }
});

Deno.test("config edit: a missing key goes at the end of its section", () => {
  const result = editToml(CONFIG, [
    { path: ["spam", "extra_key"], value: "x" },
    { path: ["spam", "greylist", "another"], value: 3 },
  ]);
  const before = CONFIG.split("\n");
  const after = result.split("\n");
  assertEquals(after.length, before.length + 2);
  const at = after.indexOf('extra_key = "x"');
  assertEquals(after[at - 1], "reputation = true");
  assertEquals(after.slice(0, at), before.slice(0, at));
  const second = after.indexOf("another = 3");
  assertEquals(after[second - 1], before[second - 2]);
  assertMatch(after[second - 1], /^exempt = /);
  assertEquals(
    [...after.slice(0, at), ...after.slice(at + 1, second)],
    before.slice(0, second - 1),
  );
  assertEquals(after.slice(second + 1), before.slice(second - 1));
  // A section with only its header gets the key right after it.
  assertEquals(
    editToml("[a]\n\n[b]\nx = 1\n", [{ path: ["a", "k"], value: true }]),
    "[a]\nk = true\n\n[b]\nx = 1\n",
  );
  // A file without a final line break gets one before the new line.
  assertEquals(editToml("[a]\nx = 1", [{ path: ["a", "y"], value: 2 }]), "[a]\nx = 1\ny = 2\n");
});

Deno.test("config edit: a missing section goes at the end of the file", () => {
  const result = editToml(CONFIG, [
    { path: ["brand_new", "key"], value: [1, 2] },
    { path: ["brand_new", "name"], value: "n" },
    { path: ["spam", "extra", "on"], value: false },
  ]);
  assert(result.startsWith(CONFIG));
  assertEquals(
    result.slice(CONFIG.length),
    '\n[brand_new]\nkey = [1, 2]\nname = "n"\n\n[spam.extra]\non = false\n',
  );
  assertEquals(editToml("", [{ path: ["a", "b"], value: 1 }]), "[a]\nb = 1\n");
});

Deno.test("config edit: arrays, inline tables, multi-line values, removal, CRLF", () => {
  const sni = [{ certificate: "/etc/a.pem", key: "/etc/a.key" }];
  const withSni = editToml(CONFIG, [{ path: ["tls", "sni"], value: sni }]);
  assertMatch(withSni, /^sni = \[\{ certificate = "\/etc\/a\.pem", key = "\/etc\/a\.key" \}\]$/m);
  assertEquals(parseConfigText(withSni, "x").tls.sni, sni);

  const multi = '[q]\nretry = [\n  "1m",\n  "5m",\n] # waits\nafter = 1\n';
  assertEquals(
    editToml(multi, [{ path: ["q", "retry"], value: ["2m", "3m", "4m"] }]),
    '[q]\nretry = [\n  "2m",\n  "3m",\n  "4m",\n] # waits\nafter = 1\n',
  );
  assertEquals(
    editToml(multi, [{ path: ["q", "retry"], value: [] }]),
    "[q]\nretry = [] # waits\nafter = 1\n",
  );
  const nested = "[q]\nm = [[1, 2], [3]]\n";
  assertEquals(
    editToml(nested, [{ path: ["q", "m"], value: [[4], []] }]),
    "[q]\nm = [[4], []]\n",
  );
  const longString = '[s]\ntext = """\nline one\nline "two" ""\n"""\nnext = 1\n';
  assertEquals(
    editToml(longString, [{ path: ["s", "text"], value: "short" }]),
    '[s]\ntext = "short"\nnext = 1\n',
  );
  const literalLong = "[s]\ntext = '''\n] # not a comment\n'''\nnext = 1\n";
  assertEquals(
    editToml(literalLong, [{ path: ["s", "next"], value: 2 }]),
    "[s]\ntext = '''\n] # not a comment\n'''\nnext = 2\n",
  );

  const removed = editToml(CONFIG, [{ path: ["log", "file"], value: undefined }]);
  assertEquals(removed.split("\n").length, CONFIG.split("\n").length - 1);
  assert(!/^file = /m.test(removed));
  assertEquals(editToml(CONFIG, [{ path: ["log", "absent"], value: undefined }]), CONFIG);

  const crlf = "# c\r\n[a]\r\nx = 1 # one\r\n";
  assertEquals(
    editToml(crlf, [{ path: ["a", "x"], value: 2 }, { path: ["a", "y"], value: "z" }]),
    '# c\r\n[a]\r\nx = 2 # one\r\ny = "z"\r\n',
  );

  const dotted = '[spam]\ngreylist.enabled = true # on\n[log]\nlevel = "info"\n';
  assertEquals(
    editToml(dotted, [
      { path: ["spam", "greylist", "enabled"], value: false },
      { path: ["spam", "greylist", "delay"], value: "1m" },
    ]),
    '[spam]\ngreylist.enabled = false # on\ngreylist.delay = "1m"\n[log]\nlevel = "info"\n',
  );
  const quotedKeys = '["odd key"]\n"x.y" = 1\n';
  assertEquals(
    editToml(quotedKeys, [{ path: ["odd key", "x.y"], value: 2 }]),
    '["odd key"]\n"x.y" = 2\n',
  );
});

Deno.test("config edit: refuses what it cannot edit without loss, naming the key", () => {
  const refused = (text: string, path: string[], value: TomlValue | undefined, pattern: RegExp) => {
    const error = assertThrows(() => editToml(text, [{ path, value }]), TomlEditError);
    assertMatch(error.message, pattern);
  };
  refused(
    '[q]\nretry = [\n  "1m", # first\n  "5m",\n]\n',
    ["q", "retry"],
    ["2m"],
    /^q\.retry: .*multi-line value has comments/,
  );
  refused(
    "[spam]\ngreylist = { enabled = true }\n",
    ["spam", "greylist", "delay"],
    "1m",
    /^spam\.greylist\.delay: spam\.greylist is an inline value/,
  );
  refused(CONFIG, ["spam", "greylist"], 1, /^spam\.greylist: is a table/);
  refused("[a\nx = 1\n", ["a", "x"], 2, /not valid TOML/);
  refused(CONFIG, ["spam", "junk_threshold"], Infinity, /^spam\.junk_threshold: .*finite/);
  refused(
    CONFIG,
    ["spam", "junk_threshold"],
    null as unknown as TomlValue,
    /^spam\.junk_threshold: cannot write null/,
  );
  // An array of tables is no place for one key: the result would not mean what was asked.
  refused("[[t]]\nx = 1\n[[t]]\nx = 2\n", ["t", "x"], 3, /^t\.x: .*cannot be edited safely/);
});

Deno.test("config edit fuzz: 400 random edit sequences keep config.toml parseable and as intended", () => {
  const random = mulberry32(0xc0f1);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)];
  const existing = settingKeys().map((k) => k.path);
  const sections = Object.keys(parsed);
  const chars = ['"', "'", "\\", "#", "=", "[", "]", "\n", "\t", "é", "✉", "\u0001", "a", " "];
  const randomString = () =>
    Array.from({ length: Math.floor(random() * 12) }, () => pick(chars)).join("");
  const randomScalar = (): TomlValue => {
    const kind = random();
    if (kind < 0.3) return randomString();
    if (kind < 0.5) return Math.floor(random() * 2000) - 1000;
    if (kind < 0.65) return Math.round(random() * 1e6) / 100;
    return random() < 0.5;
  };
  const randomValue = (): TomlValue => {
    const kind = random();
    if (kind < 0.7) return randomScalar();
    if (kind < 0.9) return Array.from({ length: Math.floor(random() * 4) }, randomScalar);
    return { k: randomScalar(), "odd key": randomString() };
  };
  const comments = (text: string) => text.split(/\r?\n/).filter((line) => /^\s*#/.test(line));
  for (let round = 0; round < 400; round++) {
    let text = CONFIG;
    let expected: unknown = parsed;
    for (let step = 0; step < 1 + Math.floor(random() * 6); step++) {
      const kind = random();
      const path = kind < 0.6
        ? pick(existing)
        : kind < 0.8
        ? [pick(sections), `new_${Math.floor(random() * 5)}`]
        : kind < 0.9
        ? [`section_${Math.floor(random() * 3)}`, `k${Math.floor(random() * 3)}`]
        : [pick(sections), `sub_${Math.floor(random() * 2)}`, "k"];
      const value = random() < 0.1 ? undefined : randomValue();
      if (valueAt(expected, path.slice(0, -1)) !== undefined) {
        const parent = valueAt(expected, path.slice(0, -1));
        if (typeof parent !== "object" || Array.isArray(parent)) continue;
      }
      text = editToml(text, [{ path, value }]);
      expected = withValue(expected, path, value);
      assert(deepEqual(parseToml(text), expected), `round ${round}: ${path.join(".")}`);
    }
    assertEquals(comments(text), comments(CONFIG));
  }
});
