/**
 * Sieve compilation: parse, then validate every command and test against extensions.ts, so a
 * script that ManageSieve accepts (PUTSCRIPT, CHECKSCRIPT) only fails at delivery for runtime
 * reasons. Also the compiled-script cache the delivery path uses.
 *
 * Implementation notes:
 * - Validation collects errors (up to MAX_ERRORS) rather than stopping at the first, so a user
 *   sees every mistake in one CHECKSCRIPT. A syntax error stops everything: the parser reports
 *   only its first.
 * - Walks are iterative (explicit stacks), like the parser: the nesting limit is configuration,
 *   not a promise about the call stack.
 * - Values that may hold variables (`${...}` with "variables" required) are checked only when
 *   they hold none: "${name}" in a :comparator or date-part is the interpreter's business.
 * - RFC 5463 ihave: in the block of `if ihave [...]` (or `if allof(ihave [...], ...)`) the named
 *   capabilities are available when all are supported; when one is not, the block is not
 *   validated at all (it never runs), only parsed.
 */
import {
  type Argument,
  type Command,
  type Position,
  type Script,
  SieveError,
  type Test,
} from "./ast.ts";
import {
  argumentFits,
  COMPARATORS,
  type Signature,
  signatureOf,
  SUPPORTED_EXTENSIONS,
  type TagSpec,
  type ValueKind,
} from "./extensions.ts";
import { parseSieve } from "./parser.ts";
import { sha256Hex } from "../store/blobs.ts";
import { checkRegex } from "./match.ts";
import { parseAddressList } from "../mail/address.ts";

export interface CompileOptions {
  /** Script size in UTF-8 bytes. */
  maxSize: number;
  /** Nesting depth of blocks and tests. */
  maxNesting: number;
  /** Capabilities scripts may require; all of SUPPORTED_EXTENSIONS when not given. */
  enabled?: ReadonlySet<string>;
}

export type CompileResult =
  | { ok: true; script: Script; requires: Set<string> }
  | { ok: false; errors: SieveError[] };

/** Errors reported per script; more are dropped. */
export const MAX_ERRORS = 20;

/** Capabilities a `require` may name without being in SUPPORTED_EXTENSIONS. */
const ALWAYS_THERE = new Set(["comparator-i;ascii-casemap"]);

/** Capabilities that bring others along (RFC 6131 2, RFC 5235 3.2). */
const IMPLIES: Record<string, string[]> = {
  "vacation-seconds": ["vacation"],
  "spamtestplus": ["spamtest"],
};

const RELATIONAL_OPERATORS = new Set(["gt", "ge", "lt", "le", "eq", "ne"]);
/** RFC 5260 4. */
const DATE_PARTS = new Set([
  "year",
  "month",
  "day",
  "date",
  "julian",
  "hour",
  "minute",
  "second",
  "time",
  "iso8601",
  "std11",
  "zone",
  "weekday",
]);
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** RFC 5322 3.6.8 field-name: printable ASCII but ':'. */
const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]+$/;
const ZONE = /^[+-]\d{4}$/;
/** RFC 5228 2.4.2.4, the well-formed unicode form (the hex form cannot be out of range). */
const ENCODED_UNICODE = /\$\{unicode:[ \t\r\n]*([0-9a-f]+(?:[ \t\r\n]+[0-9a-f]+)*)[ \t\r\n]*\}/gi;

interface Scope {
  /** Capabilities usable here: the required ones plus those of enclosing `if ihave`. */
  capabilities: ReadonlySet<string>;
  /** :name of each enclosing foreverypart ("" when unnamed), innermost last. */
  foreverypart: string[];
}

class Validator {
  errors: SieveError[] = [];
  requires = new Set<string>();
  #enabled: ReadonlySet<string>;

  constructor(enabled: ReadonlySet<string>) {
    this.#enabled = enabled;
  }

  error(position: Position, message: string): void {
    if (this.errors.length < MAX_ERRORS) this.errors.push(new SieveError(position, message));
  }

  get full(): boolean {
    return this.errors.length >= MAX_ERRORS;
  }

  supported(capability: string): boolean {
    return this.#enabled.has(capability) || ALWAYS_THERE.has(capability);
  }

  /** RFC 5228 3.2: require statements come first; returns the index of the first other command. */
  readRequires(commands: Command[]): number {
    let i = 0;
    for (; i < commands.length && commands[i].name === "require"; i++) {
      const command = commands[i];
      const arg = command.arguments[0];
      if (
        command.arguments.length !== 1 || !argumentFits(arg, "stringList") ||
        command.tests.length > 0 || command.block !== null
      ) {
        this.error(
          command.position,
          "require takes one string list of capabilities and ends in ';'",
        );
        continue;
      }
      for (
        const capability of arg.kind === "string"
          ? [arg.value]
          : (arg as { values: string[] }).values
      ) {
        if (!this.supported(capability)) {
          this.error(arg.position, `require: unsupported extension "${capability}"`);
          continue;
        }
        this.requires.add(capability);
        for (const implied of IMPLIES[capability] ?? []) this.requires.add(implied);
      }
    }
    return i;
  }

  hasCapability(scope: Scope, options: readonly string[] | undefined): boolean {
    return options === undefined || options.some((c) => scope.capabilities.has(c));
  }

  /** Validates a block and, depth first, everything in it. */
  block(commands: Command[], start: number, rootScope: Scope): void {
    const stack: { commands: Command[]; index: number; scope: Scope; previous: string | null }[] = [
      { commands, index: start, scope: rootScope, previous: null },
    ];
    while (stack.length > 0 && !this.full) {
      const frame = stack[stack.length - 1];
      if (frame.index >= frame.commands.length) {
        stack.pop();
        continue;
      }
      const command = frame.commands[frame.index++];
      const previous = frame.previous;
      frame.previous = command.name;
      const inner = this.command(command, frame.scope, previous);
      if (inner !== null && command.block !== null) {
        stack.push({ commands: command.block, index: 0, scope: inner, previous: null });
      }
    }
  }

  /** Validates one command; returns the scope of its block, or null to skip the block. */
  command(command: Command, scope: Scope, previous: string | null): Scope | null {
    const { name, position } = command;
    if (name === "require") {
      this.error(position, "require must come before any other command (RFC 5228 3.2)");
      return null;
    }
    const signature = signatureOf("command", name);
    if (signature === undefined) {
      this.error(position, `unknown command '${name}'`);
      return scope;
    }
    if (!this.hasCapability(scope, signature.requires)) {
      this.error(position, `'${name}' needs require "${signature.requires![0]}"`);
      return scope;
    }
    if ((name === "elsif" || name === "else") && previous !== "if" && previous !== "elsif") {
      this.error(position, `${name} without a preceding if or elsif`);
    }
    if (signature.block && command.block === null) {
      this.error(position, `${name} needs a block in braces`);
    } else if (!signature.block && command.block !== null) {
      this.error(position, `${name} takes no block; end it with ';'`);
    }
    this.node(command, signature, scope);
    this.tests(command, signature, scope);
    let inner = scope;
    switch (name) {
      case "if":
      case "elsif":
        inner = this.ihaveScope(command.tests[0], scope) ?? scope;
        if (inner === IHAVE_UNSUPPORTED) return null;
        break;
      case "foreverypart": {
        const tag = command.arguments.findIndex((a) => a.kind === "tag" && a.name === "name");
        const labelValue = tag >= 0 ? command.arguments[tag + 1] : undefined;
        inner = {
          ...scope,
          foreverypart: [
            ...scope.foreverypart,
            labelValue?.kind === "string" ? labelValue.value : "",
          ],
        };
        break;
      }
      case "break": {
        if (scope.foreverypart.length === 0) {
          this.error(position, "break outside foreverypart (RFC 5703 3.2)");
        }
        const tag = command.arguments.findIndex((a) => a.kind === "tag" && a.name === "name");
        const label = command.arguments[tag + 1];
        if (
          tag >= 0 && label?.kind === "string" && scope.foreverypart.length > 0 &&
          !scope.foreverypart.includes(label.value)
        ) {
          this.error(
            label.position,
            `break :name "${label.value}": no enclosing foreverypart of that name`,
          );
        }
        break;
      }
      case "global":
      case "extracttext":
        if (!scope.capabilities.has("variables")) {
          this.error(position, `'${name}' needs require "variables"`);
        }
        if (name === "extracttext" && scope.foreverypart.length === 0) {
          this.error(position, "extracttext outside foreverypart (RFC 5703 7)");
        }
        break;
    }
    return inner;
  }

  /**
   * The scope inside `if ihave [...]` / `if allof(ihave [...], ...)`: the capabilities added, or
   * IHAVE_UNSUPPORTED when one is not supported; undefined when the test is not of that form.
   */
  ihaveScope(test: Test | undefined, scope: Scope): Scope | undefined {
    if (test === undefined || !scope.capabilities.has("ihave")) return undefined;
    const ihaves = test.name === "ihave"
      ? [test]
      : test.name === "allof"
      ? test.tests.filter((t) => t.name === "ihave")
      : [];
    if (ihaves.length === 0) return undefined;
    const added = new Set(scope.capabilities);
    for (const ihave of ihaves) {
      for (const arg of ihave.arguments) {
        const names = arg.kind === "string"
          ? [arg.value]
          : arg.kind === "stringList"
          ? arg.values
          : [];
        for (const capability of names) {
          if (!this.supported(capability)) return IHAVE_UNSUPPORTED;
          added.add(capability);
          for (const implied of IMPLIES[capability] ?? []) added.add(implied);
        }
      }
    }
    return { ...scope, capabilities: added };
  }

  /** Validates the tests under a command, iteratively. */
  tests(root: Command, signature: Signature, scope: Scope): void {
    const stack: Test[] = [...root.tests].reverse();
    while (stack.length > 0 && !this.full) {
      const test = stack.pop()!;
      const testSignature = signatureOf("test", test.name);
      if (testSignature === undefined) {
        this.error(test.position, `unknown test '${test.name}'`);
      } else if (!this.hasCapability(scope, testSignature.requires)) {
        this.error(
          test.position,
          `test '${test.name}' needs require "${testSignature.requires![0]}"`,
        );
      } else {
        this.node(test, testSignature, scope);
        this.testCount(test, testSignature);
        if (test.name === "ihave") this.constantStrings(test.arguments, "ihave");
      }
      for (let i = test.tests.length - 1; i >= 0; i--) stack.push(test.tests[i]);
    }
    this.testCount(root, signature);
  }

  testCount(node: Command | Test, signature: Signature): void {
    const count = node.tests.length;
    const what = `'${node.name}'`;
    if (signature.tests === "none" && count > 0) {
      this.error(node.tests[0].position, `${what} takes no test`);
    } else if (signature.tests === "one" && count !== 1) {
      this.error(
        node.position,
        count === 0 ? `${what} needs a test` : `${what} takes one test, not a test list`,
      );
    } else if (signature.tests === "list" && count === 0) {
      this.error(node.position, `${what} needs a test list in parentheses`);
    }
  }

  /** ihave's capabilities must be constants (RFC 5463 4). */
  constantStrings(args: Argument[], what: string): void {
    for (const arg of args) {
      const values = arg.kind === "string"
        ? [arg.value]
        : arg.kind === "stringList"
        ? arg.values
        : [];
      if (values.some((v) => v.includes("${"))) {
        this.error(arg.position, `${what}: variables are not allowed here`);
      }
    }
  }

  /** Tags and positional arguments of a command or test against its signature, then the rules of each name. */
  node(node: Command | Test, signature: Signature, scope: Scope): void {
    const tags = new Map<string, { spec: TagSpec; tag: Argument; value?: Argument }>();
    const groups = new Map<string, string>();
    const positional: Argument[] = [];
    const args = node.arguments;
    for (let i = 0; i < args.length; i++) {
      const arg = args[i];
      if (arg.kind !== "tag") {
        positional.push(arg);
        continue;
      }
      const spec = signature.tags.find((t) => t.name === arg.name);
      if (spec === undefined) {
        this.error(arg.position, `'${node.name}' has no tag :${arg.name}`);
        continue;
      }
      if (positional.length > 0) {
        this.error(arg.position, `tag :${arg.name} after positional arguments of '${node.name}'`);
      }
      if (!this.hasCapability(scope, spec.requires)) {
        this.error(arg.position, `tag :${arg.name} needs require "${spec.requires![0]}"`);
      }
      let value: Argument | undefined;
      if (spec.value !== undefined) {
        const next = args[i + 1];
        if (next === undefined || next.kind === "tag" || !argumentFits(next, spec.value)) {
          this.error(arg.position, `tag :${arg.name} needs ${KIND_NAMES[spec.value]}`);
        } else {
          value = next;
        }
        if (next !== undefined && next.kind !== "tag") i++;
      }
      if (tags.has(arg.name)) {
        this.error(arg.position, `tag :${arg.name} given twice`);
        continue;
      }
      if (spec.group !== undefined) {
        const other = groups.get(spec.group);
        if (other !== undefined) {
          this.error(arg.position, `tags :${other} and :${arg.name} exclude each other`);
        }
        groups.set(spec.group, arg.name);
      }
      tags.set(arg.name, { spec, tag: arg, value });
    }
    for (const group of signature.requiredGroups ?? []) {
      if (!groups.has(group)) {
        const names = signature.tags.filter((t) => t.group === group).map((t) => ":" + t.name);
        this.error(node.position, `'${node.name}' needs one of ${names.join(" ")}`);
      }
    }
    const required = signature.positional.filter((p) => !p.optional).length;
    const total = signature.positional.length;
    if (positional.length < required || positional.length > total) {
      const at = positional.length > total ? positional[total].position : node.position;
      const expected = required === total ? `${total}` : `${required} to ${total}`;
      this.error(
        at,
        `'${node.name}' takes ${expected} positional argument${
          total === 1 ? "" : "s"
        }, not ${positional.length}`,
      );
    } else {
      let optionals = positional.length - required;
      let at = 0;
      for (const spec of signature.positional) {
        if (spec.optional) {
          if (optionals === 0) continue;
          optionals--;
        }
        const arg = positional[at++];
        if (!argumentFits(arg, spec.kind)) {
          this.error(arg.position, `'${node.name}': ${spec.name} must be ${KIND_NAMES[spec.kind]}`);
        }
      }
    }
    this.rules(node, tags, positional, scope);
  }

  /** The rules of particular tags and names. */
  rules(
    node: Command | Test,
    tags: Map<string, { spec: TagSpec; tag: Argument; value?: Argument }>,
    positional: Argument[],
    scope: Scope,
  ): void {
    const variables = scope.capabilities.has("variables");
    const constant = (arg: Argument | undefined): arg is Argument & { kind: "string" } =>
      arg?.kind === "string" && !(variables && arg.value.includes("${"));
    if (scope.capabilities.has("encoded-character")) {
      for (const arg of node.arguments) this.encodedCharacters(arg);
    }
    const comparator = tags.get("comparator")?.value;
    if (constant(comparator)) {
      const name = comparator.value.toLowerCase();
      const capability = COMPARATORS.get(name);
      if (capability === undefined) {
        this.error(comparator.position, `unknown comparator "${comparator.value}"`);
      } else if (capability !== null && !scope.capabilities.has(capability)) {
        this.error(comparator.position, `comparator "${name}" needs require "${capability}"`);
      } else if (name === "i;ascii-numeric") {
        for (const substring of ["contains", "matches", "regex"]) {
          if (tags.has(substring)) {
            this.error(
              tags.get(substring)!.tag.position,
              `:${substring} cannot be used with comparator "i;ascii-numeric" (RFC 4790 9.1)`,
            );
          }
        }
      }
    }
    for (const relational of ["value", "count"]) {
      const operator = tags.get(relational)?.value;
      if (constant(operator) && !RELATIONAL_OPERATORS.has(operator.value.toLowerCase())) {
        this.error(
          operator.position,
          `:${relational} "${operator.value}": the operator is one of gt ge lt le eq ne`,
        );
      }
    }
    const index = tags.get("index");
    if (index?.value?.kind === "number" && index.value.value < 1) {
      this.error(index.value.position, ":index counts from 1");
    }
    if (
      tags.has("last") && !tags.has("index") && node.name !== "addheader" &&
      node.name !== "duplicate"
    ) {
      this.error(tags.get("last")!.tag.position, ":last needs :index");
    }
    if (
      (node.name === "header" || node.name === "address" || node.name === "exists") &&
      !tags.has("mime")
    ) {
      for (const mimeOnly of ["anychild", "type", "subtype", "contenttype", "param"]) {
        if (tags.has(mimeOnly)) {
          this.error(tags.get(mimeOnly)!.tag.position, `:${mimeOnly} needs :mime`);
        }
      }
    }
    const zone = tags.get("zone")?.value;
    if (constant(zone) && !ZONE.test(zone.value)) {
      this.error(zone.position, `:zone "${zone.value}" is not of the form +hhmm or -hhmm`);
    }
    // Constant :regex keys must compile and must not nest quantifiers (match.ts checkRegex).
    if (tags.has("regex")) {
      const keys = positional[positional.length - 1];
      for (const key of stringValues(keys)) {
        if (variables && key.includes("${")) continue;
        const problem = checkRegex(key);
        if (problem) this.error(keys!.position, problem);
      }
    }
    switch (node.name) {
      case "redirect": {
        const target = positional[0];
        if (
          constant(target) && !(variables && target.value.includes("${")) &&
          !(parseAddressList(target.value)[0]?.email ?? "").includes("@")
        ) {
          this.error(target.position, `redirect to "${target.value}": not an address`);
        }
        break;
      }
      case "address": {
        // RFC 5228 5.1: address works on fields that hold addresses.
        for (const field of stringValues(positional[0])) {
          if (variables && field.includes("${")) continue;
          if (!ADDRESS_FIELDS.has(field.toLowerCase())) {
            this.error(positional[0]!.position, `"${field}" is not a header field with addresses`);
          }
        }
        break;
      }
      case "vacation": {
        const days = tags.get("days")?.value;
        if (days?.kind === "number" && days.value < 1) {
          this.error(days.position, "vacation :days must be at least 1 (RFC 5230 4.1)");
        }
        break;
      }
      case "set":
      case "extracttext":
        if (constant(positional[0]) && !VARIABLE_NAME.test(positional[0].value)) {
          this.error(
            positional[0].position,
            `"${positional[0].value}" is not a variable name (RFC 5229 3)`,
          );
        }
        break;
      case "global":
        for (const name of stringValues(positional[0])) {
          if (!VARIABLE_NAME.test(name)) {
            this.error(positional[0].position, `"${name}" is not a variable name (RFC 5229 3)`);
          }
        }
        break;
      case "setflag":
      case "addflag":
      case "removeflag":
      case "hasflag":
        if (positional.length === 2) {
          for (const name of stringValues(positional[0])) {
            if (!VARIABLE_NAME.test(name)) {
              this.error(positional[0].position, `"${name}" is not a variable name (RFC 5229 3)`);
            }
          }
          if (!variables) {
            this.error(
              positional[0].position,
              `'${node.name}' with a variable name needs require "variables"`,
            );
          }
        }
        break;
      case "addheader":
      case "deleteheader":
        if (constant(positional[0]) && !FIELD_NAME.test(positional[0].value)) {
          this.error(positional[0].position, `"${positional[0].value}" is not a header field name`);
        }
        break;
      case "date":
      case "currentdate": {
        const part = positional[node.name === "date" ? 1 : 0];
        if (constant(part) && !DATE_PARTS.has(part.value.toLowerCase())) {
          this.error(part.position, `unknown date-part "${part.value}" (RFC 5260 4)`);
        }
        break;
      }
      case "notify": {
        const importance = tags.get("importance")?.value;
        if (constant(importance) && !["1", "2", "3"].includes(importance.value)) {
          this.error(importance.position, `:importance is "1", "2" or "3" (RFC 5435 3.4)`);
        }
        const method = positional[0];
        if (constant(method) && !method.value.toLowerCase().startsWith("mailto:")) {
          this.error(
            method.position,
            `unsupported notification method "${method.value.split(":")[0]}"`,
          );
        }
        break;
      }
      case "include": {
        const name = positional[0];
        if (name?.kind === "string" && variables && name.value.includes("${")) {
          this.error(name.position, "include: the script name must be a constant (RFC 6609 3.2)");
        } else if (constant(name) && (name.value === "" || /[/\0]/.test(name.value))) {
          this.error(name.position, `include: "${name.value}" is not a script name`);
        }
        break;
      }
    }
  }

  /** RFC 5228 2.4.2.4: a ${unicode:...} value outside 0-D7FF and E000-10FFFF is an error. */
  encodedCharacters(arg: Argument): void {
    for (const value of stringValues(arg)) {
      if (!value.includes("${")) continue;
      for (const match of value.matchAll(ENCODED_UNICODE)) {
        for (const hex of match[1].split(/[ \t\r\n]+/)) {
          const code = hex.length > 8 ? Infinity : parseInt(hex, 16);
          if (code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
            this.error(arg.position, `\${unicode:${hex}} is not a Unicode scalar value`);
          }
        }
      }
    }
  }
}

const IHAVE_UNSUPPORTED: Scope = { capabilities: new Set(), foreverypart: [] };

const KIND_NAMES: Record<ValueKind, string> = {
  string: "a string",
  stringList: "a string list",
  number: "a number",
};

/** Header fields that hold addresses (RFC 5322 3.6.2-3.6.6, RFC 2369, RFC 3798, Return-Path). */
const ADDRESS_FIELDS = new Set([
  "from",
  "sender",
  "reply-to",
  "to",
  "cc",
  "bcc",
  "resent-from",
  "resent-sender",
  "resent-to",
  "resent-cc",
  "resent-bcc",
  "return-path",
  "disposition-notification-to",
  "errors-to",
  "delivered-to",
  "x-original-to",
  "envelope-to",
  "original-recipient",
  "mail-followup-to",
  "mail-reply-to",
]);

function stringValues(arg: Argument | undefined): string[] {
  if (arg?.kind === "string") return [arg.value];
  if (arg?.kind === "stringList") return arg.values;
  return [];
}

/**
 * Parses and validates a Sieve script.
 *
 * @example
 * const result = compileSieve('require "fileinto"; fileinto "Junk";', { maxSize: 65536, maxNesting: 32 });
 * if (!result.ok) console.log(result.errors.map((e) => e.message));
 */
export function compileSieve(source: string, options: CompileOptions): CompileResult {
  let script: Script;
  try {
    script = parseSieve(source, options);
  } catch (error) {
    if (error instanceof SieveError) return { ok: false, errors: [error] };
    throw error;
  }
  const validator = new Validator(options.enabled ?? new Set(SUPPORTED_EXTENSIONS));
  const start = validator.readRequires(script.commands);
  validator.block(script.commands, start, {
    capabilities: validator.requires,
    foreverypart: [],
  });
  if (validator.errors.length > 0) {
    const errors = validator.errors.sort((a, b) =>
      a.position.line - b.position.line || a.position.column - b.position.column
    );
    return { ok: false, errors };
  }
  return { ok: true, script, requires: validator.requires };
}

/**
 * Compiled scripts by the SHA-256 of their source (and the options they were compiled with),
 * least recently used dropped beyond `maxEntries`. Failures are cached too: a broken script
 * delivered to many times is compiled once.
 *
 * @example
 * const cache = new CompiledCache(1000);
 * const result = cache.compile(source, { maxSize: 65536, maxNesting: 32 });
 */
export class CompiledCache {
  #entries = new Map<string, CompileResult>();
  readonly maxEntries: number;

  constructor(maxEntries: number) {
    this.maxEntries = maxEntries;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The cached result for this source and options, compiling on a miss. */
  compile(source: string, options: CompileOptions): CompileResult {
    const key = CompiledCache.key(source, options);
    const hit = this.#entries.get(key);
    if (hit !== undefined) {
      this.#entries.delete(key);
      this.#entries.set(key, hit);
      return hit;
    }
    const result = compileSieve(source, options);
    if (this.maxEntries > 0) {
      this.#entries.set(key, result);
      while (this.#entries.size > this.maxEntries) {
        this.#entries.delete(this.#entries.keys().next().value!);
      }
    }
    return result;
  }

  clear(): void {
    this.#entries.clear();
  }

  static key(source: string, options: CompileOptions): string {
    const enabled = options.enabled === undefined ? "*" : [...options.enabled].sort().join(",");
    return `${
      sha256Hex(new TextEncoder().encode(source))
    }/${options.maxSize}/${options.maxNesting}/${enabled}`;
  }
}
