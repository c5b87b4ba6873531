/**
 * GET /api/logs: the recent log events kept in memory (src/observability/recent.ts), newest
 * first, filtered by minimum level, component and session id — what the admin logs page shows.
 */
import type { Hono } from "hono";
import { recentLog } from "../observability/recent.ts";
import type { LogLevel } from "../observability/log.ts";
import type { ApiEnv } from "./auth.ts";
import { ApiError } from "./respond.ts";

const LEVELS: LogLevel[] = ["debug", "info", "warn", "error"];
export const DEFAULT_LOG_LIMIT = 200;

export function mountLogs(api: Hono<ApiEnv>): void {
  api.get("/logs", (c) => {
    const level = c.req.query("level");
    if (level !== undefined && !LEVELS.includes(level as LogLevel)) {
      throw new ApiError(400, "invalidRequest", `level: expected one of ${LEVELS.join(", ")}`);
    }
    const limitText = c.req.query("limit");
    const limit = limitText === undefined ? DEFAULT_LOG_LIMIT : Number(limitText);
    if (!/^[0-9]{1,6}$/.test(limitText ?? "1") || limit < 1 || limit > recentLog.capacity) {
      throw new ApiError(
        400,
        "invalidRequest",
        `limit: expected an integer from 1 to ${recentLog.capacity}`,
      );
    }
    const events = recentLog.query({
      level: level as LogLevel | undefined,
      component: c.req.query("component") || undefined,
      session: c.req.query("session") || undefined,
      limit,
    });
    return c.json({ events });
  });
}
