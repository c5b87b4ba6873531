/**
 * Drops the characters XML 1.0 cannot carry (C0 controls other than tab, LF and CR; U+FFFE,
 * U+FFFF) from text that comes from the store, before it is serialized (XML 1.0 2.2).
 *
 * @example
 * xmlSafe("Alice\u0007"); // "Alice"
 */
export function xmlSafe(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/g, "");
}
