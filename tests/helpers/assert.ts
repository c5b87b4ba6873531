/** Test assertions over node:assert (jsr:@std/assert is out of reach here). */
import nodeAssert from "node:assert/strict";

export function assert(condition: unknown, message?: string): asserts condition {
  nodeAssert.ok(condition, message);
}

export function assertEquals<T>(
  actual: unknown,
  expected: T,
  message?: string,
): asserts actual is T {
  nodeAssert.deepStrictEqual(actual, expected, message);
}

export function assertNotEquals(actual: unknown, expected: unknown, message?: string) {
  nodeAssert.notDeepStrictEqual(actual, expected, message);
}

export function assertMatch(actual: string, pattern: RegExp, message?: string) {
  nodeAssert.match(actual, pattern, message);
}

export function assertStringIncludes(actual: string, expected: string, message?: string) {
  nodeAssert.ok(
    actual.includes(expected),
    message ?? `expected ${JSON.stringify(actual)} to include ${JSON.stringify(expected)}`,
  );
}

// deno-lint-ignore no-explicit-any
type ErrorClass<E> = new (...args: any[]) => E;

export function assertThrows<E extends Error = Error>(fn: () => unknown, type?: ErrorClass<E>): E {
  try {
    fn();
  } catch (error) {
    if (type && !(error instanceof type)) {
      throw new Error(`expected ${type.name}, got ${(error as Error)?.name}: ${error}`);
    }
    return error as E;
  }
  throw new Error("expected the function to throw");
}

export async function assertRejects<E extends Error = Error>(
  fn: () => Promise<unknown>,
  type?: ErrorClass<E>,
): Promise<E> {
  try {
    await fn();
  } catch (error) {
    if (type && !(error instanceof type)) {
      throw new Error(`expected ${type.name}, got ${(error as Error)?.name}: ${error}`);
    }
    return error as E;
  }
  throw new Error("expected the promise to reject");
}
