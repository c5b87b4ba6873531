/**
 * The rule engine: rules are data (TOML, documented in default_rules.ts), parsed and checked
 * once, then evaluated synchronously against the facts of each message.
 *
 * Implementation notes:
 * - Everything a rule file can get wrong is found by parseRules and reported as a RuleError
 *   naming the file and the rule: unknown keys, bad or nested-quantifier regexes, unknown checks
 *   or check params, missing scores, duplicate names, meta rules over unknown rules, cycles.
 *   Nothing else is thrown for any text. evaluateRules never throws for valid sets.
 * - Regex cost: JS regexes backtrack, so a pattern can take exponential time. Patterns with a
 *   quantified group that itself contains a repeat, like (a+)+ or (\w*){2,}, are refused when
 *   parsed, and every string tested is capped: header values and URLs at MAX_TEST_CHARS, the
 *   body and HTML are tested in chunks of at most MAX_TEST_CHARS cut at line ends (a pattern
 *   cannot match across chunks). Overlapping alternations like (a|a)* are not detected.
 * - Flags g and y are refused: they make RegExp.test stateful.
 * - Score 0 disables a rule: it is not evaluated and meta rules see it as false. Names starting
 *   with "__" are helper rules for metas: evaluated, never reported, score 0.
 * - An override file's meta rules may refer to the rules it extends: parse it with those rules
 *   as `base` (parseRules(text, path, defaultRules())), then mergeRules.
 * - dnsbl/uribl rules are only data here (dnsListRules); dnsbl.ts queries them. A meta rule
 *   cannot refer to them, since their results come later and asynchronously.
 */
import { parse as parseToml, TomlError } from "smol-toml";
import { type CheckParams, type CheckParamValue, CHECKS } from "./checks.ts";
import { DEFAULT_RULES } from "./default_rules.ts";
import type { DnsListRule, MessageFacts, SpamSymbol } from "./types.ts";

/** The longest string a regex rule is run on (longer ones are cut or split). */
export const MAX_TEST_CHARS = 4096;

/** A rules file that cannot be used; the message names the file and, when known, the rule. */
export class RuleError extends Error {
  constructor(readonly source: string, readonly rule: string | null, detail: string) {
    super(rule === null ? `${source}: ${detail}` : `${source}: rule ${rule}: ${detail}`);
    this.name = "RuleError";
  }
}

type AuthMethod = "spf" | "dkim" | "dmarc" | "arc" | "iprev";
const AUTH_METHODS: AuthMethod[] = ["spf", "dkim", "dmarc", "arc", "iprev"];

interface RuleCommon {
  name: string;
  score: number;
  description: string;
  /** Where the rule was read (file name), for errors. */
  source: string;
}

export type Rule =
  | RuleCommon & { kind: "header"; header: string; pattern: RegExp | null; exists: boolean }
  | RuleCommon & { kind: "body" | "html"; pattern: RegExp }
  | RuleCommon & { kind: "uri"; pattern: RegExp; field: "url" | "host" | "text" }
  | RuleCommon & { kind: "check"; check: string; params: CheckParams }
  | RuleCommon & { kind: "auth"; conditions: Partial<Record<AuthMethod, string[]>> }
  | RuleCommon & { kind: "meta"; expression: MetaNode; references: string[] }
  | RuleCommon & { kind: "dnsbl"; list: DnsListRule }
  | RuleCommon & { kind: "disabled" };

type MetaRule = Extract<Rule, { kind: "meta" }>;

export interface RuleSet {
  /** In file order (an override keeps the position of the rule it replaces). */
  readonly rules: readonly Rule[];
  /** Meta rules in an order where each comes after the metas it refers to. */
  readonly metaOrder: readonly MetaRule[];
}

// ---------------------------------------------------------------------------------------------
// Meta expressions: names, numbers, ! && || ( ), + and the comparisons > >= < <= == !=.
// A name is 1 when its rule matched, else 0; a value other than 0 is true.

type MetaNode =
  | { op: "name"; name: string }
  | { op: "number"; value: number }
  | { op: "!"; arg: MetaNode }
  | {
    op: "&&" | "||" | "+" | ">" | ">=" | "<" | "<=" | "==" | "!=";
    left: MetaNode;
    right: MetaNode;
  };

const META_TOKEN =
  /\s*(?:((?:__)?[A-Z][A-Z0-9_]*)|(\d+(?:\.\d+)?)|(&&|\|\||>=|<=|==|!=|[!()+<>]))/y;
const MAX_META_DEPTH = 64;
const MAX_META_TOKENS = 1000;

class MetaParser {
  private readonly tokens: string[] = [];
  private at = 0;

  constructor(text: string) {
    let pos = 0;
    for (;;) {
      META_TOKEN.lastIndex = pos;
      const m = META_TOKEN.exec(text);
      if (m === null) break;
      this.tokens.push(m[0].trim());
      pos = META_TOKEN.lastIndex;
      if (this.tokens.length > MAX_META_TOKENS) throw new MetaSyntax("too long");
    }
    const rest = text.slice(pos).trim();
    if (rest !== "") throw new MetaSyntax(`unexpected "${rest.slice(0, 20)}"`);
  }

  parse(): MetaNode {
    if (this.tokens.length === 0) throw new MetaSyntax("empty");
    const node = this.or(0);
    if (this.at < this.tokens.length) {
      throw new MetaSyntax(`unexpected "${this.tokens[this.at]}"`);
    }
    return node;
  }

  private peek(): string | undefined {
    return this.tokens[this.at];
  }

  private binary(ops: string[], next: (depth: number) => MetaNode, depth: number): MetaNode {
    let left = next(depth);
    while (ops.includes(this.peek() ?? "")) {
      const op = this.tokens[this.at++] as "&&";
      left = { op, left, right: next(depth) };
    }
    return left;
  }

  private or(depth: number): MetaNode {
    if (depth > MAX_META_DEPTH) throw new MetaSyntax("nested too deeply");
    return this.binary(["||"], (d) => this.and(d), depth);
  }

  private and(depth: number): MetaNode {
    return this.binary(["&&"], (d) => this.comparison(d), depth);
  }

  private comparison(depth: number): MetaNode {
    const left = this.sum(depth);
    const op = this.peek();
    if (op !== ">" && op !== ">=" && op !== "<" && op !== "<=" && op !== "==" && op !== "!=") {
      return left;
    }
    this.at++;
    return { op, left, right: this.sum(depth) };
  }

  private sum(depth: number): MetaNode {
    return this.binary(["+"], (d) => this.unary(d), depth);
  }

  private unary(depth: number): MetaNode {
    if (this.peek() === "!") {
      this.at++;
      if (depth > MAX_META_DEPTH) throw new MetaSyntax("nested too deeply");
      return { op: "!", arg: this.unary(depth + 1) };
    }
    return this.primary(depth);
  }

  private primary(depth: number): MetaNode {
    const token = this.tokens[this.at++];
    if (token === undefined) throw new MetaSyntax("ends too early");
    if (token === "(") {
      const inner = this.or(depth + 1);
      if (this.tokens[this.at++] !== ")") throw new MetaSyntax('missing ")"');
      return inner;
    }
    if (/^\d/.test(token)) return { op: "number", value: Number(token) };
    if (/^[A-Z_]/.test(token)) return { op: "name", name: token };
    throw new MetaSyntax(`unexpected "${token}"`);
  }
}

class MetaSyntax extends Error {}

/** The expression's tree, or a message saying what is wrong with it. */
function parseMeta(text: string): MetaNode | string {
  try {
    return new MetaParser(text).parse();
  } catch (error) {
    if (error instanceof MetaSyntax) return error.message;
    throw error;
  }
}

function referencedNames(node: MetaNode): string[] {
  const names = new Set<string>();
  const stack: MetaNode[] = [node];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (n.op === "name") names.add(n.name);
    else if (n.op === "!") stack.push(n.arg);
    else if (n.op !== "number") stack.push(n.right, n.left);
  }
  return [...names];
}

function truth(value: boolean): number {
  return value ? 1 : 0;
}

function metaValue(node: MetaNode, matched: ReadonlySet<string>): number {
  switch (node.op) {
    case "name":
      return truth(matched.has(node.name));
    case "number":
      return node.value;
    case "!":
      return truth(metaValue(node.arg, matched) === 0);
    case "&&":
      return truth(metaValue(node.left, matched) !== 0 && metaValue(node.right, matched) !== 0);
    case "||":
      return truth(metaValue(node.left, matched) !== 0 || metaValue(node.right, matched) !== 0);
    case "+":
      return metaValue(node.left, matched) + metaValue(node.right, matched);
    default:
      return compare(node.op, metaValue(node.left, matched), metaValue(node.right, matched));
  }
}

function compare(op: ">" | ">=" | "<" | "<=" | "==" | "!=", a: number, b: number): number {
  switch (op) {
    case ">":
      return truth(a > b);
    case ">=":
      return truth(a >= b);
    case "<":
      return truth(a < b);
    case "<=":
      return truth(a <= b);
    case "==":
      return truth(a === b);
    case "!=":
      return truth(a !== b);
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing

const COMMON_KEYS = ["name", "kind", "score", "description"];
const KIND_KEYS: Record<string, string[]> = {
  header: ["header", "pattern", "exists", "missing"],
  body: ["pattern"],
  rawbody: ["pattern"],
  html: ["pattern"],
  uri: ["pattern", "field"],
  check: ["check", "params"],
  auth: AUTH_METHODS,
  meta: ["expression"],
  dnsbl: ["zone", "target", "answers"],
  uribl: ["zone", "target", "answers"],
};
const NAME = /^(?:__)?[A-Z][A-Z0-9_]{0,63}$/;

/** Reads the keys of one [[rule]] table, throwing RuleErrors that name it. */
class RuleReader {
  constructor(
    readonly table: Record<string, unknown>,
    readonly source: string,
    readonly label: string,
  ) {}

  fail(detail: string): never {
    throw new RuleError(this.source, this.label, detail);
  }

  has(key: string): boolean {
    return this.table[key] !== undefined;
  }

  string(key: string): string {
    const value = this.table[key];
    if (typeof value !== "string") this.fail(`"${key}" must be a string`);
    return value;
  }

  optionalString(key: string, fallback: string): string {
    return this.has(key) ? this.string(key) : fallback;
  }

  number(key: string): number {
    const value = this.table[key];
    if (typeof value !== "number" || !Number.isFinite(value)) {
      this.fail(`"${key}" must be a number`);
    }
    return value;
  }

  boolean(key: string): boolean {
    const value = this.table[key];
    if (typeof value !== "boolean") this.fail(`"${key}" must be true or false`);
    return value;
  }

  stringList(key: string): string[] {
    const value = this.table[key];
    if (typeof value === "string") return [value];
    if (!Array.isArray(value) || value.length === 0 || value.some((v) => typeof v !== "string")) {
      this.fail(`"${key}" must be a string or a non-empty list of strings`);
    }
    return value as string[];
  }

  subTable(key: string): Record<string, unknown> {
    const value = this.table[key];
    if (!isPlainTable(value)) this.fail(`"${key}" must be a table`);
    return value;
  }

  regex(key: string): RegExp {
    const text = this.string(key);
    const literal = /^\/([\s\S]+)\/([a-z]*)$/.exec(text);
    if (literal === null) this.fail(`"${key}" must be written /pattern/flags`);
    const [, body, flags] = literal;
    if (/[^imsu]/.test(flags)) this.fail(`regex flags "${flags}": only i, m, s and u are allowed`);
    if (hasNestedQuantifier(body)) {
      this.fail(`regex ${text} repeats a group that repeats (catastrophic backtracking)`);
    }
    try {
      return new RegExp(body, flags);
    } catch (error) {
      this.fail(`bad regex ${text}: ${(error as Error).message}`);
    }
  }
}

function isPlainTable(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof Date);
}

/** A repetition count bigger than this (or unbounded) makes a repeated group dangerous. */
const BIG_REPEAT = 10;

/**
 * Whether a regex source repeats, many times, a group that has a variable-width repetition
 * inside, like (a+)+, (a?)*, (\w{1,3}){2,} or (?:x+y){1,50}: the shape that backtracks
 * exponentially. A bounded small repeat such as (?:\.\d{1,3}){3} is fine.
 *
 * @example
 * hasNestedQuantifier("(\\w+\\s?)*$"); // true
 */
export function hasNestedQuantifier(source: string): boolean {
  const variable: boolean[] = [false];
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === "\\") {
      i++;
    } else if (c === "[") {
      i = classEnd(source, i);
    } else if (c === "(") {
      variable.push(false);
    } else if (c === ")" && variable.length > 1) {
      const inner = variable.pop()!;
      const repeat = quantifierAt(source, i + 1);
      if (inner && repeat !== null && repeat.max > BIG_REPEAT) return true;
      if (inner || (repeat !== null && repeat.min !== repeat.max)) {
        variable[variable.length - 1] = true;
      }
    } else {
      const repeat = quantifierAt(source, i);
      if (repeat !== null && repeat.min !== repeat.max) variable[variable.length - 1] = true;
    }
  }
  return false;
}

/** Index of the "]" closing the class opened at i (or the last index). */
function classEnd(source: string, i: number): number {
  let j = i + 1;
  if (source[j] === "^") j++;
  if (source[j] === "]") j++;
  for (; j < source.length; j++) {
    if (source[j] === "\\") j++;
    else if (source[j] === "]") return j;
  }
  return source.length;
}

/** The quantifier starting at i, as its least and greatest counts; null when there is none. */
function quantifierAt(source: string, i: number): { min: number; max: number } | null {
  switch (source[i]) {
    case "+":
      return { min: 1, max: Infinity };
    case "*":
      return { min: 0, max: Infinity };
    case "?":
      return source[i - 1] === "(" ? null : { min: 0, max: 1 };
    case "{": {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(i, i + 24));
      if (m === null) return null;
      const min = Number(m[1]);
      if (m[2] === undefined) return { min, max: min };
      return { min, max: m[3] === "" ? Infinity : Number(m[3]) };
    }
    default:
      return null;
  }
}

function readScore(reader: RuleReader, name: string, kind: string): number {
  if (name.startsWith("__")) {
    if (reader.has("score") && reader.number("score") !== 0) {
      reader.fail("helper rules (names starting with __) have no score");
    }
    return 0;
  }
  if (reader.has("score")) return reader.number("score");
  // A DNS list rule may give its points per answer instead; parseDnsListRule sets the score.
  if ((kind === "dnsbl" || kind === "uribl") && reader.has("answers")) return 0;
  reader.fail(
    kind === "dnsbl" || kind === "uribl" ? 'missing "score" or "answers"' : 'missing "score"',
  );
}

function checkKeys(reader: RuleReader, kind: string): void {
  const allowed = [...COMMON_KEYS, ...(KIND_KEYS[kind] ?? [])];
  for (const key of Object.keys(reader.table)) {
    if (!allowed.includes(key)) reader.fail(`unknown key "${key}" for kind "${kind}"`);
  }
}

function parseRule(table: unknown, index: number, source: string): Rule {
  if (!isPlainTable(table)) throw new RuleError(source, `#${index + 1}`, "must be a table");
  const nameValue = table.name;
  const label = typeof nameValue === "string" ? nameValue : `#${index + 1}`;
  const reader = new RuleReader(table, source, label);
  const name = reader.string("name");
  if (!NAME.test(name)) reader.fail("name must be UPPER_SNAKE_CASE (letters, digits, _)");
  if (!reader.has("kind")) {
    const keys = Object.keys(table).filter((k) => k !== "name");
    if (keys.length === 1 && keys[0] === "score" && reader.number("score") === 0) {
      return { kind: "disabled", name, score: 0, description: "", source };
    }
    reader.fail('missing "kind" (only `score = 0` may stand alone, to disable a rule)');
  }
  const kind = reader.string("kind");
  if (KIND_KEYS[kind] === undefined) {
    reader.fail(`unknown kind "${kind}" (one of ${Object.keys(KIND_KEYS).join(", ")})`);
  }
  checkKeys(reader, kind);
  const common: RuleCommon = {
    name,
    score: readScore(reader, name, kind),
    description: reader.string("description"),
    source,
  };
  return parseKind(reader, kind, common);
}

function parseKind(reader: RuleReader, kind: string, common: RuleCommon): Rule {
  switch (kind) {
    case "header":
      return parseHeaderRule(reader, common);
    case "body":
      return { ...common, kind: "body", pattern: reader.regex("pattern") };
    case "rawbody":
    case "html":
      return { ...common, kind: "html", pattern: reader.regex("pattern") };
    case "uri":
      return { ...common, kind: "uri", pattern: reader.regex("pattern"), field: uriField(reader) };
    case "check":
      return parseCheckRule(reader, common);
    case "auth":
      return parseAuthRule(reader, common);
    case "meta":
      return parseMetaRule(reader, common);
    default:
      return parseDnsListRule(reader, kind, common);
  }
}

function parseHeaderRule(reader: RuleReader, common: RuleCommon): Rule {
  const header = reader.string("header").trim().toLowerCase();
  if (!/^[\x21-\x39\x3b-\x7e]+$/.test(header)) reader.fail(`bad header name "${header}"`);
  const tests = ["pattern", "exists", "missing"].filter((k) => reader.has(k));
  if (tests.length !== 1) reader.fail('needs exactly one of "pattern", "exists", "missing"');
  if (tests[0] === "pattern") {
    return { ...common, kind: "header", header, pattern: reader.regex("pattern"), exists: true };
  }
  const exists = tests[0] === "exists" ? reader.boolean("exists") : !reader.boolean("missing");
  return { ...common, kind: "header", header, pattern: null, exists };
}

function uriField(reader: RuleReader): "url" | "host" | "text" {
  const field = reader.optionalString("field", "url");
  if (field !== "url" && field !== "host" && field !== "text") {
    reader.fail(`"field" must be "url", "host" or "text"`);
  }
  return field;
}

function parseCheckRule(reader: RuleReader, common: RuleCommon): Rule {
  const check = reader.string("check");
  const definition = Object.hasOwn(CHECKS, check) ? CHECKS[check] : undefined;
  if (definition === undefined) reader.fail(`unknown check "${check}"`);
  const given = reader.has("params") ? reader.subTable("params") : {};
  const params: CheckParams = { ...definition.params };
  for (const [key, value] of Object.entries(given)) {
    if (!Object.hasOwn(definition.params, key)) {
      reader.fail(`check "${check}" has no param "${key}"`);
    }
    if (!sameParamType(definition.params[key], value)) {
      reader.fail(`param "${key}" of check "${check}" has the wrong type`);
    }
    params[key] = value as CheckParamValue;
  }
  return { ...common, kind: "check", check, params };
}

function sameParamType(model: CheckParamValue, value: unknown): boolean {
  if (Array.isArray(model)) {
    return Array.isArray(value) && value.every((v) => typeof v === "string");
  }
  if (typeof model === "number") return typeof value === "number" && Number.isFinite(value);
  return typeof value === typeof model;
}

function parseAuthRule(reader: RuleReader, common: RuleCommon): Rule {
  const conditions: Partial<Record<AuthMethod, string[]>> = {};
  for (const method of AUTH_METHODS) {
    if (reader.has(method)) conditions[method] = reader.stringList(method).map(lower);
  }
  if (Object.keys(conditions).length === 0) {
    reader.fail(`needs at least one of ${AUTH_METHODS.join(", ")}`);
  }
  return { ...common, kind: "auth", conditions };
}

function lower(text: string): string {
  return text.trim().toLowerCase();
}

function parseMetaRule(reader: RuleReader, common: RuleCommon): Rule {
  const text = reader.string("expression");
  const parsed = parseMeta(text);
  if (typeof parsed === "string") reader.fail(`expression "${text}": ${parsed}`);
  return { ...common, kind: "meta", expression: parsed, references: referencedNames(parsed) };
}

function parseDnsListRule(reader: RuleReader, kind: string, common: RuleCommon): Rule {
  if (common.name.startsWith("__")) reader.fail("a DNS list rule cannot be a helper rule");
  const zone = lower(reader.string("zone")).replace(/\.$/, "");
  if (!/^[a-z0-9-]+(?:\.[a-z0-9-]+)+$/.test(zone)) reader.fail(`bad zone "${zone}"`);
  const target = reader.optionalString("target", kind === "dnsbl" ? "ip" : "uri");
  if (target !== "ip" && target !== "sender" && target !== "helo" && target !== "uri") {
    reader.fail(`"target" must be "ip", "sender", "helo" or "uri"`);
  }
  const answers = reader.has("answers") ? readAnswers(reader) : { "*": reader.number("score") };
  const disabled = reader.has("score") && reader.number("score") === 0;
  if (disabled) return { ...common, kind: "disabled", score: 0 };
  const list: DnsListRule = {
    name: common.name,
    target,
    zone,
    answers,
    description: common.description,
  };
  const score = Math.max(...Object.values(answers));
  return { ...common, score, kind: "dnsbl", list };
}

/** answers = { "127.0.0.2" = 3.0, "127.0.0.4-7" = 2.0, "*" = 0.5 } */
function readAnswers(reader: RuleReader): Record<string, number> {
  const table = reader.subTable("answers");
  const answers: Record<string, number> = {};
  for (const [key, value] of Object.entries(table)) {
    if (typeof value !== "number" || !Number.isFinite(value)) {
      reader.fail(`answer "${key}" must have a number of points`);
    }
    const addresses = expandAnswer(key);
    if (addresses === null) reader.fail(`bad answer "${key}" (an IPv4 address, a.b.c.d-e or *)`);
    for (const address of addresses) answers[address] = value;
  }
  if (Object.keys(answers).length === 0) reader.fail('"answers" is empty');
  return answers;
}

/** "a.b.c.d" or the range "a.b.c.d-e" (last octet) as addresses, "*" as is; null if neither. */
function expandAnswer(key: string): string[] | null {
  if (key === "*") return ["*"];
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:-(\d{1,3}))?$/.exec(key);
  if (m === null) return null;
  const octets = m.slice(1, 5).map(Number);
  const last = m[5] === undefined ? octets[3] : Number(m[5]);
  if (octets.some((o) => o > 255) || last > 255 || last < octets[3]) return null;
  const prefix = octets.slice(0, 3).join(".");
  const out: string[] = [];
  for (let n = octets[3]; n <= last; n++) out.push(`${prefix}.${n}`);
  return out;
}

function tomlErrorText(error: unknown): string {
  if (error instanceof TomlError) {
    const what = error.message.split("\n")[0].replace(/^Invalid TOML document: /, "");
    return `line ${error.line}, column ${error.column}: ${what}`;
  }
  return error instanceof Error ? error.message : String(error);
}

function readToml(text: string, source: string): unknown[] {
  let document: Record<string, unknown>;
  try {
    document = parseToml(text) as Record<string, unknown>;
  } catch (error) {
    throw new RuleError(source, null, `not valid TOML: ${tomlErrorText(error)}`);
  }
  for (const key of Object.keys(document)) {
    if (key !== "rule") throw new RuleError(source, null, `unknown top-level key "${key}"`);
  }
  const rules = document.rule ?? [];
  if (!Array.isArray(rules)) throw new RuleError(source, null, "rules are written [[rule]]");
  return rules;
}

/**
 * Parses a rules file. Names in `base` (the rules an override file extends) count as known to
 * meta rules. Throws RuleError naming the source and the rule on any bad input.
 *
 * @example
 * parseRules('[[rule]]\nname = "X"\nkind = "body"\npattern = "/free money/i"\nscore = 1.0\n' +
 *   'description = "says free money"', "local.toml");
 */
export function parseRules(text: string, source: string, base?: RuleSet): RuleSet {
  const rules: Rule[] = [];
  const names = new Set<string>();
  readToml(text, source).forEach((table, index) => {
    const rule = parseRule(table, index, source);
    if (names.has(rule.name)) throw new RuleError(source, rule.name, "defined twice");
    names.add(rule.name);
    rules.push(rule);
  });
  const known = base === undefined ? rules : mergeRuleLists(base.rules, rules);
  checkMetaReferences(rules, known);
  return buildSet(rules, known);
}

// ---------------------------------------------------------------------------------------------
// Sets: validation, merging, defaults

function checkMetaReferences(rules: readonly Rule[], known: readonly Rule[]): void {
  const byName = new Map(known.map((r) => [r.name, r]));
  for (const rule of rules) {
    if (rule.kind !== "meta") continue;
    for (const name of rule.references) {
      const target = byName.get(name);
      if (target === undefined) {
        throw new RuleError(rule.source, rule.name, `refers to unknown rule ${name}`);
      }
      if (target.kind === "dnsbl") {
        throw new RuleError(rule.source, rule.name, `refers to DNS list rule ${name}`);
      }
    }
  }
}

/** Orders the metas of `scope` so each follows those it refers to; throws on a cycle. */
function orderMetas(scope: readonly Rule[]): MetaRule[] {
  const metas = new Map<string, MetaRule>();
  for (const rule of scope) if (rule.kind === "meta") metas.set(rule.name, rule);
  const order: MetaRule[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (meta: MetaRule, path: string[]) => {
    const seen = state.get(meta.name);
    if (seen === "done") return;
    if (seen === "visiting") {
      throw new RuleError(
        meta.source,
        meta.name,
        `meta rules refer in a cycle: ${path.join(" -> ")}`,
      );
    }
    state.set(meta.name, "visiting");
    for (const name of meta.references) {
      const next = metas.get(name);
      if (next !== undefined) visit(next, [...path, name]);
    }
    state.set(meta.name, "done");
    order.push(meta);
  };
  for (const meta of metas.values()) visit(meta, [meta.name]);
  return order;
}

function buildSet(rules: readonly Rule[], scope: readonly Rule[]): RuleSet {
  const order = orderMetas(scope);
  const own = new Set(rules.map((r) => r.name));
  return { rules, metaOrder: order.filter((m) => own.has(m.name)) };
}

function mergeRuleLists(base: readonly Rule[], override: readonly Rule[]): Rule[] {
  const replacements = new Map(override.map((r) => [r.name, r]));
  const merged = base.map((r) => replacements.get(r.name) ?? r);
  const baseNames = new Set(base.map((r) => r.name));
  for (const rule of override) if (!baseNames.has(rule.name)) merged.push(rule);
  return merged;
}

/**
 * The base rules with the override's rules in place of those of the same name, and its new
 * rules after them. An override rule with score 0 disables the base rule.
 *
 * @example
 * const rules = mergeRules(defaultRules(), parseRules(localText, "local.toml", defaultRules()));
 */
export function mergeRules(base: RuleSet, override: RuleSet): RuleSet {
  const merged = mergeRuleLists(base.rules, override.rules);
  checkMetaReferences(merged, merged);
  return buildSet(merged, merged);
}

let defaults: RuleSet | null = null;

/**
 * The rules embedded in the binary (default_rules.ts), parsed once.
 *
 * @example
 * defaultRules().rules.length; // > 50
 */
export function defaultRules(): RuleSet {
  defaults ??= parseRules(DEFAULT_RULES, "default rules");
  return defaults;
}

/**
 * The enabled DNS list rules, for dnsbl.ts to query.
 *
 * @example
 * dnsListRules(defaultRules()).map((r) => r.zone); // ["zen.spamhaus.org", ...]
 */
export function dnsListRules(set: RuleSet): DnsListRule[] {
  const lists: DnsListRule[] = [];
  for (const rule of set.rules) if (rule.kind === "dnsbl") lists.push(rule.list);
  return lists;
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/** Strings tested against regexes, cut once per message. */
class TestInput {
  private bodyChunks: string[] | null = null;
  private htmlChunks: string[] | null = null;

  constructor(readonly facts: MessageFacts) {}

  body(): string[] {
    this.bodyChunks ??= chunks(this.facts.text, MAX_TEST_CHARS);
    return this.bodyChunks;
  }

  html(): string[] {
    this.htmlChunks ??= chunks(this.facts.html, MAX_TEST_CHARS);
    return this.htmlChunks;
  }
}

/** The text in pieces of at most `size` chars, cut after a line end where there is one. */
function chunks(text: string, size: number): string[] {
  const out: string[] = [];
  let start = 0;
  while (start < text.length) {
    let end = Math.min(text.length, start + size);
    if (end < text.length) {
      const lineEnd = text.lastIndexOf("\n", end - 1);
      if (lineEnd > start) end = lineEnd + 1;
    }
    out.push(text.slice(start, end));
    start = end;
  }
  return out;
}

/** Whether the rule matched, and the detail to report; null when it did not. */
type Match = { detail?: string } | null;
const MATCHED: Match = {};

function matchHeader(rule: Extract<Rule, { kind: "header" }>, facts: MessageFacts): Match {
  const values = facts.headers.filter((h) => h.name === rule.header);
  if (rule.pattern === null) return (values.length > 0) === rule.exists ? MATCHED : null;
  const pattern = rule.pattern;
  return values.some((h) => pattern.test(h.value.slice(0, MAX_TEST_CHARS))) ? MATCHED : null;
}

function matchUri(rule: Extract<Rule, { kind: "uri" }>, facts: MessageFacts): Match {
  for (const link of facts.links) {
    const value = rule.field === "url" ? link.url : rule.field === "host" ? link.host : link.text;
    if (rule.pattern.test(value.slice(0, MAX_TEST_CHARS))) return { detail: link.host };
  }
  return null;
}

function matchCheck(rule: Extract<Rule, { kind: "check" }>, facts: MessageFacts): Match {
  const outcome = CHECKS[rule.check].run(facts, rule.params);
  if (outcome === false || outcome === "") return null;
  return typeof outcome === "string" ? { detail: outcome } : MATCHED;
}

function matchAuth(rule: Extract<Rule, { kind: "auth" }>, facts: MessageFacts): Match {
  const auth = facts.auth;
  const dkim = auth.dkim.length === 0 ? ["none"] : auth.dkim.map((d) => d.result);
  const results: Record<AuthMethod, string[]> = {
    spf: [auth.spf],
    dkim,
    dmarc: [auth.dmarc],
    arc: [auth.arc],
    iprev: [auth.iprev],
  };
  for (const method of AUTH_METHODS) {
    const wanted = rule.conditions[method];
    if (wanted !== undefined && !results[method].some((r) => wanted.includes(r))) return null;
  }
  return MATCHED;
}

function matchRule(rule: Rule, input: TestInput): Match {
  const facts = input.facts;
  switch (rule.kind) {
    case "header":
      return matchHeader(rule, facts);
    case "body":
      return input.body().some((c) => rule.pattern.test(c)) ? MATCHED : null;
    case "html":
      return input.html().some((c) => rule.pattern.test(c)) ? MATCHED : null;
    case "uri":
      return matchUri(rule, facts);
    case "check":
      return matchCheck(rule, facts);
    case "auth":
      return matchAuth(rule, facts);
    default:
      return null;
  }
}

function isHelper(rule: Rule): boolean {
  return rule.name.startsWith("__");
}

function isActive(rule: Rule): boolean {
  return rule.kind !== "disabled" && rule.kind !== "dnsbl" && (rule.score !== 0 || isHelper(rule));
}

function symbolOf(rule: Rule, match: NonNullable<Match>): SpamSymbol {
  const symbol: SpamSymbol = { name: rule.name, score: rule.score };
  if (match.detail !== undefined) symbol.detail = match.detail;
  return symbol;
}

/**
 * The rules that match the message, as symbols (helper and disabled rules are never reported;
 * DNS list rules are evaluated elsewhere).
 *
 * @example
 * evaluateRules(defaultRules(), facts); // [{ name: "DMARC_FAIL", score: 3 }, ...]
 */
export function evaluateRules(set: RuleSet, facts: MessageFacts): SpamSymbol[] {
  const input = new TestInput(facts);
  const matched = new Set<string>();
  const symbols: SpamSymbol[] = [];
  for (const rule of set.rules) {
    if (rule.kind === "meta" || !isActive(rule)) continue;
    const match = matchRule(rule, input);
    if (match === null) continue;
    matched.add(rule.name);
    if (!isHelper(rule)) symbols.push(symbolOf(rule, match));
  }
  for (const meta of set.metaOrder) {
    if (!isActive(meta) || metaValue(meta.expression, matched) === 0) continue;
    matched.add(meta.name);
    if (!isHelper(meta)) symbols.push({ name: meta.name, score: meta.score });
  }
  return symbols;
}
