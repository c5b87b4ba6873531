/**
 * What delivery needs to run Sieve: the account's active script, compiled once per content
 * (CompiledCache, keyed by its SHA-256), and the limits from `[sieve]` in config.toml.
 */
import type { Store } from "../store/types.ts";
import { logger } from "../observability/log.ts";
import type { Command, Script } from "./ast.ts";
import { CompiledCache } from "./compile.ts";
import type { IncludedScript, SieveLimits } from "./interpret.ts";

const log = logger("sieve");

export interface SieveRuntimeLimits extends SieveLimits {
  maxScriptSize: number;
  maxNesting: number;
  /** Distinct personal scripts one delivery loads for include: [sieve] max_scripts. */
  maxScripts: number;
}

export interface ActiveScript {
  name: string;
  script: Script;
  requires: ReadonlySet<string>;
  /** The personal scripts it includes (RFC 6609), directly or not, compiled, by name. */
  includes: ReadonlyMap<string, IncludedScript>;
}

export class SieveRuntime {
  readonly #cache = new CompiledCache(256);

  constructor(readonly store: Store, readonly limits: SieveRuntimeLimits) {}

  /** The account's active script, compiled; null when none is active or it does not compile. */
  async scriptFor(accountId: number): Promise<ActiveScript | null> {
    const active = await this.store.getActiveSieveScript(accountId);
    if (!active) return null;
    const result = this.#compile(active.content);
    if (!result.ok) {
      // Stored scripts were checked when uploaded; a newer Postern may be stricter. Mail goes on.
      log.warn("the active Sieve script does not compile; delivering without it", {
        account: accountId,
        script: active.name,
        error: result.errors[0]?.message,
      });
      return null;
    }
    const includes = await this.#includes(accountId, result.script);
    return { name: active.name, script: result.script, requires: result.requires, includes };
  }

  #compile(content: string) {
    return this.#cache.compile(content, {
      maxSize: this.limits.maxScriptSize,
      maxNesting: this.limits.maxNesting,
    });
  }

  /**
   * The personal scripts `script` includes, and those they include, loaded now because the
   * interpreter runs without waiting on the store. Names are constants (RFC 6609 3.2). A
   * missing or broken script is left out: include then fails at run time unless :optional.
   */
  async #includes(accountId: number, script: Script): Promise<Map<string, IncludedScript>> {
    const loaded = new Map<string, IncludedScript>();
    const pending = includedNames(script.commands);
    const tried = new Set<string>();
    while (pending.length && tried.size < this.limits.maxScripts) {
      const name = pending.shift()!;
      if (tried.has(name)) continue;
      tried.add(name);
      const stored = await this.store.getSieveScript(accountId, name);
      if (!stored) continue;
      const result = this.#compile(stored.content);
      if (!result.ok) {
        log.warn("an included Sieve script does not compile", { account: accountId, script: name });
        continue;
      }
      loaded.set(name, { script: result.script, requires: result.requires });
      pending.push(...includedNames(result.script.commands));
    }
    return loaded;
  }
}

/** The script names of `include :personal` commands (the default location), anywhere. */
function includedNames(commands: Command[]): string[] {
  const names: string[] = [];
  for (const command of commands) {
    if (command.name === "include") {
      const global = command.arguments.some((a) => a.kind === "tag" && a.name === "global");
      const name = command.arguments.find((a) => a.kind === "string");
      if (!global && name?.kind === "string") names.push(name.value);
    }
    if (command.block) names.push(...includedNames(command.block));
  }
  return names;
}
