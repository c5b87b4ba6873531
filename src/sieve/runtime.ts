/**
 * What delivery needs to run Sieve: the account's active script, compiled once per content
 * (CompiledCache, keyed by its SHA-256), and the limits from `[sieve]` in config.toml.
 */
import type { Store } from "../store/types.ts";
import { logger } from "../observability/log.ts";
import type { Script } from "./ast.ts";
import { CompiledCache } from "./compile.ts";
import { IMPLEMENTED_EXTENSIONS, type SieveLimits } from "./interpret.ts";

const IMPLEMENTED: ReadonlySet<string> = new Set(IMPLEMENTED_EXTENSIONS);

const log = logger("sieve");

export interface SieveRuntimeLimits extends SieveLimits {
  maxScriptSize: number;
  maxNesting: number;
}

export interface ActiveScript {
  name: string;
  script: Script;
  requires: ReadonlySet<string>;
}

export class SieveRuntime {
  readonly #cache = new CompiledCache(256);

  constructor(readonly store: Store, readonly limits: SieveRuntimeLimits) {}

  /** The account's active script, compiled; null when none is active or it does not compile. */
  async scriptFor(accountId: number): Promise<ActiveScript | null> {
    const active = await this.store.getActiveSieveScript(accountId);
    if (!active) return null;
    const result = this.#cache.compile(active.content, {
      maxSize: this.limits.maxScriptSize,
      maxNesting: this.limits.maxNesting,
      enabled: IMPLEMENTED,
    });
    if (!result.ok) {
      // Stored scripts were checked when uploaded; a newer Postern may be stricter. Mail goes on.
      log.warn("the active Sieve script does not compile; delivering without it", {
        account: accountId,
        script: active.name,
        error: result.errors[0]?.message,
      });
      return null;
    }
    return { name: active.name, script: result.script, requires: result.requires };
  }
}
