/**
 * Structured logging: one line per event with level, time, component, session id, message and
 * fields. JSON by default (machine-readable), or `text` for humans at a terminal.
 *
 * @example
 * const log = logger("smtp");
 * log.info("connection accepted", { session: "a1b2", remote: "192.0.2.1" });
 */
import { recentLog } from "./recent.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFormat = "json" | "text";

const LEVEL_ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LogFields {
  session?: string;
  [key: string]: unknown;
}

export interface LogSink {
  write(line: string): void;
}

interface LogSettings {
  level: LogLevel;
  format: LogFormat;
  sink: LogSink;
}

const encoder = new TextEncoder();

const stderrSink: LogSink = {
  write(line) {
    try {
      Deno.stderr.writeSync(encoder.encode(line + "\n"));
    } catch {
      // stderr closed (the reading end of a pipe went away): losing a log line must not take
      // the server down with it.
    }
  },
};

const settings: LogSettings = { level: "info", format: "json", sink: stderrSink };

/** Opens an append-only log file as a sink. */
export function fileSink(path: string): LogSink {
  const file = Deno.openSync(path, { append: true, create: true });
  return {
    write(line) {
      file.writeSync(encoder.encode(line + "\n"));
    },
  };
}

export function configureLogging(options: Partial<LogSettings>): void {
  Object.assign(settings, options);
}

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

/** Returns a logger for a component ("smtp", "store", …); `bound` fields go on every line. */
export function logger(component: string, bound: LogFields = {}): Logger {
  const emit = (level: LogLevel, message: string, fields?: LogFields) => {
    if (LEVEL_ORDER[level] < LEVEL_ORDER[settings.level]) return;
    const all = { ...bound, ...fields };
    recentLog.record(new Date(), level, component, message, all);
    settings.sink.write(formatLine(level, component, message, all));
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (fields) => logger(component, { ...bound, ...fields }),
  };
}

function formatLine(level: LogLevel, component: string, message: string, fields: LogFields) {
  const time = new Date().toISOString();
  const { session, ...rest } = fields;
  for (const [key, value] of Object.entries(rest)) {
    if (value instanceof Error) rest[key] = value.stack ?? value.message;
  }
  if (settings.format === "json") {
    return JSON.stringify({ level, time, component, session, msg: message, ...rest });
  }
  const extras = Object.entries(rest).map(([k, v]) =>
    `${k}=${typeof v === "string" ? JSON.stringify(v) : JSON.stringify(v) ?? String(v)}`
  );
  const sessionPart = session ? ` [${session}]` : "";
  return `${time} ${level.toUpperCase().padEnd(5)} ${component}${sessionPart}: ${message}${
    extras.length ? " " + extras.join(" ") : ""
  }`;
}

/** A short random id for a session, printed in every log line of that session. */
export function newSessionId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
