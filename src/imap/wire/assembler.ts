/**
 * IMAP command assembly (RFC 9051 4.3, 7.5; RFC 7888 LITERAL+/LITERAL-; RFC 3516 literal8): the
 * session feeds the lines it reads (without CRLF) and the literal octets it reads, and gets back
 * either a complete command for `parseCommand`, a request for a literal, or an error to send.
 *
 * Implementation notes:
 * - A line that ends in `{n}`, `{n+}`, `~{n}` or `~{n+}` announces a literal of n octets; the
 *   rest of the command follows on the line read after those octets. Nothing else is looked at
 *   here: the parser validates the syntax, so the assembler stays cheap per line.
 * - A synchronizing literal over a limit is refused before the continuation request is sent
 *   (`NO [TOOBIG]` or `BAD`), so the client never sends the octets and the command ends there.
 * - A non-synchronizing literal over a limit is already on its way: the assembler asks the
 *   session to read and drop the octets (`skip`, in chunks, never buffered), drops the rest of
 *   the command's lines (and any further non-synchronizing literals) the same way, and only then
 *   hands back the error, so the next line read is the next command.
 * - `{n+}` over 4096 octets when LITERAL- is in force is a `BAD [TOOBIG]` (RFC 7888 4).
 * - Counted against `maxCommandSize`: every line plus its CRLF, every literal's octets.
 */

/** Limits and extensions in force; the session takes these from config. */
export interface AssemblerOptions {
  /** Largest literal accepted, in octets (per literal; APPEND's limit). */
  maxLiteralSize: number;
  /** Largest command accepted, lines with CRLF plus literals, in octets. */
  maxCommandSize: number;
  /** Most literals in one command (MULTIAPPEND counts one per message). */
  maxLiterals: number;
  /** True when the session advertises LITERAL- rather than LITERAL+ (RFC 7888 4). */
  literalMinus: boolean;
}

/** Octet limit of a non-synchronizing literal under LITERAL- (RFC 7888 4). */
export const LITERAL_MINUS_MAX = 4096;

/** One literal of an assembled command, in command order. */
export interface Literal {
  data: Uint8Array;
  /** `~{n}`: may hold NUL octets (RFC 3516). */
  binary: boolean;
}

/**
 * A complete command: `lines[i]` ends with the announcement of `literals[i]`, so there is one
 * more line than literals (the last line may be empty when a literal ends the command).
 */
export interface AssembledCommand {
  lines: Uint8Array[];
  literals: Literal[];
}

/** A tagged (or, without a readable tag, untagged `*`) response the session sends. */
export interface CommandError {
  tag: string | null;
  status: "BAD" | "NO";
  /** Response code without brackets, e.g. `TOOBIG`. */
  code: string | null;
  text: string;
  /** The input can no longer be followed (a literal size that cannot be skipped): close. */
  fatal: boolean;
}

/** What the session does next. */
export type AssemblerStep =
  | { kind: "command"; command: AssembledCommand }
  /**
   * Read exactly `size` octets and give them to `pushLiteral`; before reading, send
   * `+ Ready` when `continuation` is true (synchronizing literal).
   */
  | { kind: "literal"; size: number; binary: boolean; continuation: boolean }
  /** Read `size` octets and throw them away (in chunks), then call `literalSkipped`. */
  | { kind: "skip"; size: number }
  | { kind: "error"; error: CommandError };

interface Announcement {
  size: number;
  binary: boolean;
  synchronizing: boolean;
  /** Offset of `{` or `~` in the line. */
  start: number;
}

const MAX_SIZE_DIGITS = 20;

/**
 * The literal announced at the end of `line`, if any: `{n}`, `{n+}`, `~{n}`, `~{n+}`. `size` is
 * `Infinity` when the number is too long to be exact.
 */
export function literalAnnouncement(line: Uint8Array): Announcement | null {
  let i = line.length - 1;
  if (i < 2 || line[i] !== 0x7d) return null; // "}"
  i--;
  let synchronizing = true;
  if (line[i] === 0x2b) { // "+"
    synchronizing = false;
    i--;
  }
  const end = i + 1;
  while (i >= 0 && line[i] >= 0x30 && line[i] <= 0x39) i--;
  const digits = end - (i + 1);
  if (digits === 0 || i < 0 || line[i] !== 0x7b) return null; // "{"
  let size = 0;
  if (digits > MAX_SIZE_DIGITS) size = Infinity;
  else for (let k = i + 1; k < end; k++) size = size * 10 + (line[k] - 0x30);
  if (!Number.isSafeInteger(size)) size = Infinity;
  const binary = i > 0 && line[i - 1] === 0x7e; // "~"
  return { size, binary, synchronizing, start: binary ? i - 1 : i };
}

/** The tag of a command's first line, or null when it is not a valid tag. */
export function tagOf(line: Uint8Array): string | null {
  let end = 0;
  while (end < line.length && isTagChar(line[end])) end++;
  if (end === 0 || (end < line.length && line[end] !== 0x20)) return null;
  return String.fromCharCode(...line.subarray(0, Math.min(end, 256)));
}

function isTagChar(c: number): boolean {
  // ASTRING-CHAR except "+": CHAR minus atom-specials, plus "]" (RFC 9051 9 "tag").
  return c > 0x20 && c < 0x7f && c !== 0x28 && c !== 0x29 && c !== 0x7b && c !== 0x25 &&
    c !== 0x2a && c !== 0x22 && c !== 0x5c && c !== 0x2b;
}

type State = "line" | "literal" | "skip";

/**
 * Builds commands from lines and literals, one command at a time.
 *
 * @example
 * ```ts
 * const assembler = new CommandAssembler({ maxLiteralSize: 50 << 20, maxCommandSize: 60 << 20,
 *   maxLiterals: 1000, literalMinus: false });
 * let step = assembler.pushLine(await conn.readLineBytes());
 * while (step.kind === "literal") {
 *   if (step.continuation) await conn.write("+ Ready\r\n");
 *   assembler.pushLiteral(await conn.readBytes(step.size));
 *   step = assembler.pushLine(await conn.readLineBytes());
 * }
 * ```
 */
export class CommandAssembler {
  readonly #options: AssemblerOptions;
  #lines: Uint8Array[] = [];
  #literals: Literal[] = [];
  #size = 0;
  #tag: string | null = null;
  #state: State = "line";
  #expected: Announcement | null = null;
  /** Set once the command is refused; the rest of it is being dropped. */
  #pending: CommandError | null = null;

  constructor(options: AssemblerOptions) {
    this.#options = options;
  }

  /** True between the first line of a command and its end (for idle/shutdown decisions). */
  get inCommand(): boolean {
    return this.#lines.length > 0 || this.#pending !== null;
  }

  /** Drops any partial command (after STARTTLS, or when the connection is reset). */
  reset(): void {
    this.#lines = [];
    this.#literals = [];
    this.#size = 0;
    this.#tag = null;
    this.#state = "line";
    this.#expected = null;
    this.#pending = null;
  }

  /** Feeds the next line, without its CRLF. */
  pushLine(line: Uint8Array): AssemblerStep {
    if (this.#state !== "line") throw new RangeError(`pushLine while expecting a ${this.#state}`);
    const first = this.#lines.length === 0 && this.#pending === null;
    if (first) this.#tag = tagOf(line);
    const announced = literalAnnouncement(line);

    if (this.#pending !== null) return this.#drop(announced);

    this.#size += line.length + 2;
    if (this.#size > this.#options.maxCommandSize) {
      return this.#refuse(announced, "BAD", null, "Command too long");
    }
    if (announced === null) {
      this.#lines.push(line);
      const command = { lines: this.#lines, literals: this.#literals };
      this.reset();
      return { kind: "command", command };
    }
    const refusal = this.#check(announced);
    if (refusal !== null) return this.#refuse(announced, ...refusal);
    this.#lines.push(line);
    this.#expected = announced;
    this.#state = "literal";
    return {
      kind: "literal",
      size: announced.size,
      binary: announced.binary,
      continuation: announced.synchronizing,
    };
  }

  /** Feeds the octets of the literal asked for by the last step (exactly `size` of them). */
  pushLiteral(data: Uint8Array): void {
    const expected = this.#expected;
    if (this.#state !== "literal" || expected === null) {
      throw new RangeError("pushLiteral without a literal announced");
    }
    if (data.length !== expected.size) {
      throw new RangeError(`literal of ${data.length} octets, ${expected.size} announced`);
    }
    this.#literals.push({ data, binary: expected.binary });
    this.#size += data.length;
    this.#expected = null;
    this.#state = "line";
  }

  /** Says the octets asked for by a `skip` step were read and dropped. */
  literalSkipped(): void {
    if (this.#state !== "skip") throw new RangeError("literalSkipped without a skip step");
    this.#state = "line";
  }

  #check(a: Announcement): ["BAD" | "NO", string | null, string] | null {
    const o = this.#options;
    if (this.#literals.length + 1 > o.maxLiterals) {
      return ["BAD", null, `Too many literals in one command (at most ${o.maxLiterals})`];
    }
    if (!a.synchronizing && o.literalMinus && a.size > LITERAL_MINUS_MAX) {
      return [
        "BAD",
        "TOOBIG",
        `Non-synchronizing literal over ${LITERAL_MINUS_MAX} octets (LITERAL-); use {n}`,
      ];
    }
    if (a.size > o.maxLiteralSize) {
      return ["NO", "TOOBIG", `Literal too large (at most ${o.maxLiteralSize} octets)`];
    }
    if (this.#size + a.size > o.maxCommandSize) {
      return ["BAD", "TOOBIG", `Command too long (at most ${o.maxCommandSize} octets)`];
    }
    return null;
  }

  #refuse(
    announced: Announcement | null,
    status: "BAD" | "NO",
    code: string | null,
    text: string,
  ): AssemblerStep {
    const tag = this.#tag;
    this.reset();
    this.#pending = { tag, status, code, text, fatal: false };
    return this.#drop(announced);
  }

  /** Continues dropping a refused command: skip its non-synchronizing literals, then report. */
  #drop(announced: Announcement | null): AssemblerStep {
    const pending = this.#pending!;
    if (announced !== null && !announced.synchronizing) {
      if (announced.size === Infinity) {
        this.reset();
        return { kind: "error", error: { ...pending, fatal: true } };
      }
      this.#state = "skip";
      return { kind: "skip", size: announced.size };
    }
    // No literal, or a synchronizing one that gets no continuation: the command ends here.
    this.reset();
    return { kind: "error", error: pending };
  }
}
