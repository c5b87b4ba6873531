/**
 * The Sieve interpreter (RFC 5228 and extensions): runs a validated script against one message
 * for one recipient and returns what should happen — the outcome — without doing any of it.
 * Delivery (src/sieve/deliver.ts) carries the outcome out through the message path and the
 * outbound queue.
 *
 * Implementation notes:
 * - Implicit keep (RFC 5228 2.10.2) holds unless discard, fileinto or redirect without :copy,
 *   reject, or a cancelled keep removes it; any runtime error — a budget exceeded, too many
 *   actions or redirects — makes the outcome "keep, with the error" (RFC 5228 2.10.6), so a
 *   broken script never loses mail.
 * - Work is budgeted: every command and test costs a step, every compared value one; the
 *   budget, the number of actions and of redirects come from the caller (config [sieve]).
 * - Header values are unfolded and RFC 2047-decoded before comparison (RFC 5228 2.7.2);
 *   address tests parse the address lists, so comments and groups do not match.
 * - Variables (RFC 5229) expand in every string argument of a script that requires
 *   "variables"; match variables come from the last successful :matches or :regex.
 * - imap4flags (RFC 5232): the internal flag variable feeds keep and fileinto without :flags.
 * - The interpreter never waits: what lives in the store (seen duplicate ids, mailbox roles and
 *   ids, included personal scripts) is loaded by the caller and asked through the environment.
 * - duplicate (RFC 7352) only asks; the ids to record come back in the outcome and are written
 *   by delivery after a successful run.
 * - foreverypart (RFC 5703 3) changes the "current part" that :mime tests, body :content,
 *   extracttext and replace see; replace and enclose never touch env.raw, they produce the
 *   outcome's `replacement`.
 * - include (RFC 6609): each included script has its own variables and requires; only names
 *   both scripts declare global are shared. Depth is capped (MAX_INCLUDE_DEPTH).
 */
import type { Argument, Command, Position, Script, Test } from "./ast.ts";
import { SieveError } from "./ast.ts";
import { bindArguments, signatureOf, SUPPORTED_EXTENSIONS } from "./extensions.ts";
import {
  checkRegex,
  type Comparator,
  fold,
  matchAny,
  type MatchOptions,
  type MatchType,
  type Relation,
} from "./match.ts";
import { decodePartBody, type MimePart, partText } from "../mail/mime.ts";
import { decodeEncodedWords, parseHeaderFields, unfold } from "../mail/headers.ts";
import { parseAddressList } from "../mail/address.ts";
import { extractText } from "../mail/text.ts";
import { htmlToText } from "../mail/html.ts";
import { encodeText } from "../mail/compose.ts";
import { latin1 } from "../mail/charset.ts";
import { parseDate } from "../mail/date.ts";

export interface SieveEnvironment {
  raw: Uint8Array;
  mime: MimePart;
  envelope: { from: string; to: string };
  /** Mailbox names that exist for the recipient (fileinto without :create, mailboxexists). */
  mailboxExists(name: string): boolean;
  /** special-use (RFC 8579): the special-use attributes ("\\Junk", ...) of a mailbox. */
  specialUseOf?(name: string): string[];
  /** special-use (RFC 8579): whether a mailbox has this special-use attribute. */
  specialUseExists?(attribute: string): boolean;
  /** mailboxid (RFC 9042): whether a mailbox has this id (as JMAP shows it). */
  mailboxIdExists?(id: string): boolean;
  /** include (RFC 6609): the recipient's personal script of that name, compiled; or null. */
  include?(name: string): IncludedScript | null;
  /** The spam score as 0–10 (spamtest) and percent (spamtestplus), or null when unknown. */
  spam?: { score: number; percent: number } | null;
  /** The virus verdict (virustest, RFC 5235 3.2) from 1 (clean) to 5, or null when unknown. */
  virus?: number | null;
  /** The "environment" extension's items (RFC 5183): domain, host, name, version, ... */
  items?: Record<string, string>;
  now?: Date;
  /**
   * duplicate (RFC 7352): true when `id` (handle and unique id) is in the recipient's list of
   * seen ids. Only asks; the ids to record come back in the outcome's `duplicates`.
   */
  duplicate?(id: string, seconds: number, last: boolean): boolean;
}

export interface IncludedScript {
  script: Script;
  requires: ReadonlySet<string>;
}

export interface SieveLimits {
  maxActions: number;
  maxRedirects: number;
  /** Steps (commands, tests, compared values) one run may take. */
  budget: number;
  /** How deep included scripts may nest (RFC 6609); [sieve] max_include_depth. */
  maxIncludeDepth?: number;
  /** duplicate's period without :seconds (RFC 7352 3.2 leaves it to the site); seconds. */
  duplicatePeriod?: number;
}

export interface FileInto {
  mailbox: string;
  flags: string[];
  create: boolean;
  copy: boolean;
  specialUse: string | null;
  mailboxId: string | null;
}

export interface Vacation {
  reason: string;
  subject: string | null;
  from: string | null;
  addresses: string[];
  /** Seconds between replies to one sender. */
  period: number;
  handle: string | null;
  mime: boolean;
}

export interface SieveOutcome {
  /** Keep into INBOX with these flags, or null when cancelled. */
  keep: { flags: string[] } | null;
  fileinto: FileInto[];
  redirects: { address: string; copy: boolean }[];
  reject: { reason: string; extended: boolean } | null;
  discard: boolean;
  vacation: Vacation | null;
  notifications: {
    method: string;
    message: string | null;
    importance: string;
    /** The :from address (RFC 5435 3.2), or null. */
    from: string | null;
  }[];
  /** Header edits (editheader) in order, applied to every stored or redirected copy. */
  headerEdits: ({ add: { name: string; value: string; last: boolean } } | {
    delete: {
      name: string;
      index: number | null;
      last: boolean;
      values: string[] | null;
      match: MatchOptions;
    };
  })[];
  /**
   * duplicate (RFC 7352 3): the ids to record once the script has succeeded and its actions
   * are carried out; `last` renews the period from this message.
   */
  duplicates: { id: string; handle: string | null; seconds: number; last: boolean }[];
  /**
   * replace and enclose (RFC 5703 5, 6): the message every stored or redirected copy gets
   * instead of the original (header edits apply on top), or null when unchanged.
   */
  replacement: Uint8Array | null;
  /** Runtime errors; with any, the outcome is an implicit keep. */
  errors: string[];
}

const DEFAULT_DAYS = 7;
/** The [sieve] defaults, for callers (tests, tools) that pass no value. */
const MAX_INCLUDE_DEPTH = 10;
const DEFAULT_DUPLICATE_SECONDS = 7 * 86400;

interface Bound {
  tags: Map<string, Argument | true>;
  positional: Argument[];
}

/** Tags and positional arguments by the extension table (extensions.ts). */
function bind(node: Command | Test, kind: "command" | "test"): Bound {
  const signature = signatureOf(kind, node.name);
  if (signature) return bindArguments(node, signature);
  return { tags: new Map(), positional: node.arguments.filter((a) => a.kind !== "tag") };
}

class Stop extends Error {}
/** return (RFC 6609 3.3): ends the included script; at the top level it ends the run. */
class Return extends Error {}
/** break (RFC 5703 3), leaving the innermost loop or the one named. */
class Break extends Error {
  constructor(readonly loop: string | null) {
    super("break");
  }
}
class RuntimeFailure extends Error {
  constructor(readonly position: Position, message: string) {
    super(message);
  }
}

/** Runs `script`; never throws (errors become an implicit keep with `errors`). */
export function runSieve(
  script: Script,
  env: SieveEnvironment,
  limits: SieveLimits,
  requires: ReadonlySet<string> = new Set(),
): SieveOutcome {
  const run = new Run(env, limits, requires);
  try {
    try {
      run.block(script.commands);
    } catch (error) {
      if (!(error instanceof Stop) && !(error instanceof Return)) throw error;
    }
    return run.outcome();
  } catch (error) {
    const message = error instanceof RuntimeFailure
      ? new SieveError(error.position, error.message).message
      : error instanceof SieveError
      ? error.message
      : `internal error: ${(error as Error).message}`;
    return {
      keep: { flags: [] },
      fileinto: [],
      redirects: [],
      reject: null,
      discard: false,
      vacation: null,
      notifications: [],
      headerEdits: [],
      duplicates: [],
      replacement: null,
      errors: [message],
    };
  }
}

class Run {
  #steps = 0;
  #actions = 0;
  #implicitKeep = true;
  #explicitKeep: { flags: string[] } | null = null;
  #flags: string[] = [];
  #variables = new Map<string, string>();
  #matchVariables: string[] = [];
  #fileinto: FileInto[] = [];
  #redirects: { address: string; copy: boolean }[] = [];
  #reject: { reason: string; extended: boolean } | null = null;
  #rejectAt: Position | null = null;
  #discard = false;
  #vacation: Vacation | null = null;
  #notifications: SieveOutcome["notifications"] = [];
  #headerEdits: SieveOutcome["headerEdits"] = [];
  #duplicates: SieveOutcome["duplicates"] = [];
  /** replace inside foreverypart: byte ranges of the original and what takes their place. */
  #partReplacements: { start: number; end: number; entity: string }[] = [];
  /** replace outside foreverypart: the new body (a MIME entity) and header changes. */
  #messageReplacement: { entity: string; subject: string | null; from: string | null } | null =
    null;
  #enclosure: { text: string; subject: string | null; headers: string[] } | null = null;
  #headers: { name: string; value: string }[] | null = null;
  /** foreverypart (RFC 5703 3): the part the innermost loop is at; null outside loops. */
  #currentPart: MimePart | null = null;
  #variablesOn: boolean;
  #requires: ReadonlySet<string>;
  /** include (RFC 6609 3.4): names the running script declared global, and their values. */
  #globalNames = new Set<string>();
  #globals = new Map<string, string>();
  /** Scripts being included ("personal:name"), innermost last; and all ever included. */
  #includeStack: string[] = [];
  #included = new Set<string>();

  constructor(
    readonly env: SieveEnvironment,
    readonly limits: SieveLimits,
    requires: ReadonlySet<string>,
  ) {
    this.#requires = requires;
    this.#variablesOn = requires.has("variables");
  }

  #variable(name: string): string | undefined {
    const lower = name.toLowerCase();
    if (lower.startsWith("global.")) return this.#globals.get(lower.slice(7));
    return (this.#globalNames.has(lower) ? this.#globals : this.#variables).get(lower);
  }

  #setVariable(name: string, value: string): void {
    const lower = name.toLowerCase();
    if (lower.startsWith("global.")) this.#globals.set(lower.slice(7), value);
    else (this.#globalNames.has(lower) ? this.#globals : this.#variables).set(lower, value);
  }

  outcome(): SieveOutcome {
    // RFC 5429 2.1: reject and ereject cannot be combined with keep, fileinto, redirect or
    // vacation; such a script fails (and the message is kept).
    if (
      this.#reject &&
      (this.#explicitKeep || this.#fileinto.length || this.#redirects.length || this.#vacation)
    ) {
      throw new SieveError(
        this.#rejectAt!,
        "reject cannot be combined with keep, fileinto, redirect or vacation",
      );
    }
    const keep = this.#explicitKeep ?? (this.#implicitKeep ? { flags: [...this.#flags] } : null);
    return {
      keep: this.#discard && !this.#explicitKeep ? null : keep,
      fileinto: this.#fileinto,
      redirects: this.#redirects,
      reject: this.#reject,
      discard: this.#discard,
      vacation: this.#vacation,
      notifications: this.#notifications,
      headerEdits: this.#headerEdits,
      duplicates: this.#duplicates,
      replacement: this.#replacement(),
      errors: [],
    };
  }

  #step(position: Position, cost = 1) {
    this.#steps += cost;
    if (this.#steps > this.limits.budget) {
      throw new RuntimeFailure(position, "the script ran out of its execution budget");
    }
  }

  #action(position: Position) {
    if (++this.#actions > this.limits.maxActions) {
      throw new RuntimeFailure(position, `more than ${this.limits.maxActions} actions`);
    }
  }

  block(commands: Command[]): void {
    let lastIf: boolean | null = null;
    for (const command of commands) {
      this.#step(command.position);
      if (command.name === "elsif" || command.name === "else") {
        if (lastIf === null) {
          throw new RuntimeFailure(command.position, `${command.name} without if`);
        }
        if (lastIf) continue;
        if (command.name === "else") {
          lastIf = null;
          this.block(command.block ?? []);
          continue;
        }
        lastIf = this.test(command.tests[0]);
        if (lastIf) this.block(command.block ?? []);
        continue;
      }
      if (command.name === "if") {
        lastIf = this.test(command.tests[0]);
        if (lastIf) this.block(command.block ?? []);
        continue;
      }
      lastIf = null;
      this.command(command);
    }
  }

  // ---- strings ----

  #string(arg: Argument | true | undefined): string {
    if (arg === undefined || arg === true) return "";
    if (arg.kind === "string") return this.#expand(arg.value);
    if (arg.kind === "stringList") return this.#expand(arg.values[0] ?? "");
    if (arg.kind === "number") return String(arg.value);
    return "";
  }

  #strings(arg: Argument | true | undefined): string[] {
    if (arg === undefined || arg === true) return [];
    if (arg.kind === "string") return [this.#expand(arg.value)];
    if (arg.kind === "stringList") return arg.values.map((v) => this.#expand(v));
    if (arg.kind === "number") return [String(arg.value)];
    return [];
  }

  #number(arg: Argument | true | undefined, fallback: number): number {
    if (arg && arg !== true && arg.kind === "number") return arg.value;
    return fallback;
  }

  /** RFC 5229 3: ${name}, ${0}–${9}; unknown names are empty; not recursive. */
  #expand(text: string): string {
    if (!text.includes("${")) return text;
    if (this.#requires.has("encoded-character")) text = decodeEncodedCharacters(text);
    if (!this.#variablesOn) return text;
    return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_.]*|[0-9]+)\}/g, (_, name: string) => {
      if (/^[0-9]+$/.test(name)) return this.#matchVariables[Number(name)] ?? "";
      return this.#variable(name) ?? "";
    });
  }

  // ---- message access ----

  #headerFields(): { name: string; value: string }[] {
    if (!this.#headers) {
      const { raw, mime } = this.env;
      this.#headers = parseHeaderFields(raw, mime.headerStart, mime.headerEnd).map((f) => ({
        name: f.name.toLowerCase(),
        value: unfold(f.raw).trim(),
      }));
      // editheader additions are visible to later tests (RFC 5293 4).
    }
    return this.#headers;
  }

  /** The decoded values of the fields, or with :index (RFC 5260 6) the chosen occurrence of each. */
  #headerValues(names: string[], bound?: Bound): string[] {
    const lower = names.map((n) => n.toLowerCase());
    const index = bound?.tags.has("index") ? this.#number(bound.tags.get("index"), 1) : 0;
    const values: string[] = [];
    for (const name of index ? lower : [null]) {
      const own: string[] = [];
      for (const field of this.#headerFields()) {
        if (name === null ? lower.includes(field.name) : field.name === name) {
          own.push(decodeEncodedWords(field.value));
        }
      }
      if (!index) {
        values.push(...own);
        continue;
      }
      const chosen = bound!.tags.has("last") ? own[own.length - index] : own[index - 1];
      if (chosen !== undefined) values.push(chosen);
    }
    return values;
  }

  /**
   * RFC 5703 4.1: with :mime the fields come from the current MIME part (the message's header
   * outside foreverypart), with :anychild from it and every part under it; :type, :subtype,
   * :contenttype and :param pick a piece of a Content-Type or Content-Disposition value.
   */
  #mimeValues(names: string[], bound: Bound): string[] {
    const lower = names.map((n) => n.toLowerCase());
    const current = this.#currentPart ?? this.env.mime;
    const parts = bound.tags.has("anychild") ? allParts(current) : [current];
    const values: string[] = [];
    for (const part of parts) {
      const fields = part === this.env.mime
        ? this.#headerFields()
        : parseHeaderFields(this.env.raw, part.headerStart, part.headerEnd).map((f) => ({
          name: f.name.toLowerCase(),
          value: unfold(f.raw).trim(),
        }));
      for (const field of fields) {
        if (!lower.includes(field.name)) continue;
        values.push(...this.#mimePiece(field.name, decodeEncodedWords(field.value), part, bound));
      }
    }
    return values;
  }

  #mimePiece(name: string, value: string, part: MimePart, bound: Bound): string[] {
    const [head, ...rest] = splitParameters(value);
    const structured = name === "content-type" || name === "content-disposition";
    if (bound.tags.has("param")) {
      const wanted = this.#strings(bound.tags.get("param")).map((n) => n.toLowerCase());
      const params: Record<string, string> = name === "content-type"
        ? part.params
        : name === "content-disposition"
        ? part.dispositionParams
        : parameterMap(rest);
      return wanted.map((n) => params[n]).filter((v): v is string => v !== undefined);
    }
    if (!structured) return [value];
    const slash = head.indexOf("/");
    if (bound.tags.has("type")) return [slash >= 0 ? head.slice(0, slash) : head];
    if (bound.tags.has("subtype")) return slash >= 0 ? [head.slice(slash + 1)] : [];
    if (bound.tags.has("contenttype")) return [head];
    return [value];
  }

  #matchOptions(bound: Bound, position: Position): MatchOptions {
    let matchType: MatchType = "is";
    let relation: Relation | undefined;
    for (const type of ["is", "contains", "matches", "regex", "value", "count"] as const) {
      const tag = bound.tags.get(type);
      if (tag === undefined) continue;
      matchType = type;
      if (type === "value" || type === "count") {
        const rel = this.#string(tag).toLowerCase();
        if (!["gt", "ge", "lt", "le", "eq", "ne"].includes(rel)) {
          throw new RuntimeFailure(position, `bad relational operator "${rel}"`);
        }
        relation = rel as Relation;
      }
    }
    const comparator = (this.#string(bound.tags.get("comparator")) || "i;ascii-casemap")
      .toLowerCase() as Comparator;
    return { matchType, comparator, relation };
  }

  #match(values: string[], keys: string[], options: MatchOptions, position: Position): boolean {
    this.#step(position, values.length * Math.max(1, keys.length));
    this.#checkKeys(keys, options, position);
    const variables = matchAny(values, keys, options);
    if (variables === null) return false;
    if (options.matchType === "matches" || options.matchType === "regex") {
      this.#matchVariables = variables;
    }
    return true;
  }

  /**
   * A :regex pattern that does not compile, or could backtrack exponentially, fails the script
   * (compile.ts does not check constant keys yet; keys with variables are only known now).
   */
  #checkKeys(keys: string[], options: MatchOptions, position: Position): void {
    if (options.matchType !== "regex") return;
    for (const key of keys) {
      const problem = checkRegex(key);
      if (problem) throw new RuntimeFailure(position, problem);
    }
  }

  #addressPart(address: string, bound: Bound): string | null {
    const at = address.lastIndexOf("@");
    const local = at >= 0 ? address.slice(0, at) : address;
    const domain = at >= 0 ? address.slice(at + 1) : "";
    if (bound.tags.has("localpart")) return local;
    if (bound.tags.has("domain")) return domain;
    if (bound.tags.has("user") || bound.tags.has("detail")) {
      const plus = local.indexOf("+");
      if (bound.tags.has("user")) return plus >= 0 ? local.slice(0, plus) : local;
      return plus >= 0 ? local.slice(plus + 1) : null; // no detail: the test fails (RFC 5233 4)
    }
    return address;
  }

  // ---- tests ----

  test(test: Test): boolean {
    this.#step(test.position);
    const bound = bind(test, "test");
    const p = bound.positional;
    switch (test.name) {
      case "true":
        return true;
      case "false":
        return false;
      case "not":
        return !this.test(test.tests[0]);
      case "allof":
        return test.tests.every((t) => this.test(t));
      case "anyof":
        return test.tests.some((t) => this.test(t));
      case "exists": {
        const names = this.#strings(p[0]);
        if (bound.tags.has("mime")) {
          return names.every((name) => this.#mimeValues([name], bound).length > 0);
        }
        return names.every((name) => this.#headerValues([name]).length > 0);
      }
      case "size": {
        const limit = this.#number(p[0], 0);
        const size = this.env.raw.length;
        if (bound.tags.has("over")) return size > limit;
        return size < limit;
      }
      case "header": {
        const values = bound.tags.has("mime")
          ? this.#mimeValues(this.#strings(p[0]), bound)
          : this.#headerValues(this.#strings(p[0]), bound);
        return this.#match(
          values,
          this.#strings(p[1]),
          this.#matchOptions(bound, test.position),
          test.position,
        );
      }
      case "address": {
        const values: string[] = [];
        const fields = bound.tags.has("mime")
          ? this.#mimeValues(this.#strings(p[0]), bound)
          : this.#headerValues(this.#strings(p[0]), bound);
        for (const value of fields) {
          for (const address of parseAddressList(value)) {
            const part = this.#addressPart(address.email, bound);
            if (part !== null) values.push(part);
          }
        }
        return this.#match(
          values,
          this.#strings(p[1]),
          this.#matchOptions(bound, test.position),
          test.position,
        );
      }
      case "envelope": {
        const values: string[] = [];
        for (const part of this.#strings(p[0]).map((s) => s.toLowerCase())) {
          const address = part === "from"
            ? this.env.envelope.from
            : part === "to"
            ? this.env.envelope.to
            : null;
          if (address === null) continue;
          if (address === "" && part === "from") {
            values.push(""); // the null reverse-path matches "" (RFC 5228 5.4)
            continue;
          }
          const value = this.#addressPart(address, bound);
          if (value !== null) values.push(value);
        }
        return this.#match(
          values,
          this.#strings(p[1]),
          this.#matchOptions(bound, test.position),
          test.position,
        );
      }
      case "string": {
        // RFC 5229 5: an empty source string counts as no value for :count.
        const values = this.#strings(p[0]);
        const options = this.#matchOptions(bound, test.position);
        const counted = options.matchType === "count" ? values.filter((v) => v !== "") : values;
        return this.#match(counted, this.#strings(p[1]), options, test.position);
      }
      case "body": {
        const options = this.#matchOptions(bound, test.position);
        if (bound.tags.has("content")) {
          const types = this.#strings(bound.tags.get("content"));
          const texts = contentParts(this.#currentPart ?? this.env.mime, types).map((part) =>
            contentText(this.env.raw, part)
          );
          return this.#match(texts, this.#strings(p[0]), options, test.position);
        }
        const text = bound.tags.has("raw")
          ? new TextDecoder().decode(this.env.raw.subarray(this.env.mime.bodyStart))
          : extractText(this.env.raw, this.env.mime).text;
        return this.#match([text], this.#strings(p[0]), options, test.position);
      }
      case "hasflag": {
        const keys = this.#strings(p[p.length - 1]);
        const options = this.#matchOptions(bound, test.position);
        // With a variable list first (RFC 5232 5), the flags held in those variables.
        const flags = p.length === 2
          ? this.#strings(p[0]).flatMap((name) =>
            (this.#variable(name) ?? "").split(" ").filter(Boolean)
          )
          : [...this.#flags];
        return this.#match(flags, keys, options, test.position);
      }
      case "mailboxidexists":
        return this.#strings(p[0]).every((id) => this.env.mailboxIdExists?.(id) ?? false);
      case "specialuse_exists": {
        // RFC 8579 3: with a mailbox name, that mailbox has every attribute; without, each
        // attribute belongs to some mailbox. Attributes compare case-insensitively.
        const attributes = this.#strings(p[p.length - 1]).map((a) => a.toLowerCase());
        if (p.length === 2) {
          const name = this.#string(p[0]);
          if (!this.env.mailboxExists(name)) return false;
          const own = (this.env.specialUseOf?.(name) ?? []).map((a) => a.toLowerCase());
          return attributes.every((a) => own.includes(a));
        }
        return attributes.every((a) => this.env.specialUseExists?.(a) ?? false);
      }
      case "mailboxexists":
        return this.#strings(p[0]).every((name) => this.env.mailboxExists(name));
      case "spamtest":
      case "virustest": {
        // RFC 5235: "0" = not tested; a tested message is 1..10 (spamtest) or 1..5 (virustest).
        let value = "0";
        if (test.name === "spamtest" && this.env.spam) {
          value = bound.tags.has("percent")
            ? String(Math.min(100, Math.max(0, Math.round(this.env.spam.percent))))
            : String(Math.min(10, Math.max(1, Math.floor(this.env.spam.score))));
        } else if (test.name === "virustest" && typeof this.env.virus === "number") {
          value = String(Math.min(5, Math.max(1, Math.floor(this.env.virus))));
        }
        const options = this.#matchOptions(bound, test.position);
        return this.#match([value], this.#strings(p[0]), {
          ...options,
          comparator: options.matchType === "matches" || options.matchType === "contains"
            ? options.comparator
            : "i;ascii-numeric",
        }, test.position);
      }
      case "currentdate":
      case "date": {
        const part = this.#strings(p[test.name === "date" ? 1 : 0])[0]?.toLowerCase() ?? "";
        const keys = this.#strings(p[test.name === "date" ? 2 : 1]);
        let date: Date | null = this.env.now ?? new Date();
        let zone: string | null = this.#string(bound.tags.get("zone")) || null;
        if (test.name === "date") {
          const values = this.#headerValues(this.#strings(p[0]));
          const index = this.#number(bound.tags.get("index"), 0);
          const chosen = index > 0
            ? (bound.tags.has("last") ? values[values.length - index] : values[index - 1])
            : values[0];
          // RFC 5260 4: in a Received field the date-time follows the last ";".
          const dateText =
            chosen !== undefined && chosen.includes(";") && parseDate(chosen) === null
              ? chosen.slice(chosen.lastIndexOf(";") + 1).trim()
              : chosen;
          date = dateText === undefined ? null : parseDate(dateText);
          if (date && bound.tags.has("originalzone")) {
            // RFC 5260 4: the zone the header was written in.
            zone = /([+-]\d{4})\s*(\([^)]*\))?\s*$/.exec(dateText!)?.[1] ?? "+0000";
          }
        }
        if (!date) return false;
        const value = datePart(date, part, zone);
        if (value === null) return false;
        return this.#match([value], keys, this.#matchOptions(bound, test.position), test.position);
      }
      case "environment": {
        const name = this.#string(p[0]).toLowerCase();
        const value = this.env.items?.[name];
        if (value === undefined) return false;
        return this.#match(
          [value],
          this.#strings(p[1]),
          this.#matchOptions(bound, test.position),
          test.position,
        );
      }
      case "duplicate": {
        // RFC 7352 3: the id is the Message-ID unless :header or :uniqueid says otherwise; no
        // id, no test (false) and nothing to record. The id is recorded only when the script
        // succeeds, so a second test of the same id in one run answers as the first did.
        const id = bound.tags.has("uniqueid")
          ? this.#string(bound.tags.get("uniqueid"))
          : this.#headerValues([this.#string(bound.tags.get("header")) || "message-id"])[0];
        if (id === undefined || (!bound.tags.has("uniqueid") && id.trim() === "")) return false;
        const handle = bound.tags.has("handle") ? this.#string(bound.tags.get("handle")) : null;
        const seconds = this.#number(
          bound.tags.get("seconds"),
          this.limits.duplicatePeriod ?? DEFAULT_DUPLICATE_SECONDS,
        );
        const last = bound.tags.has("last");
        const key = `${handle ?? ""}\u0000${bound.tags.has("uniqueid") ? id : id.trim()}`;
        const seen = this.env.duplicate?.(key, seconds, last) ?? false;
        if (!this.#duplicates.some((d) => d.id === key)) {
          this.#duplicates.push({ id: key, handle, seconds, last });
        }
        return seen;
      }
      case "ihave":
        return this.#strings(p[0]).every((capability) =>
          this.#requires.has(capability) ||
          IHAVE.has(capability)
        );
      case "notify_method_capability": {
        // RFC 5435 5: mailto can only say "maybe" about the recipient being online (RFC 5436).
        const uri = this.#string(p[0]);
        const capability = this.#string(p[1]).toLowerCase();
        if (!/^mailto:[^\s]+$/i.test(uri) || capability !== "online") return false;
        return this.#match(
          ["maybe"],
          this.#strings(p[2]),
          this.#matchOptions(bound, test.position),
          test.position,
        );
      }
      case "valid_notify_method":
        return this.#strings(p[0]).every((uri) => /^mailto:[^\s]+$/i.test(uri));
      default:
        throw new RuntimeFailure(test.position, `unknown test ${test.name}`);
    }
  }

  // ---- commands ----

  command(command: Command): void {
    const bound = bind(command, "command");
    const p = bound.positional;
    const at = command.position;
    switch (command.name) {
      case "require":
        return;
      case "stop":
        throw new Stop();
      case "foreverypart":
        return this.#forEveryPart(command, bound);
      case "replace": {
        // RFC 5703 5: the current part (and its children), or outside a loop the whole body.
        const text = this.#string(p[0]);
        const entity = bound.tags.has("mime") ? crlf(text) : textEntity(text);
        const part = this.#currentPart;
        if (part && part !== this.env.mime) {
          const overlapping = this.#partReplacements.some((r) =>
            r.start < part.bodyEnd && part.headerStart < r.end
          );
          if (overlapping) throw new RuntimeFailure(at, "this part was already replaced");
          this.#partReplacements.push({ start: part.headerStart, end: part.bodyEnd, entity });
          return;
        }
        this.#messageReplacement = {
          entity,
          subject: bound.tags.has("subject") ? this.#string(bound.tags.get("subject")) : null,
          from: bound.tags.has("from") ? this.#string(bound.tags.get("from")) : null,
        };
        return;
      }
      case "enclose":
        // RFC 5703 6: the last enclose wins.
        this.#enclosure = {
          text: this.#string(p[0]),
          subject: bound.tags.has("subject") ? this.#string(bound.tags.get("subject")) : null,
          headers: this.#strings(bound.tags.get("headers")).map((h) => h.toLowerCase()),
        };
        return;
      case "include":
        return this.#include(command, bound);
      case "return":
        throw new Return();
      case "global":
        // RFC 6609 3.4: these names now refer to the variables shared between scripts.
        for (const name of this.#strings(p[0])) this.#globalNames.add(name.toLowerCase());
        return;
      case "break":
        throw new Break(bound.tags.has("name") ? this.#string(bound.tags.get("name")) : null);
      case "extracttext": {
        // RFC 5703 7: the current part's text (HTML converted), :first characters of it.
        const part = this.#currentPart;
        if (!part) throw new RuntimeFailure(at, "extracttext outside foreverypart");
        let text = "";
        if (part.type === "text") {
          text = partText(this.env.raw, part);
          if (part.subtype === "html") text = htmlToText(text);
        }
        if (bound.tags.has("first")) {
          text = [...text].slice(0, this.#number(bound.tags.get("first"), 0)).join("");
        }
        this.#setVariable(this.#string(p[0]), applyModifiers(text, bound));
        return;
      }
      case "keep": {
        this.#action(at);
        const flags = bound.tags.has("flags")
          ? this.#flagList(bound.tags.get("flags"))
          : [...this.#flags];
        this.#explicitKeep = { flags };
        this.#implicitKeep = false;
        return;
      }
      case "discard":
        this.#discard = true;
        this.#implicitKeep = false;
        return;
      case "fileinto": {
        this.#action(at);
        const mailbox = this.#string(p[0]);
        const flags = bound.tags.has("flags")
          ? this.#flagList(bound.tags.get("flags"))
          : [...this.#flags];
        const copy = bound.tags.has("copy");
        const existing = this.#fileinto.find((f) => f.mailbox === mailbox);
        if (existing) existing.flags = [...new Set([...existing.flags, ...flags])];
        else {
          this.#fileinto.push({
            mailbox,
            flags,
            create: bound.tags.has("create"),
            copy,
            specialUse: bound.tags.has("specialuse")
              ? this.#string(bound.tags.get("specialuse"))
              : null,
            mailboxId: bound.tags.has("mailboxid")
              ? this.#string(bound.tags.get("mailboxid"))
              : null,
          });
        }
        if (!copy) this.#implicitKeep = false;
        return;
      }
      case "redirect": {
        this.#action(at);
        // "Carol <carol@example.org>" is an address too (RFC 5228 4.2).
        const given = this.#string(p[0]).trim();
        const address = parseAddressList(given)[0]?.email ?? given;
        if (!/^[^\s@<>]+@[^\s@<>]+$/.test(address)) {
          throw new RuntimeFailure(at, `redirect to an invalid address "${address}"`);
        }
        if (!this.#redirects.some((r) => r.address.toLowerCase() === address.toLowerCase())) {
          if (this.#redirects.length >= this.limits.maxRedirects) {
            throw new RuntimeFailure(at, `more than ${this.limits.maxRedirects} redirects`);
          }
          this.#redirects.push({ address, copy: bound.tags.has("copy") });
        }
        if (!bound.tags.has("copy")) this.#implicitKeep = false;
        return;
      }
      case "reject":
      case "ereject": {
        this.#action(at);
        this.#reject = { reason: this.#string(p[0]), extended: command.name === "ereject" };
        this.#rejectAt = at;
        this.#implicitKeep = false;
        return;
      }
      case "vacation": {
        this.#action(at);
        if (this.#vacation) throw new RuntimeFailure(at, "vacation given twice");
        const seconds = bound.tags.has("seconds")
          ? this.#number(bound.tags.get("seconds"), DEFAULT_DAYS * 86400)
          : this.#number(bound.tags.get("days"), DEFAULT_DAYS) * 86400;
        this.#vacation = {
          reason: this.#string(p[0]),
          subject: bound.tags.has("subject") ? this.#string(bound.tags.get("subject")) : null,
          from: bound.tags.has("from") ? this.#string(bound.tags.get("from")) : null,
          addresses: this.#strings(bound.tags.get("addresses")),
          period: seconds,
          handle: bound.tags.has("handle") ? this.#string(bound.tags.get("handle")) : null,
          mime: bound.tags.has("mime"),
        };
        return;
      }
      case "setflag":
      case "addflag":
      case "removeflag": {
        // With variables, a first argument of two names a variable (RFC 5232 3); the internal
        // variable is the default.
        const flags = this.#flagList(p[p.length - 1]);
        if (p.length === 2) {
          const name = this.#string(p[0]).toLowerCase();
          const current = (this.#variable(name) ?? "").split(" ").filter(Boolean);
          this.#setVariable(name, applyFlags(current, flags, command.name).join(" "));
        } else {
          this.#flags = applyFlags(this.#flags, flags, command.name);
        }
        return;
      }
      case "set": {
        const name = this.#string(p[0]).toLowerCase();
        let value = this.#string(p[1]);
        value = applyModifiers(value, bound);
        this.#setVariable(name, value);
        return;
      }
      case "notify": {
        this.#action(at);
        this.#notifications.push({
          method: this.#string(p[0]),
          message: bound.tags.has("message") ? this.#string(bound.tags.get("message")) : null,
          importance: this.#string(bound.tags.get("importance")) || "2",
          from: bound.tags.has("from") ? this.#string(bound.tags.get("from")) : null,
        });
        return;
      }
      case "addheader": {
        const name = this.#string(p[0]);
        const value = this.#string(p[1]);
        if (PROTECTED_HEADERS.has(name.toLowerCase())) return;
        this.#headerEdits.push({ add: { name, value, last: bound.tags.has("last") } });
        const field = { name: name.toLowerCase(), value };
        const headers = this.#headerFields();
        if (bound.tags.has("last")) headers.push(field);
        else headers.unshift(field);
        return;
      }
      case "deleteheader": {
        const name = this.#string(p[0]);
        const values = p.length > 1 ? this.#strings(p[1]) : null;
        const index = bound.tags.has("index") ? this.#number(bound.tags.get("index"), 1) : null;
        const lower = name.toLowerCase();
        const options = this.#matchOptions(bound, at);
        if (values) this.#checkKeys(values, options, at);
        // RFC 5293 4.1 (and Pigeonhole): Received and Auto-Submitted are never removed.
        if (PROTECTED_HEADERS.has(lower)) return;
        this.#headerEdits.push({
          delete: { name, index, last: bound.tags.has("last"), values, match: options },
        });
        const fields = this.#headerFields();
        const matching = fields.map((f, i) => ({ f, i })).filter(({ f }) => f.name === lower);
        const chosen = index === null
          ? matching
          : [bound.tags.has("last") ? matching[matching.length - index] : matching[index - 1]]
            .filter(Boolean);
        const doomed = new Set(
          chosen.filter(({ f }) =>
            values === null || matchAny([decodeEncodedWords(f.value)], values, options) !== null
          ).map(({ i }) => i),
        );
        this.#headers = fields.filter((_, i) => !doomed.has(i));
        return;
      }
      default:
        throw new RuntimeFailure(at, `unknown command ${command.name}`);
    }
  }

  /**
   * RFC 5703 3: runs the block once per MIME part, depth first in message order. At the top
   * level the message itself is the first part and message/rfc822 parts are descended into, as
   * Pigeonhole does; a nested loop visits the parts under the outer loop's current part. Each
   * visit costs a step of the budget.
   */
  #forEveryPart(command: Command, bound: Bound): void {
    const name = bound.tags.has("name") ? this.#string(bound.tags.get("name")) : null;
    const outer = this.#currentPart;
    const parts = outer ? allParts(outer).slice(1) : allParts(this.env.mime);
    try {
      for (const part of parts) {
        this.#step(command.position);
        this.#currentPart = part;
        this.block(command.block ?? []);
      }
    } catch (error) {
      if (!(error instanceof Break) || (error.loop !== null && error.loop !== name)) throw error;
    } finally {
      this.#currentPart = outer;
    }
  }

  /**
   * RFC 6609 3.2: runs a personal script in place; its actions join this outcome, its
   * variables are its own except those both scripts declare global. :once skips a script
   * already included, :optional a missing one. Postern has no global scripts (:global fails
   * unless :optional). A script including itself, directly or not, or more than
   * MAX_INCLUDE_DEPTH levels fails at run time.
   */
  #include(command: Command, bound: Bound): void {
    const at = command.position;
    const name = this.#string(bound.positional[0]);
    const global = bound.tags.has("global");
    const key = `${global ? "global" : "personal"}:${name}`;
    if (bound.tags.has("once") && this.#included.has(key)) return;
    if (this.#includeStack.includes(key)) {
      throw new RuntimeFailure(at, `include loop: "${name}" includes itself`);
    }
    const maxDepth = this.limits.maxIncludeDepth ?? MAX_INCLUDE_DEPTH;
    if (this.#includeStack.length >= maxDepth) {
      throw new RuntimeFailure(at, `includes nested more than ${maxDepth} deep`);
    }
    const included = global ? null : this.env.include?.(name) ?? null;
    if (!included) {
      if (bound.tags.has("optional")) return;
      throw new RuntimeFailure(
        at,
        global ? "global scripts are not supported" : `no personal script "${name}"`,
      );
    }
    this.#included.add(key);
    const saved = {
      variables: this.#variables,
      matchVariables: this.#matchVariables,
      globalNames: this.#globalNames,
      requires: this.#requires,
      variablesOn: this.#variablesOn,
    };
    this.#variables = new Map();
    this.#matchVariables = [];
    this.#globalNames = new Set();
    this.#requires = included.requires;
    this.#variablesOn = included.requires.has("variables");
    this.#includeStack.push(key);
    try {
      this.block(included.script.commands);
    } catch (error) {
      if (!(error instanceof Return)) throw error;
    } finally {
      this.#includeStack.pop();
      this.#variables = saved.variables;
      this.#matchVariables = saved.matchVariables;
      this.#globalNames = saved.globalNames;
      this.#requires = saved.requires;
      this.#variablesOn = saved.variablesOn;
    }
  }

  /** The message after replace and enclose (RFC 5703 5, 6), or null when unchanged. */
  #replacement(): Uint8Array | null {
    if (!this.#partReplacements.length && !this.#messageReplacement && !this.#enclosure) {
      return null;
    }
    const { raw, mime } = this.env;
    const headerText = octets(raw.subarray(mime.headerStart, mime.headerEnd));
    let header = headerText.replace(/(\r?\n)+$/, "");
    let body: string;
    if (this.#messageReplacement) {
      const { entity, subject, from } = this.#messageReplacement;
      // The MIME fields of the old body go; every other field stays (RFC 5703 5).
      header = headerFieldsOf(header)
        .filter((f) => !/^(content-[^:]*|mime-version)\s*:/i.test(f))
        .map((f) => {
          if (subject !== null && /^subject\s*:/i.test(f)) return `Original-${f}`;
          if (from !== null && /^from\s*:/i.test(f)) return `Original-${f}`;
          return f;
        })
        .join("\r\n");
      if (subject !== null) header += `\r\nSubject: ${encodeText(subject)}`;
      if (from !== null) header += `\r\nFrom: ${utf8Latin1(from.replace(/[\r\n]+/g, " "))}`;
      header += "\r\nMIME-Version: 1.0";
      const bytes = utf8Latin1(entity);
      const split = bytes.startsWith("\r\n") ? -2 : bytes.indexOf("\r\n\r\n");
      const entityHeader = split === -2 ? "" : split < 0 ? bytes : bytes.slice(0, split);
      body = split === -2 ? bytes.slice(2) : split < 0 ? "" : bytes.slice(split + 4);
      if (entityHeader) header += `\r\n${entityHeader}`;
    } else {
      const pieces: string[] = [];
      let at = mime.headerEnd;
      for (const r of [...this.#partReplacements].sort((a, b) => a.start - b.start)) {
        pieces.push(octets(raw.subarray(at, r.start)), utf8Latin1(r.entity));
        at = r.end;
      }
      pieces.push(octets(raw.subarray(at)));
      body = pieces.join("");
    }
    let message = `${header}\r\n\r\n${body}`;
    if (this.#enclosure) message = enclose(message, this.#enclosure);
    // The text is held one char per octet (latin1); back to bytes the same way.
    return Uint8Array.from(message, (c) => c.charCodeAt(0) & 0xff);
  }

  #flagList(arg: Argument | true | undefined): string[] {
    const flags: string[] = [];
    for (const item of this.#strings(arg)) {
      for (const flag of item.split(" ")) if (flag) flags.push(flag);
    }
    return [...new Set(flags.map((f) => fold(f, "i;ascii-casemap")))].map((f) =>
      flags.find((g) => fold(g, "i;ascii-casemap") === f)!
    );
  }
}

const IHAVE = new Set<string>(SUPPORTED_EXTENSIONS);

/** Every part of the message, the root first, depth first, into message/rfc822 too. */
function allParts(root: MimePart): MimePart[] {
  const parts: MimePart[] = [];
  const visit = (part: MimePart) => {
    parts.push(part);
    for (const child of part.parts) visit(child);
    if (part.message) visit(part.message);
  };
  visit(root);
  return parts;
}

/**
 * RFC 5173 5: the parts whose Content-Type matches one of `types` — "" matches every part,
 * a type alone ("text") every subtype of it, "type/subtype" exactly (case-insensitively).
 */
function contentParts(root: MimePart, types: string[]): MimePart[] {
  const wanted = types.map((t) => t.trim().toLowerCase());
  return allParts(root).filter((part) =>
    wanted.some((t) =>
      t === "" || t === part.type ||
      t === `${part.type}/${part.subtype}`
    )
  );
}

/** Bytes as one char per octet (not TextDecoder("latin1"), which is windows-1252). */
const octets = (bytes: Uint8Array) => latin1(bytes);

const crlf = (text: string) => text.replace(/\r?\n/g, "\r\n");

/** UTF-8 text as one char per octet, to splice into latin1-held message text. */
const utf8Latin1 = (text: string) => octets(new TextEncoder().encode(text));

/** A text/plain UTF-8 MIME entity (RFC 5703 5 without :mime). */
function textEntity(text: string): string {
  return "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
    crlf(text);
}

/** Header text split into fields, folded lines kept with their field. */
function headerFieldsOf(header: string): string[] {
  const fields: string[] = [];
  for (const line of header.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && fields.length) fields[fields.length - 1] += `\r\n${line}`;
    else if (line) fields.push(line);
  }
  return fields;
}

/**
 * RFC 5703 6: a new message — the fields named in :headers copied from the original, the
 * :subject (else the original's), a text part, and the original as message/rfc822. Held as
 * latin1 text like the original.
 */
function enclose(
  original: string,
  enclosure: { text: string; subject: string | null; headers: string[] },
): string {
  const split = original.indexOf("\r\n\r\n");
  const fields = headerFieldsOf(split >= 0 ? original.slice(0, split) : original);
  const nameOf = (f: string) => f.slice(0, f.indexOf(":")).trim().toLowerCase();
  const copied = fields.filter((f) =>
    enclosure.headers.includes(nameOf(f)) && nameOf(f) !== "subject" &&
    !/^(content-|mime-version)/.test(nameOf(f))
  );
  const subject = enclosure.subject !== null
    ? `Subject: ${encodeText(enclosure.subject)}`
    : fields.find((f) => nameOf(f) === "subject");
  let boundary = "postern-enclose";
  while (original.includes(boundary)) boundary += "-x";
  return [
    ...copied,
    ...(subject ? [subject] : []),
    "MIME-Version: 1.0",
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
    "",
    `--${boundary}`,
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: 8bit",
    "",
    utf8Latin1(crlf(enclosure.text)),
    `--${boundary}`,
    "Content-Type: message/rfc822",
    "",
    original,
    `--${boundary}--`,
    "",
  ].join("\r\n");
}

/** A structured header value split at the semicolons outside quotes. */
function splitParameters(value: string): string[] {
  const pieces: string[] = [];
  let current = "";
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === "\\" && quoted) {
      current += c + (value[++i] ?? "");
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === ";" && !quoted) {
      pieces.push(current.trim());
      current = "";
      continue;
    }
    current += c;
  }
  pieces.push(current.trim());
  return pieces;
}

function parameterMap(pieces: string[]): Record<string, string> {
  const params: Record<string, string> = {};
  for (const piece of pieces) {
    const eq = piece.indexOf("=");
    if (eq < 0) continue;
    let value = piece.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"')) {
      value = value.slice(1, -1).replace(/\\(.)/g, "$1");
    }
    params[piece.slice(0, eq).trim().toLowerCase()] = value;
  }
  return params;
}

/**
 * RFC 5173 5: what body :content searches in a part — a multipart's prologue and epilogue, a
 * message/rfc822's encapsulated header, a text part decoded to UTF-8, and any other part with
 * its transfer encoding removed.
 */
function contentText(raw: Uint8Array, part: MimePart): string {
  if (part.type === "multipart") {
    if (!part.parts.length) return octets(raw.subarray(part.bodyStart, part.bodyEnd));
    const prologue = raw.subarray(part.bodyStart, part.parts[0].headerStart);
    const epilogue = raw.subarray(part.parts[part.parts.length - 1].bodyEnd, part.bodyEnd);
    return [prologue, epilogue]
      .map((bytes) =>
        new TextDecoder().decode(bytes).split(/\r?\n/).filter((line) => !line.startsWith("--"))
          .join("\r\n").trim()
      )
      .filter(Boolean)
      .join("\r\n");
  }
  if (part.message) {
    const inner = part.message;
    return new TextDecoder().decode(raw.subarray(inner.headerStart, inner.headerEnd));
  }
  if (part.type === "text") return partText(raw, part);
  return octets(decodePartBody(raw, part));
}

/** Fields editheader may not add or delete (RFC 5293 4.1 / 6: the trace and loop fields). */
const PROTECTED_HEADERS = new Set(["received", "auto-submitted"]);

/** RFC 5228 2.4.2.4: "${hex: 41 42}" and "${unicode: 263A}"; malformed ones stay as written. */
export function decodeEncodedCharacters(text: string): string {
  return text.replace(
    /\$\{(hex|unicode):([\s0-9a-fA-F]*)\}/gi,
    (whole, kind: string, body: string) => {
      const items = body.trim().split(/\s+/).filter(Boolean);
      if (items.length === 0) return "";
      if (kind.toLowerCase() === "hex") {
        if (items.some((h) => h.length > 2)) return whole;
        const bytes = Uint8Array.from(items.map((h) => parseInt(h, 16)));
        return new TextDecoder().decode(bytes);
      }
      const points = items.map((h) => parseInt(h, 16));
      if (points.some((p) => p > 0x10ffff || (p >= 0xd800 && p <= 0xdfff))) return whole;
      return String.fromCodePoint(...points);
    },
  );
}

function applyFlags(current: string[], flags: string[], command: string): string[] {
  const lower = (f: string) => f.toLowerCase();
  if (command === "setflag") return [...new Map(flags.map((f) => [lower(f), f])).values()];
  const map = new Map(current.map((f) => [lower(f), f]));
  for (const flag of flags) {
    if (command === "addflag") map.set(lower(flag), map.get(lower(flag)) ?? flag);
    else map.delete(lower(flag));
  }
  return [...map.values()];
}

/** RFC 5229 4: modifiers apply from highest precedence (length last) to lowest. */
function applyModifiers(value: string, bound: Bound): string {
  let result = value;
  if (bound.tags.has("lower")) result = result.toLowerCase();
  if (bound.tags.has("upper")) result = result.toUpperCase();
  if (bound.tags.has("lowerfirst")) result = result.charAt(0).toLowerCase() + result.slice(1);
  if (bound.tags.has("upperfirst")) result = result.charAt(0).toUpperCase() + result.slice(1);
  if (bound.tags.has("quotewildcard")) result = result.replace(/[*?\\]/g, "\\$&");
  if (bound.tags.has("quoteregex")) result = result.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  if (bound.tags.has("encodeurl")) result = encodeUrl(result);
  if (bound.tags.has("length")) result = String([...result].length);
  return result;
}

/** RFC 5435 6: every octet but RFC 3986 2.3's unreserved characters as %XX of its UTF-8. */
function encodeUrl(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** A date-part of RFC 5260 4.2 in `zone` ("+hhmm"; null: UTC). */
function datePart(date: Date, part: string, zone: string | null): string | null {
  let offset = 0;
  if (zone) {
    const m = /^([+-])(\d\d)(\d\d)$/.exec(zone);
    if (!m) return null;
    offset = (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
  }
  const local = new Date(date.getTime() + offset * 60_000);
  const two = (n: number) => String(n).padStart(2, "0");
  const y = String(local.getUTCFullYear()).padStart(4, "0");
  const mo = two(local.getUTCMonth() + 1);
  const d = two(local.getUTCDate());
  const h = two(local.getUTCHours());
  const mi = two(local.getUTCMinutes());
  const s = two(local.getUTCSeconds());
  const z = `${offset < 0 ? "-" : "+"}${two(Math.floor(Math.abs(offset) / 60))}${
    two(Math.abs(offset) % 60)
  }`;
  switch (part) {
    case "year":
      return y;
    case "month":
      return mo;
    case "day":
      return d;
    case "date":
      return `${y}-${mo}-${d}`;
    case "julian":
      return String(Math.floor(local.getTime() / 86_400_000) + 40587);
    case "hour":
      return h;
    case "minute":
      return mi;
    case "second":
      return s;
    case "time":
      return `${h}:${mi}:${s}`;
    case "iso8601":
      return `${y}-${mo}-${d}T${h}:${mi}:${s}${
        offset === 0 ? "Z" : `${z.slice(0, 3)}:${z.slice(3)}`
      }`;
    case "std11":
      return local.toUTCString().replace("GMT", z);
    case "zone":
      return z;
    case "weekday":
      return String(local.getUTCDay());
  }
  return null;
}
