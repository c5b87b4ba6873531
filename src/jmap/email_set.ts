import type { MethodSpec } from "./method.ts";
export const emailSetMethods: Record<string, MethodSpec> = {};
