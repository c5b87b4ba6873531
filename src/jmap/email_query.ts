import type { MethodSpec } from "./method.ts";
export const emailQueryMethods: Record<string, MethodSpec> = {};
