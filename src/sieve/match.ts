/**
 * Sieve comparisons (RFC 5228 2.7, RFC 4790, RFC 5231): comparators, match types and
 * relational operators, with the match variables of RFC 5229 3.2.
 *
 * Implementation notes:
 * - `:matches` runs the classic single-backtrack glob algorithm: when a character fails, only
 *   the last `*` grows, so the time is O(pattern × value), never exponential, and earlier
 *   wildcards match as little as possible (RFC 5229 3.2: "${1}" of "*@*" on "a@b@c" is "a").
 * - `:regex` uses JavaScript's engine on POSIX extended syntax; inputs are capped
 *   (MAX_REGEX_INPUT) and patterns with nested quantifiers — the shapes that backtrack
 *   exponentially — are refused at compile time by checkRegex.
 * - i;ascii-numeric compares the leading digits as an unbounded integer; a value without
 *   leading digits is positive infinity, equal only to another such value (RFC 4790 9.1.1).
 */

export type Comparator = "i;ascii-casemap" | "i;octet" | "i;ascii-numeric" | "i;unicode-casemap";
export type MatchType = "is" | "contains" | "matches" | "regex" | "value" | "count";
export type Relation = "gt" | "ge" | "lt" | "le" | "eq" | "ne";

/** Longest value a :regex runs on (longer values are cut there). */
export const MAX_REGEX_INPUT = 64 * 1024;

function asciiLower(text: string): string {
  return text.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}

/** The form a comparator compares (case folded, or as is). */
export function fold(text: string, comparator: Comparator): string {
  if (comparator === "i;ascii-casemap") return asciiLower(text);
  if (comparator === "i;unicode-casemap") return text.normalize("NFKC").toLowerCase();
  return text;
}

/** i;ascii-numeric's value: the leading digits as a BigInt, or null for "infinity". */
function numeric(text: string): bigint | null {
  const digits = /^[0-9]+/.exec(text);
  return digits ? BigInt(digits[0]) : null;
}

/** Ordering under a comparator: negative, zero or positive. */
export function compare(a: string, b: string, comparator: Comparator): number {
  if (comparator === "i;ascii-numeric") {
    const x = numeric(a);
    const y = numeric(b);
    if (x === null && y === null) return 0;
    if (x === null) return 1;
    if (y === null) return -1;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  const x = fold(a, comparator);
  const y = fold(b, comparator);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function relate(order: number, relation: Relation): boolean {
  switch (relation) {
    case "gt":
      return order > 0;
    case "ge":
      return order >= 0;
    case "lt":
      return order < 0;
    case "le":
      return order <= 0;
    case "eq":
      return order === 0;
    case "ne":
      return order !== 0;
  }
}

/**
 * `:matches` (RFC 5228 2.7.1): `*` any run, `?` one character, `\` escapes the next one. Returns
 * the match variables (${0} the whole value, then one per wildcard) or null.
 */
export function globMatch(value: string, pattern: string, comparator: Comparator): string[] | null {
  const tokens: { kind: "star" | "one" | "char"; char?: string }[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "\\" && i + 1 < pattern.length) tokens.push({ kind: "char", char: pattern[++i] });
    else if (c === "*") tokens.push({ kind: "star" });
    else if (c === "?") tokens.push({ kind: "one" });
    else tokens.push({ kind: "char", char: c });
  }
  const chars = [...value];
  const same = (a: string, b: string) =>
    comparator === "i;octet" ? a === b : fold(a, comparator) === fold(b, comparator);
  // Capture bounds per wildcard token: [start, end) in chars.
  const starts = new Array<number>(tokens.length).fill(0);
  const ends = new Array<number>(tokens.length).fill(0);
  let t = 0;
  let v = 0;
  let lastStar = -1;
  let lastStarValue = 0;
  while (v < chars.length) {
    const token = tokens[t];
    if (token && token.kind === "star") {
      lastStar = t;
      starts[t] = v;
      ends[t] = v;
      lastStarValue = v;
      t++;
    } else if (token && token.kind === "one") {
      starts[t] = v;
      ends[t] = v + 1;
      t++;
      v++;
    } else if (token && token.kind === "char" && same(token.char!, chars[v])) {
      t++;
      v++;
    } else if (lastStar >= 0) {
      // Grow the last star by one character and retry what follows it.
      t = lastStar + 1;
      lastStarValue++;
      ends[lastStar] = lastStarValue;
      v = lastStarValue;
    } else {
      return null;
    }
  }
  while (t < tokens.length && tokens[t].kind === "star") {
    starts[t] = v;
    ends[t] = v;
    t++;
  }
  if (t !== tokens.length) return null;
  const variables = [value];
  tokens.forEach((token, i) => {
    if (token.kind !== "char") variables.push(chars.slice(starts[i], ends[i]).join(""));
  });
  return variables;
}

const POSIX_CLASSES: Record<string, string> = {
  alpha: "A-Za-z",
  digit: "0-9",
  alnum: "A-Za-z0-9",
  upper: "A-Z",
  lower: "a-z",
  space: " \\t\\r\\n\\v\\f",
  blank: " \\t",
  punct: "!-\\/:-@\\[-`{-~",
  xdigit: "0-9A-Fa-f",
  cntrl: "\\x00-\\x1f\\x7f",
  print: " -~",
  graph: "!-~",
  word: "A-Za-z0-9_",
};

/** POSIX bracket classes ("[[:digit:]]") in JavaScript's syntax; other text unchanged. */
export function posixToJs(pattern: string): string {
  return pattern.replace(/\[:([a-z]+):\]/g, (whole, name: string) => POSIX_CLASSES[name] ?? whole);
}

/**
 * Refuses :regex patterns that JavaScript could run for exponential time (a quantified group
 * that itself contains a quantifier, like (a+)+ or (a|aa)*), and ones that do not compile.
 * Returns an error message, or null when the pattern is usable.
 */
export function checkRegex(pattern: string): string | null {
  if (pattern.length > 1024) return "the regular expression is longer than 1024 characters";
  pattern = posixToJs(pattern);
  try {
    new RegExp(pattern, "u");
  } catch {
    try {
      new RegExp(pattern);
    } catch (error) {
      return `bad regular expression: ${(error as Error).message}`;
    }
  }
  if (/\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)\s*[+*{]/.test(pattern)) {
    return "nested quantifiers are not allowed in :regex (they can take exponential time)";
  }
  // A repeated group of alternatives, (a|aa)*, backtracks exponentially too.
  if (/\((?:[^()\\]|\\.)*\|(?:[^()\\]|\\.)*\)\s*[+*{]/.test(pattern)) {
    return "a repeated group of alternatives is not allowed in :regex (it can take exponential time)";
  }
  return null;
}

const regexCache = new Map<string, RegExp>();

/** `:regex`: the match variables (${0} the match, then the groups) or null. */
export function regexMatch(
  value: string,
  pattern: string,
  comparator: Comparator,
): string[] | null {
  const flags = comparator === "i;octet" ? "" : "i";
  const key = `${flags}/${pattern}`;
  let regex = regexCache.get(key);
  if (!regex) {
    try {
      regex = new RegExp(posixToJs(pattern), flags);
    } catch {
      return null;
    }
    if (regexCache.size > 256) regexCache.clear();
    regexCache.set(key, regex);
  }
  const match = regex.exec(value.slice(0, MAX_REGEX_INPUT));
  return match ? match.map((group) => group ?? "") : null;
}

export interface MatchOptions {
  matchType: MatchType;
  comparator: Comparator;
  relation?: Relation;
}

/**
 * Whether any value matches any key (RFC 5228 2.7); for :count, the number of values compared
 * to each key. Returns the match variables of the first match (for :matches and :regex), [] for
 * a match without variables, or null for none.
 */
export function matchAny(values: string[], keys: string[], options: MatchOptions): string[] | null {
  const { matchType, comparator, relation } = options;
  if (matchType === "count") {
    const count = String(values.length);
    for (const key of keys) {
      if (relate(compare(count, key, "i;ascii-numeric"), relation ?? "eq")) return [];
    }
    return null;
  }
  for (const value of values) {
    for (const key of keys) {
      switch (matchType) {
        case "is":
          if (compare(value, key, comparator) === 0) return [];
          break;
        case "contains":
          if (comparator === "i;ascii-numeric") break; // not a substring comparator
          if (fold(value, comparator).includes(fold(key, comparator))) return [];
          break;
        case "value":
          if (relate(compare(value, key, comparator), relation ?? "eq")) return [];
          break;
        case "matches": {
          const variables = globMatch(value, key, comparator);
          if (variables) return variables;
          break;
        }
        case "regex": {
          const variables = regexMatch(value, key, comparator);
          if (variables) return variables;
          break;
        }
      }
    }
  }
  return null;
}
