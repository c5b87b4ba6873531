/**
 * The most recent log events, kept in memory for the admin logs page (GET /api/logs): a ring
 * buffer the logger (log.ts) feeds with every line it writes.
 *
 * Implementation notes:
 * - Bounded: RECENT_LOG_CAPACITY events, each field string cut at MAX_FIELD_CHARS, so a burst
 *   of long stack traces costs a few megabytes at most. The oldest event goes first.
 * - An event holds copies of its fields made when it is logged (Errors as their stack, objects
 *   through JSON), never references into live objects.
 * - Fields named as credentials (password, secret, token, authorization, api_key,
 *   relay_password ...) are stored as "[redacted]". The logger is never handed passwords
 *   (src/directory logs the user and the address only); this is a second line of defence.
 * - Only what passes the configured [log] level is recorded: the buffer shows what the log
 *   file shows.
 */
import type { LogFields, LogLevel } from "./log.ts";

export const RECENT_LOG_CAPACITY = 5000;
const MAX_FIELD_CHARS = 4000;
const CREDENTIAL =
  /^(pass|passwd|password|secret|token|api_?key|authorization|credentials?)$|_(password|secret|token|key)$/i;

const LEVEL_ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LogEvent {
  /** ISO 8601. */
  time: string;
  level: LogLevel;
  component: string;
  message: string;
  /** The logged fields; `session` among them when the event belongs to one. */
  fields: Record<string, unknown>;
}

export interface LogQuery {
  /** At least this level. */
  level?: LogLevel;
  component?: string;
  session?: string;
  limit?: number;
}

/** A fixed-size ring of log events. */
export class RecentLog {
  readonly #events: (LogEvent | undefined)[];
  #next = 0;
  #count = 0;

  constructor(readonly capacity: number = RECENT_LOG_CAPACITY) {
    this.#events = new Array(capacity);
  }

  /** Records one event; `fields` are copied. */
  record(time: Date, level: LogLevel, component: string, message: string, fields: LogFields) {
    this.#events[this.#next] = {
      time: time.toISOString(),
      level,
      component,
      message,
      fields: snapshot(fields),
    };
    this.#next = (this.#next + 1) % this.capacity;
    this.#count = Math.min(this.#count + 1, this.capacity);
  }

  /**
   * The events matching `query`, newest first.
   *
   * @example
   * recentLog.query({ level: "warn", component: "smtp", limit: 200 });
   */
  query(query: LogQuery = {}): LogEvent[] {
    const limit = query.limit ?? this.capacity;
    const minimum = query.level ? LEVEL_ORDER[query.level] : 0;
    const found: LogEvent[] = [];
    for (let i = 1; i <= this.#count && found.length < limit; i++) {
      const event = this.#events[(this.#next - i + this.capacity) % this.capacity]!;
      if (LEVEL_ORDER[event.level] < minimum) continue;
      if (query.component !== undefined && event.component !== query.component) continue;
      if (query.session !== undefined && event.fields.session !== query.session) continue;
      found.push(event);
    }
    return found;
  }

  clear(): void {
    this.#events.fill(undefined);
    this.#next = 0;
    this.#count = 0;
  }
}

/** The process's recent events; the logger writes here. */
export const recentLog = new RecentLog();

function snapshot(fields: LogFields): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    copy[key] = CREDENTIAL.test(key) ? "[redacted]" : plain(value);
  }
  return copy;
}

function plain(value: unknown): unknown {
  if (typeof value === "string") return cut(value);
  if (typeof value === "number" || typeof value === "boolean" || value === null) return value;
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Error) return cut(value.stack ?? value.message);
  if (value instanceof Date) return value.toISOString();
  try {
    const text = JSON.stringify(value);
    if (text === undefined) return String(value);
    return text.length > MAX_FIELD_CHARS ? cut(text) : JSON.parse(text);
  } catch {
    return cut(String(value));
  }
}

function cut(text: string): string {
  return text.length > MAX_FIELD_CHARS ? text.slice(0, MAX_FIELD_CHARS) + "…" : text;
}
