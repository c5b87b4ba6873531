/**
 * The compile check PUTSCRIPT and CHECKSCRIPT run (RFC 5804 2.6, 2.12): the Sieve compiler's
 * verdict as a list of errors with positions, and the capability strings it supports.
 *
 * @example
 * const check = scriptChecker({ maxSize: 65536, maxNesting: 32 });
 * check('require "fileinto";\nfileinto "Spam";'); // { ok: true }
 */
import { compileSieve } from "../compile.ts";
import { NOTIFY_METHODS, SUPPORTED_EXTENSIONS } from "../extensions.ts";

import type { ScriptCheck } from "../scripts.ts";

export interface CheckLimits {
  /** Largest script in UTF-8 bytes. */
  maxSize: number;
  /** Deepest nesting of blocks and tests. */
  maxNesting: number;
}

/** A function that compiles a script and reports its errors by line and column. */
export function scriptChecker(limits: CheckLimits): (source: string) => ScriptCheck {
  return (source) => {
    const result = compileSieve(source, {
      maxSize: limits.maxSize,
      maxNesting: limits.maxNesting,
    });
    if (result.ok) return { ok: true };
    return {
      ok: false,
      errors: result.errors.map((error) => ({
        line: error.position.line,
        column: error.position.column,
        // SieveError puts the position in front of its message; the report carries it apart.
        message: error.message.replace(/^line \d+, column \d+: /, ""),
      })),
    };
  };
}

/** The SIEVE capability (RFC 5804 1.7): every supported extension, space-separated. */
export function sieveCapability(): string {
  return SUPPORTED_EXTENSIONS.join(" ");
}

/** The NOTIFY capability (RFC 5804 1.7): enotify's methods, or null without them. */
export function notifyCapability(): string | null {
  return NOTIFY_METHODS.length > 0 ? NOTIFY_METHODS.join(" ") : null;
}
