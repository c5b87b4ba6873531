/**
 * FilterOperator trees and Comparator lists of /query (RFC 8620 5.5), shared by every type.
 * The condition test is the caller's; this walks AND/OR/NOT with a depth limit.
 */
import { type Args, fail, isPlainObject, MethodError } from "./method.ts";

/** Deeper operator nesting is refused (a request is otherwise only bounded by its size). */
const MAX_DEPTH = 32;

export interface Comparator {
  property: string;
  isAscending: boolean;
  collation: string;
  /** For the keyword sorts of Email/query (RFC 8621 4.4.2). */
  keyword?: string;
}

/** Whether `filter` (a FilterOperator or a FilterCondition) holds, by `test` on conditions. */
export function evaluateFilter(
  filter: Args,
  test: (condition: Args) => boolean,
  depth = 0,
): boolean {
  if (depth > MAX_DEPTH) fail(`filters nest at most ${MAX_DEPTH} deep`);
  if (!("operator" in filter)) return test(filter);
  const { operator, conditions } = filter;
  if (!Array.isArray(conditions) || conditions.some((c) => !isPlainObject(c))) {
    fail("conditions must be a list of filters");
  }
  if (Object.keys(filter).some((key) => key !== "operator" && key !== "conditions")) {
    fail("a FilterOperator has only operator and conditions");
  }
  const list = conditions as Args[];
  switch (operator) {
    case "AND":
      return list.every((c) => evaluateFilter(c, test, depth + 1));
    case "OR":
      return list.some((c) => evaluateFilter(c, test, depth + 1));
    case "NOT":
      return !list.some((c) => evaluateFilter(c, test, depth + 1));
    default:
      return fail("operator must be AND, OR or NOT");
  }
}

/** Checks every FilterCondition in the tree once (e.g. for unknown properties), before use. */
export function visitConditions(filter: Args, visit: (condition: Args) => void, depth = 0): void {
  if (depth > MAX_DEPTH) fail(`filters nest at most ${MAX_DEPTH} deep`);
  if (!("operator" in filter)) return visit(filter);
  if (!["AND", "OR", "NOT"].includes(filter.operator as string)) {
    fail("operator must be AND, OR or NOT");
  }
  const conditions = filter.conditions;
  if (!Array.isArray(conditions) || conditions.some((c) => !isPlainObject(c))) {
    fail("conditions must be a list of filters");
  }
  for (const c of conditions as Args[]) visitConditions(c, visit, depth + 1);
}

const COLLATIONS = ["i;ascii-casemap", "i;ascii-numeric", "i;unicode-casemap", "i;octet"];

/** The sort argument: a list of Comparators on the `allowed` properties (unsupportedSort else). */
export function readComparators(sort: unknown, allowed: readonly string[]): Comparator[] {
  if (sort === undefined || sort === null) return [];
  if (!Array.isArray(sort)) fail("sort must be a list of comparators");
  return (sort as unknown[]).map((item) => {
    if (!isPlainObject(item) || typeof item.property !== "string") {
      fail("a comparator needs a property");
    }
    for (const key of Object.keys(item)) {
      if (!["property", "isAscending", "collation", "keyword"].includes(key)) {
        fail(`unknown comparator field ${key}`);
      }
    }
    if (!allowed.includes(item.property)) {
      throw new MethodError("unsupportedSort", `cannot sort by ${item.property}`);
    }
    if (item.isAscending !== undefined && typeof item.isAscending !== "boolean") {
      fail("isAscending must be a boolean");
    }
    const collation = item.collation ?? "i;unicode-casemap";
    if (typeof collation !== "string" || !COLLATIONS.includes(collation)) {
      if (typeof collation !== "string") fail("collation must be a string");
      throw new MethodError("unsupportedSort", `unknown collation ${collation}`);
    }
    if (item.keyword !== undefined && typeof item.keyword !== "string") {
      fail("keyword must be a string");
    }
    return {
      property: item.property,
      isAscending: item.isAscending ?? true,
      collation,
      ...(typeof item.keyword === "string" ? { keyword: item.keyword } : {}),
    };
  });
}
