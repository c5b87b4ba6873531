/**
 * The Sieve parser (RFC 5228 8.2): source text to the syntax tree of ast.ts. Names and tags
 * are not checked here (compile.ts does that against extensions.ts).
 *
 * Implementation notes:
 * - Iterative, with explicit stacks for blocks and for tests, so no input can overflow the
 *   call stack whatever `maxNesting` says. The nesting depth counted against `maxNesting` is
 *   the number of enclosing blocks plus enclosing tests (a test list or a `not` each count one).
 * - The first syntax error ends the parse: a SieveError with the line and column of the token
 *   at fault.
 */
import { type Argument, type Command, type Script, SieveError, type Test } from "./ast.ts";
import { Lexer, type Token } from "./lexer.ts";

export interface ParseLimits {
  /** Script size in UTF-8 bytes. */
  maxSize: number;
  /** Nesting depth of blocks and tests. */
  maxNesting: number;
  /** Tokens in the script; unbounded when not given. */
  maxTokens?: number;
}

function describe(token: Token): string {
  switch (token.type) {
    case "eof":
      return "the end of the script";
    case "identifier":
      return `identifier '${token.value}'`;
    case "tag":
      return `tag ':${token.value}'`;
    case "number":
      return `number ${token.value}`;
    case "string":
      return "a string";
    case "punct":
      return `'${token.value}'`;
  }
}

function utf8Length(source: string): number {
  let bytes = source.length;
  for (let i = 0; i < source.length; i++) {
    const code = source.charCodeAt(i);
    if (code >= 0x80) bytes += code < 0x800 ? 1 : (code >= 0xd800 && code <= 0xdbff ? 1 : 2);
    if (code >= 0xd800 && code <= 0xdbff) i++;
  }
  return bytes;
}

interface BlockFrame {
  commands: Command[];
  /** The command owning the block; null for the script. */
  owner: Command | null;
}

interface TestFrame {
  owner: Command | Test;
  /** "one": a single test (no parentheses); "list": a test list in parentheses. */
  form: "one" | "list";
}

/**
 * Parses a Sieve script, throwing a SieveError at the first syntax error.
 *
 * @example
 * const script = parseSieve('require "fileinto";\nfileinto "Spam";', { maxSize: 65536, maxNesting: 32 });
 * script.commands[1].name; // "fileinto"
 */
export function parseSieve(source: string, limits: ParseLimits): Script {
  if (source.length > limits.maxSize || utf8Length(source) > limits.maxSize) {
    throw new SieveError(
      { line: 1, column: 1 },
      `script is larger than ${limits.maxSize} bytes`,
    );
  }
  const lexer = new Lexer(source, limits.maxTokens);
  const fail = (token: Token, message: string): never => {
    throw new SieveError(token.position, message);
  };
  const expected = (token: Token, what: string): never =>
    fail(token, `expected ${what}, found ${describe(token)}`);

  /** Arguments up to a test, a test list, ";", "{" or anything else that is not an argument. */
  const readArguments = (): Argument[] => {
    const args: Argument[] = [];
    for (;;) {
      const token = lexer.peek();
      if (token.type === "string") {
        lexer.next();
        args.push({ kind: "string", value: token.value, position: token.position });
      } else if (token.type === "number") {
        lexer.next();
        args.push({ kind: "number", value: token.value, position: token.position });
      } else if (token.type === "tag") {
        lexer.next();
        args.push({ kind: "tag", name: token.value, position: token.position });
      } else if (token.type === "punct" && token.value === "[") {
        lexer.next();
        const values: string[] = [];
        for (;;) {
          const item = lexer.next();
          if (item.type !== "string") expected(item, "a string in the string list");
          values.push((item as { value: string }).value);
          const separator = lexer.next();
          if (separator.type === "punct" && separator.value === "]") break;
          if (separator.type !== "punct" || separator.value !== ",") {
            expected(separator, "',' or ']'");
          }
        }
        args.push({ kind: "stringList", values, position: token.position });
      } else {
        return args;
      }
    }
  };

  /** Reads the test or test list of `root`, if one follows; depth is the enclosing blocks. */
  const readTests = (root: Command, depth: number): void => {
    const stack: TestFrame[] = [];
    const open = (owner: Command | Test): boolean => {
      const token = lexer.peek();
      if (token.type === "identifier") {
        stack.push({ owner, form: "one" });
      } else if (token.type === "punct" && token.value === "(") {
        lexer.next();
        stack.push({ owner, form: "list" });
      } else {
        return false;
      }
      if (depth + stack.length > limits.maxNesting) {
        fail(token, `tests nested deeper than ${limits.maxNesting}`);
      }
      return true;
    };
    if (!open(root)) return;
    for (;;) {
      const name = lexer.next();
      if (name.type !== "identifier") expected(name, "a test");
      const test: Test = {
        name: (name as { value: string }).value,
        arguments: readArguments(),
        tests: [],
        position: name.position,
      };
      stack[stack.length - 1].owner.tests.push(test);
      if (open(test)) continue;
      // The test is complete: close the frames it completes.
      for (;;) {
        const frame = stack[stack.length - 1];
        if (frame.form === "one") {
          stack.pop();
        } else {
          const token = lexer.next();
          if (token.type === "punct" && token.value === ",") break;
          if (token.type !== "punct" || token.value !== ")") expected(token, "',' or ')'");
          stack.pop();
        }
        if (stack.length === 0) return;
      }
    }
  };

  const script: Script = { commands: [] };
  const blocks: BlockFrame[] = [{ commands: script.commands, owner: null }];
  const openBraces: Token[] = [];
  for (;;) {
    const frame = blocks[blocks.length - 1];
    const token = lexer.next();
    if (token.type === "eof") {
      if (blocks.length > 1) {
        const brace = openBraces[openBraces.length - 1].position;
        fail(
          token,
          `missing '}' for the block opened at line ${brace.line}, column ${brace.column}`,
        );
      }
      return script;
    }
    if (token.type === "punct" && token.value === "}") {
      if (blocks.length === 1) fail(token, "'}' without a block to close");
      blocks.pop();
      openBraces.pop();
      continue;
    }
    if (token.type !== "identifier") expected(token, "a command");
    const command: Command = {
      name: (token as { value: string }).value,
      arguments: readArguments(),
      tests: [],
      block: null,
      position: token.position,
    };
    readTests(command, blocks.length - 1);
    frame.commands.push(command);
    const end = lexer.next();
    if (end.type === "punct" && end.value === ";") continue;
    if (end.type === "punct" && end.value === "{") {
      if (blocks.length > limits.maxNesting) {
        fail(end, `blocks nested deeper than ${limits.maxNesting}`);
      }
      command.block = [];
      blocks.push({ commands: command.block, owner: command });
      openBraces.push(end);
      continue;
    }
    expected(end, `';' or '{' after ${command.name}`);
  }
}
