/**
 * Settings applied without a restart (src/config/live.ts): the running spam engine's thresholds
 * and the objects the server reads at each use change in place; the queue's retry array stays
 * the same array (the queue holds it); everything else is not live.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { withApp } from "../helpers/app.ts";
import { parseConfigText } from "../../src/config/load.ts";
import { applyLive, LIVE_KEYS } from "../../src/config/live.ts";
import { settingKeys } from "../../src/config/settings.ts";
import { createSpam } from "../../src/spam/setup.ts";

const CHANGED = `[auth]
argon2_memory = "1M"
argon2_iterations = 1
[spam]
junk_threshold = 8.5
reject_threshold = 20
reputation = false
[spam.llm]
band_low = 1
band_high = 9
[jmap]
allow_plaintext_http = true
[mta_sts]
mode = "enforce"
max_age = "1d"
[queue]
retry = ["1m", "2h"]
[log]
level = "warn"
`;

Deno.test("live settings change the running spam engine and config in place", async () => {
  await withApp(async (app) => {
    app.spam = await createSpam(app, null);
    const next = parseConfigText(CHANGED, "x.toml");
    const retry = app.loaded.config.queue.retry;
    const config = app.loaded.config;
    for (const key of LIVE_KEYS) applyLive(app, key, next);
    const settings = app.spam.engine.settings;
    assertEquals(settings.junkThreshold, 8.5);
    assertEquals(settings.rejectThreshold, 20);
    assertEquals(settings.reputation, false);
    assertEquals(settings.llmBand, [1, 9]);
    assert(app.loaded.config === config, "the same config object");
    assert(app.loaded.config.queue.retry === retry, "the queue's own array");
    assertEquals(retry, [60, 7200]);
    assertEquals(config.jmap.allow_plaintext_http, true);
    assertEquals(config.mta_sts.mode, "enforce");
    assertEquals(config.mta_sts.max_age, 86400);
    assertEquals(config.log.level, "warn");
    const defaults = parseConfigText('[log]\nformat = "json"\n', "x.toml");
    applyLive(app, "log.level", defaults);
    applyLive(app, "log.format", defaults);
  });
});

Deno.test("every live key is a setting", () => {
  const keys = new Set(settingKeys().map((k) => k.key));
  for (const key of LIVE_KEYS) assert(keys.has(key), key);
  assert(!LIVE_KEYS.has("listeners.smtp"));
  assert(!LIVE_KEYS.has("auth.argon2_memory"));
});
