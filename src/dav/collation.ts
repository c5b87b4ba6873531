/**
 * Text matching for CalDAV and CardDAV `text-match` filters (RFC 4791 9.7.5, RFC 6352 10.5.4)
 * under the collations both require (RFC 4790: i;octet, i;ascii-casemap; RFC 5051:
 * i;unicode-casemap).
 *
 * Implementation notes:
 * - i;octet compares UTF-8 octets; on JavaScript strings that is code-unit equality of the same
 *   text, so no encoding is needed.
 * - i;ascii-casemap folds only A-Z (RFC 4790 9.2); other characters compare as octets.
 * - i;unicode-casemap (RFC 5051) is approximated by NFKD then full lowercase: it folds case and
 *   compatibility forms of every script, which is what clients expect from a name search.
 * - An unknown collation is the client's error: `UnsupportedCollationError`, which the
 *   protocol layer answers with the supported-collation precondition.
 */

export type MatchType = "equals" | "contains" | "starts-with" | "ends-with";

export const SUPPORTED_COLLATIONS = ["i;ascii-casemap", "i;octet", "i;unicode-casemap"] as const;

export class UnsupportedCollationError extends Error {
  constructor(readonly collation: string) {
    super(`collation ${collation} is not supported`);
  }
}

function asciiFold(text: string): string {
  return text.replace(/[A-Z]+/g, (run) => run.toLowerCase());
}

function fold(text: string, collation: string): string {
  switch (collation) {
    case "i;octet":
      return text;
    case "i;ascii-casemap":
      return asciiFold(text);
    case "i;unicode-casemap":
      return text.normalize("NFKD").toLowerCase();
    default:
      throw new UnsupportedCollationError(collation);
  }
}

/**
 * `text` as `collation` compares it (what textMatches folds both sides with).
 *
 * @example
 * foldText("Ann", "i;ascii-casemap"); // "ann"
 */
export function foldText(text: string, collation: string): string {
  return fold(text, collation);
}

/** Throws UnsupportedCollationError unless `collation` is one this server implements. */
export function checkCollation(collation: string): void {
  fold("", collation);
}

/**
 * Whether `value` matches `needle` under `collation` and `matchType`.
 *
 * @example
 * textMatches("Dinner with Ann", "ANN", "i;ascii-casemap", "contains"); // true
 */
export function textMatches(
  value: string,
  needle: string,
  collation: string,
  matchType: MatchType,
): boolean {
  const haystack = fold(value, collation);
  const wanted = fold(needle, collation);
  switch (matchType) {
    case "equals":
      return haystack === wanted;
    case "contains":
      return haystack.includes(wanted);
    case "starts-with":
      return haystack.startsWith(wanted);
    case "ends-with":
      return haystack.endsWith(wanted);
  }
}

/** The match-type attribute's value, or null when it names no match type. */
export function parseMatchType(value: string | undefined): MatchType | null {
  if (value === undefined) return "contains";
  return value === "equals" || value === "contains" || value === "starts-with" ||
      value === "ends-with"
    ? value
    : null;
}
