/**
 * The settings a running server takes without a restart, and how each is applied.
 *
 * Implementation notes:
 * - A key is live only where the running code reads it at each use:
 *   - log.level, log.format: the logger's settings (configureLogging), read per line.
 *   - spam.junk_threshold, spam.reject_threshold, spam.reputation, spam.llm.band_low,
 *     spam.llm.band_high: the spam engine's settings object (SpamEngine.settings), read per
 *     message by the engine and the SMTP filter (X-Spam-Status "required=", Junk filing, the
 *     550 refusal, Sieve spamtest).
 *   - jmap.allow_plaintext_http, dav.allow_plaintext_http: app.loaded.config, read per request.
 *   - mta_sts.mode, mta_sts.max_age, mta_sts.mx: app.loaded.config, read per request of the
 *     policy file and of the DNS page (its id changes with them).
 *   - metrics.enabled, metrics.token, metrics.allow: app.loaded.config, read per scrape.
 *   - queue.retry: the queue holds the config's own array (src/smtp/outbound/setup.ts) and
 *     reads it at each deferral, so the array is changed in place, never replaced.
 * - Everything else is copied into objects built at start (listeners, limits,
 *   the rate limiter, the queue's timeouts, the spam filter's switches...) and takes
 *   effect at the next start; PATCH /api/settings answers those as restart_required.
 */
import type { App } from "../app.ts";
import type { Config } from "./schema.ts";
import { configureLogging } from "../observability/log.ts";

type Apply = (app: App, next: Config) => void;

const spamSettings = (app: App) => app.spam?.engine.settings;

const LIVE: Record<string, Apply> = {
  "log.level": (app, next) => {
    app.loaded.config.log.level = next.log.level;
    configureLogging({ level: next.log.level });
  },
  "log.format": (app, next) => {
    app.loaded.config.log.format = next.log.format;
    configureLogging({ format: next.log.format });
  },
  "spam.junk_threshold": (app, next) => {
    app.loaded.config.spam.junk_threshold = next.spam.junk_threshold;
    const settings = spamSettings(app);
    if (settings) settings.junkThreshold = next.spam.junk_threshold;
  },
  "spam.reject_threshold": (app, next) => {
    app.loaded.config.spam.reject_threshold = next.spam.reject_threshold;
    const settings = spamSettings(app);
    if (settings) settings.rejectThreshold = next.spam.reject_threshold;
  },
  "spam.reputation": (app, next) => {
    app.loaded.config.spam.reputation = next.spam.reputation;
    const settings = spamSettings(app);
    if (settings) settings.reputation = next.spam.reputation;
  },
  "spam.llm.band_low": (app, next) => applyLlmBand(app, next),
  "spam.llm.band_high": (app, next) => applyLlmBand(app, next),
  "jmap.allow_plaintext_http": (app, next) => {
    app.loaded.config.jmap.allow_plaintext_http = next.jmap.allow_plaintext_http;
  },
  "dav.allow_plaintext_http": (app, next) => {
    app.loaded.config.dav.allow_plaintext_http = next.dav.allow_plaintext_http;
  },
  "mta_sts.mode": (app, next) => {
    app.loaded.config.mta_sts.mode = next.mta_sts.mode;
  },
  "mta_sts.max_age": (app, next) => {
    app.loaded.config.mta_sts.max_age = next.mta_sts.max_age;
  },
  "mta_sts.mx": (app, next) => {
    app.loaded.config.mta_sts.mx = next.mta_sts.mx;
  },
  "metrics.enabled": (app, next) => {
    app.loaded.config.metrics.enabled = next.metrics.enabled;
  },
  "metrics.token": (app, next) => {
    app.loaded.config.metrics.token = next.metrics.token;
  },
  "metrics.allow": (app, next) => {
    app.loaded.config.metrics.allow = next.metrics.allow;
  },
  "queue.retry": (app, next) => {
    const retry = app.loaded.config.queue.retry;
    retry.splice(0, retry.length, ...next.queue.retry);
  },
};

function applyLlmBand(app: App, next: Config): void {
  const { band_low, band_high } = next.spam.llm;
  Object.assign(app.loaded.config.spam.llm, { band_low, band_high });
  const settings = spamSettings(app);
  if (settings) settings.llmBand = [band_low, band_high];
}

/** The dotted keys a running server applies without a restart. */
export const LIVE_KEYS: ReadonlySet<string> = new Set(Object.keys(LIVE));

/**
 * Applies the live key `key` from `next` (a validated config) to the running `app`.
 *
 * @example
 * if (LIVE_KEYS.has("log.level")) applyLive(app, "log.level", next);
 */
export function applyLive(app: App, key: string, next: Config): void {
  const apply = LIVE[key];
  if (!apply) throw new Error(`${key} is not a live setting`);
  apply(app, next);
}
