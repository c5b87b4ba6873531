/**
 * Builds the spam filter from config.toml's `[spam]` section: the engine with the embedded rules
 * (plus the rules file named in config), DNS lists through the server's resolver, the optional
 * LLM, the trainer listening on the change bus, the SMTP filter and greylisting.
 *
 * Implementation notes:
 * - A rules file that does not parse stops the server at start (RuleError names the rule); a
 *   filter silently running without the user's rules would be worse.
 * - The CLI (`postern spam train`) builds the engine without a resolver: learning needs no DNS.
 */
import { isAbsolute, join } from "node:path";
import type { App } from "../app.ts";
import type { Resolver } from "../dns/resolver.ts";
import { SpamEngine } from "./engine.ts";
import { defaultRules, mergeRules, parseRules, type RuleSet } from "./rules.ts";
import { DnsLists } from "./dnsbl.ts";
import { LlmClassifier } from "./llm.ts";
import { SpamTrainer } from "./training.ts";
import { spamFilter } from "./filter.ts";
import { Greylist } from "./greylist.ts";
import type { InboundFilter } from "../smtp/filters.ts";

export interface Spam {
  engine: SpamEngine;
  trainer: SpamTrainer;
  /** The SMTP filter; null when `[spam] enabled = false`. */
  filter: InboundFilter | null;
  /** Greylisting at RCPT; null unless `[spam.greylist] enabled`. */
  greylist: Greylist | null;
  /**
   * Stops listening for judgements, finishes the one being learnt and writes back the
   * in-memory 4-gram model; before the store closes.
   */
  close(): Promise<void>;
}

/** The rule set: the embedded rules, with the config's rules file over them. */
export async function loadRules(app: App): Promise<RuleSet> {
  const file = app.loaded.config.spam.rules;
  if (!file) return defaultRules();
  const path = isAbsolute(file) ? file : join(app.loaded.paths.configDir, file);
  const text = await Deno.readTextFile(path);
  return mergeRules(defaultRules(), parseRules(text, path, defaultRules()));
}

export async function createSpam(app: App, resolver: Resolver | null): Promise<Spam> {
  const { config } = app.loaded;
  const settings = config.spam;
  const llm = settings.llm.endpoint
    ? new LlmClassifier({
      endpoint: settings.llm.endpoint,
      model: settings.llm.model,
      apiKey: settings.llm.api_key || Deno.env.get("POSTERN_LLM_API_KEY") || undefined,
      timeoutMs: settings.llm.timeout * 1000,
      maxPerHour: settings.llm.max_per_hour,
      maxChars: settings.llm.max_chars,
    })
    : null;
  const engine = new SpamEngine({
    store: app.store.spam,
    rules: await loadRules(app),
    authservId: config.server.hostname,
    mimeLimits: {
      maxHeaderSize: config.limits.max_header_size,
      maxDepth: config.limits.max_mime_depth,
      maxParts: config.limits.max_mime_parts,
    },
    settings: {
      junkThreshold: settings.junk_threshold,
      rejectThreshold: settings.reject_threshold,
      llmBand: [settings.llm.band_low, settings.llm.band_high],
      reputation: settings.reputation,
    },
    dnsLists: resolver && settings.dns_lists
      ? new DnsLists(resolver, {
        timeoutMs: settings.dns_list_timeout * 1000,
        cacheSize: 10_000,
        maxUriDomains: 20,
        checkPrivate: settings.dns_lists_check_private,
      })
      : null,
    llm,
  });
  const trainer = new SpamTrainer(engine, app.store, app.blobs);
  const unsubscribe = settings.learn ? trainer.listen(app.bus) : () => {};
  const greylist = settings.greylist.enabled
    ? new Greylist(app.store.spam, {
      delaySeconds: settings.greylist.delay,
      retryWindowHours: settings.greylist.retry_window / 3600,
      passDays: settings.greylist.pass_ttl / 86400,
      ipv4Prefix: 24,
      ipv6Prefix: 64,
      exempt: settings.greylist.exempt,
    })
    : null;
  return {
    engine,
    trainer,
    filter: settings.enabled ? spamFilter(engine, { addHeaders: settings.add_headers }) : null,
    greylist,
    close: async () => {
      unsubscribe();
      await trainer.stop();
      await engine.close();
    },
  };
}
