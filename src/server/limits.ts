/**
 * Connection limits from the `[limits]` section of config.toml.
 *
 * @example
 * const limits = connectionLimits(config.limits);
 */
import type { LimitsConfig } from "../config/schema.ts";
import type { ConnectionLimits } from "./connection.ts";

export function connectionLimits(limits: LimitsConfig): ConnectionLimits {
  return {
    maxLineLength: limits.max_line_length,
    idleTimeoutSeconds: limits.idle_timeout,
    maxConnections: limits.max_connections,
    maxConnectionsPerIp: limits.max_connections_per_ip,
  };
}
