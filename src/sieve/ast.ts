/**
 * The Sieve syntax tree (RFC 5228 8): what the parser produces and the validator and the
 * interpreter read. Generic on purpose: a command or test is a name with positional arguments,
 * tagged arguments, tests and a block; which names and tags exist is the extensions' business
 * (compile.ts), not the parser's.
 */

export interface Position {
  /** 1-based. */
  line: number;
  /** 1-based, in characters. */
  column: number;
}

export type Argument =
  /** A quoted string or a multi-line text, escapes undone (encoded-character is not applied). */
  | { kind: "string"; value: string; position: Position }
  /** `["a", "b"]`; a single string is kind "string", not a list of one. */
  | { kind: "stringList"; values: string[]; position: Position }
  /** A number with its K/M/G quantifier applied (RFC 5228 2.4.1). */
  | { kind: "number"; value: number; position: Position }
  /** `:is`, `:comparator`, ... (name without the colon, lower-cased). */
  | { kind: "tag"; name: string; position: Position };

export interface Test {
  /** Lower-cased identifier. */
  name: string;
  arguments: Argument[];
  /** The test list of allof/anyof, the single test of not, [] otherwise. */
  tests: Test[];
  position: Position;
}

export interface Command {
  /** Lower-cased identifier. */
  name: string;
  arguments: Argument[];
  /** The test of if/elsif (one), of foreverypart (none) ... */
  tests: Test[];
  /** The block in braces, or null for a command ending in ";". */
  block: Command[] | null;
  position: Position;
}

export interface Script {
  commands: Command[];
}

/** A compile or runtime error at a place in the script. */
export class SieveError extends Error {
  constructor(readonly position: Position, message: string) {
    super(`line ${position.line}, column ${position.column}: ${message}`);
    this.name = "SieveError";
  }
}
