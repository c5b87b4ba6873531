/** (being written) */
import type { MethodSpec } from "./method.ts";
import type { Capability } from "./registry.ts";

export const capabilities: Capability[] = [];
export const methods: Record<string, MethodSpec> = {};
