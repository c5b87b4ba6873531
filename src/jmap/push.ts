/** (being written) */
import type { MethodSpec } from "./method.ts";
import type { Capability } from "./registry.ts";

export const capabilities: Capability[] = [];
export const methods: Record<string, MethodSpec> = {};

import type { Hono } from "hono";
import type { JmapService } from "./http.ts";

/** Mounts the push endpoints (EventSource, WebSocket). */
export function mountPush(_app: Hono, _service: JmapService): void {}
