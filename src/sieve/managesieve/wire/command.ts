/**
 * ManageSieve commands (RFC 5804 2) as typed values, from the tokens of `readTokens`. Pure: the
 * session never looks at raw input.
 *
 * Implementation notes:
 * - Command names are case-insensitive atoms; every argument is a string (quoted or literal)
 *   except HAVESPACE's size, a number.
 * - A script argument may be `oversized` (dropped by the reader); names, mechanisms and SASL
 *   data never may. Whether a name is acceptable is scripts.ts's business.
 * - Errors are `ManageSieveSyntaxError`, never anything else.
 */
import { ManageSieveSyntaxError, type Token } from "./tokens.ts";

/** A script as the client sent it, or only its size when it was over the limit. */
export type ScriptArgument = { content: string } | { oversized: number };

export type ManageSieveCommand =
  | { name: "CAPABILITY" | "STARTTLS" | "LOGOUT" | "UNAUTHENTICATE" | "LISTSCRIPTS" }
  | { name: "AUTHENTICATE"; mechanism: string; initialResponse: string | null }
  | { name: "NOOP"; tag: string | null }
  | { name: "HAVESPACE"; script: string; size: number }
  | { name: "PUTSCRIPT"; script: string; content: ScriptArgument }
  | { name: "CHECKSCRIPT"; content: ScriptArgument }
  | { name: "GETSCRIPT" | "DELETESCRIPT" | "SETACTIVE"; script: string }
  | { name: "RENAMESCRIPT"; from: string; to: string };

type Shape = ("string" | "number" | "script")[];

/** Required arguments, then optional ones (after the `|`). */
const SHAPES: Record<ManageSieveCommand["name"], [Shape, Shape]> = {
  CAPABILITY: [[], []],
  STARTTLS: [[], []],
  LOGOUT: [[], []],
  UNAUTHENTICATE: [[], []],
  LISTSCRIPTS: [[], []],
  AUTHENTICATE: [["string"], ["string"]],
  NOOP: [[], ["string"]],
  HAVESPACE: [["string", "number"], []],
  PUTSCRIPT: [["string", "script"], []],
  CHECKSCRIPT: [["script"], []],
  GETSCRIPT: [["string"], []],
  DELETESCRIPT: [["string"], []],
  SETACTIVE: [["string"], []],
  RENAMESCRIPT: [["string", "string"], []],
};

/** The most tokens any command has (name included), for the reader's limit. */
export const MAX_COMMAND_TOKENS = 1 +
  Math.max(
    ...Object.values(SHAPES).map(([required, optional]) => required.length + optional.length),
  );

type Value = string | number | ScriptArgument;

/**
 * Parses one command's tokens.
 *
 * @example
 * parseCommand([{ kind: "atom", value: "getscript" }, { kind: "string", value: "a", literal: false }]);
 * // { name: "GETSCRIPT", script: "a" }
 */
export function parseCommand(tokens: Token[]): ManageSieveCommand {
  const [head, ...args] = tokens;
  if (head?.kind !== "atom") throw new ManageSieveSyntaxError("Expected a command name");
  const name = head.value.toUpperCase();
  if (!Object.hasOwn(SHAPES, name)) {
    throw new ManageSieveSyntaxError(`Unknown command ${printable(head.value)}`);
  }
  const command = name as ManageSieveCommand["name"];
  const [required, optional] = SHAPES[command];
  if (args.length < required.length || args.length > required.length + optional.length) {
    throw new ManageSieveSyntaxError(`Wrong number of arguments for ${command}`);
  }
  const shape = [...required, ...optional];
  const values: Value[] = args.map((token, i) => argument(command, token, shape[i]));
  const text = (i: number) => (values[i] ?? null) as string | null;
  switch (command) {
    case "AUTHENTICATE":
      return { name: command, mechanism: text(0)!, initialResponse: text(1) };
    case "NOOP":
      return { name: command, tag: text(0) };
    case "HAVESPACE":
      return { name: command, script: text(0)!, size: values[1] as number };
    case "PUTSCRIPT":
      return { name: command, script: text(0)!, content: values[1] as ScriptArgument };
    case "CHECKSCRIPT":
      return { name: command, content: values[0] as ScriptArgument };
    case "GETSCRIPT":
    case "DELETESCRIPT":
    case "SETACTIVE":
      return { name: command, script: text(0)! };
    case "RENAMESCRIPT":
      return { name: command, from: text(0)!, to: text(1)! };
    default:
      return { name: command };
  }
}

function argument(command: string, token: Token, kind: Shape[number]): Value {
  switch (kind) {
    case "number":
      if (token.kind === "number") return token.value;
      throw new ManageSieveSyntaxError(`${command} expects a number`);
    case "script":
      if (token.kind === "string") return { content: token.value };
      if (token.kind === "oversized") return { oversized: token.size };
      throw new ManageSieveSyntaxError(`${command} expects a script as a string`);
    case "string":
      if (token.kind === "string") return token.value;
      if (token.kind === "oversized") {
        throw new ManageSieveSyntaxError(`${command}: argument too long`);
      }
      throw new ManageSieveSyntaxError(`${command} expects a quoted string or a literal`);
  }
}

/** A command name echoed in an error: at most 20 printable ASCII characters. */
function printable(text: string): string {
  const clean = text.replace(/[^\x21-\x7e]/g, "?");
  return clean.length > 20 ? `${clean.slice(0, 20)}...` : clean;
}
