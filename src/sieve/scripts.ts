/**
 * Sieve scripts per account: list, get, put, rename, delete, activate, with the limits of
 * `[sieve]` and the script name rules of RFC 5804 1.6. ManageSieve calls this; JMAP's
 * SieveScript type can call it too. Errors a client causes are `ScriptFailure` values carrying
 * the RFC 5804 1.3 response code that fits.
 *
 * Implementation notes:
 * - Names are stored in NFC (RFC 5804 1.6: Net-Unicode) and compared octet by octet.
 * - A script is compiled (the injected `check`) before it is stored; a script that does not
 *   compile is never stored, so the active script always compiles.
 * - The script count is checked by the store inside the write's transaction, so two sessions
 *   racing cannot pass `max_scripts` together.
 *
 * @example
 * const scripts = new SieveScripts(store, { maxScriptSize: 65536, maxScripts: 32 }, check);
 * await scripts.put(account.id, "vacation", 'require "vacation";\nvacation "Away";');
 * await scripts.activate(account.id, "vacation");
 */
import { type SieveScript, type SieveScriptEntry, type Store, StoreError } from "../store/types.ts";

export interface ScriptLimits {
  /** Largest script in UTF-8 bytes. */
  maxScriptSize: number;
  /** Scripts one account may keep. */
  maxScripts: number;
}

export interface ScriptError {
  line: number;
  column: number;
  message: string;
}

export type ScriptCheck = { ok: true } | { ok: false; errors: ScriptError[] };

/** Why an operation was refused, with the RFC 5804 1.3 response code that says so. */
export interface ScriptFailure {
  ok: false;
  code: "NONEXISTENT" | "ALREADYEXISTS" | "ACTIVE" | "QUOTA/MAXSCRIPTS" | "QUOTA/MAXSIZE" | null;
  message: string;
  /** The compiler's errors, for a script that does not compile. */
  errors?: ScriptError[];
}

export type ScriptResult<T = undefined> = { ok: true; value: T } | ScriptFailure;

/**
 * RFC 5804 1.6: servers MUST allow names of 128 Unicode characters and MAY allow longer; longer
 * ones are refused, never truncated.
 */
export const MAX_SCRIPT_NAME_CHARACTERS = 128;
/** RFC 5804 1.6: no C0 or C1 controls, DEL, LINE SEPARATOR or PARAGRAPH SEPARATOR. */
// deno-lint-ignore no-control-regex
const FORBIDDEN_IN_NAME = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const encoder = new TextEncoder();

export class SieveScripts {
  constructor(
    private readonly store: Store,
    readonly limits: ScriptLimits,
    private readonly check: (source: string) => ScriptCheck,
  ) {}

  /**
   * The stored form of a client's script name, or a failure saying what is wrong with it.
   *
   * @example
   * scripts.name("Cafe\u0301"); // { ok: true, value: "Café" } (NFC)
   */
  name(name: string): ScriptResult<string> {
    if (name === "") return fail(null, "A script name must not be empty");
    if (FORBIDDEN_IN_NAME.test(name)) {
      return fail(null, "A script name must not contain control characters");
    }
    if (/\p{Cs}/u.test(name)) return fail(null, "A script name must be UTF-8");
    const normalized = name.normalize("NFC");
    if ([...normalized].length > MAX_SCRIPT_NAME_CHARACTERS) {
      return fail(null, `A script name has at most ${MAX_SCRIPT_NAME_CHARACTERS} characters`);
    }
    return { ok: true, value: normalized };
  }

  list(accountId: number): Promise<SieveScriptEntry[]> {
    return this.store.listSieveScripts(accountId);
  }

  async get(accountId: number, name: string): Promise<ScriptResult<SieveScript>> {
    const valid = this.name(name);
    if (!valid.ok) return valid;
    const script = await this.store.getSieveScript(accountId, valid.value);
    return script ? { ok: true, value: script } : nonexistent(valid.value);
  }

  /** RFC 5804 2.5 HAVESPACE: would a script of `size` bytes under `name` fit? */
  async haveSpace(accountId: number, name: string, size: number): Promise<ScriptResult> {
    const valid = this.name(name);
    if (!valid.ok) return valid;
    if (size > this.limits.maxScriptSize) return tooLarge(this.limits.maxScriptSize);
    const scripts = await this.store.listSieveScripts(accountId);
    if (
      !scripts.some((script) => script.name === valid.value) &&
      scripts.length >= this.limits.maxScripts
    ) {
      return tooMany(this.limits.maxScripts);
    }
    return { ok: true, value: undefined };
  }

  /** The refusal of a script over `maxScriptSize`. */
  tooLarge(): ScriptFailure {
    return tooLarge(this.limits.maxScriptSize);
  }

  /** RFC 5804 2.12 CHECKSCRIPT: the size and the compiler's verdict, nothing stored. */
  checkScript(content: string): ScriptResult {
    if (encoder.encode(content).length > this.limits.maxScriptSize) {
      return tooLarge(this.limits.maxScriptSize);
    }
    const checked = this.check(content);
    if (checked.ok) return { ok: true, value: undefined };
    return {
      ok: false,
      code: null,
      message: checked.errors.map(describeError).join("\r\n"),
      errors: checked.errors,
    };
  }

  /** RFC 5804 2.6 PUTSCRIPT: checks, then creates or replaces (an active script stays so). */
  async put(accountId: number, name: string, content: string): Promise<ScriptResult> {
    const valid = this.name(name);
    if (!valid.ok) return valid;
    const checked = this.checkScript(content);
    if (!checked.ok) return checked;
    try {
      await this.store.putSieveScript(accountId, valid.value, content, this.limits.maxScripts);
    } catch (error) {
      if (error instanceof StoreError && error.code === "quota") {
        return tooMany(this.limits.maxScripts);
      }
      throw error;
    }
    return { ok: true, value: undefined };
  }

  /** RFC 5804 2.11 RENAMESCRIPT. */
  async rename(accountId: number, from: string, to: string): Promise<ScriptResult> {
    const old = this.name(from);
    if (!old.ok) return old;
    const renamed = this.name(to);
    if (!renamed.ok) return renamed;
    try {
      await this.store.renameSieveScript(accountId, old.value, renamed.value);
    } catch (error) {
      if (error instanceof StoreError && error.code === "not_found") return nonexistent(old.value);
      if (error instanceof StoreError && error.code === "conflict") {
        return fail("ALREADYEXISTS", `A script named ${renamed.value} already exists`);
      }
      throw error;
    }
    return { ok: true, value: undefined };
  }

  /** RFC 5804 2.10 DELETESCRIPT: the active script cannot be deleted. */
  async delete(accountId: number, name: string): Promise<ScriptResult> {
    const valid = this.name(name);
    if (!valid.ok) return valid;
    switch (await this.store.deleteSieveScript(accountId, valid.value)) {
      case "deleted":
        return { ok: true, value: undefined };
      case "not_found":
        return nonexistent(valid.value);
      case "active":
        return fail("ACTIVE", "The active script cannot be deleted; deactivate it first");
    }
  }

  /** RFC 5804 2.8 SETACTIVE: "" deactivates whatever script is active. */
  async activate(accountId: number, name: string): Promise<ScriptResult> {
    if (name === "") {
      await this.store.setActiveSieveScript(accountId, null);
      return { ok: true, value: undefined };
    }
    const valid = this.name(name);
    if (!valid.ok) return valid;
    if (!await this.store.setActiveSieveScript(accountId, valid.value)) {
      return nonexistent(valid.value);
    }
    return { ok: true, value: undefined };
  }
}

/** "line 3, column 5: unknown command 'fileinot'". */
export function describeError(error: ScriptError): string {
  return `line ${error.line}, column ${error.column}: ${error.message}`;
}

function fail(code: ScriptFailure["code"], message: string): ScriptFailure {
  return { ok: false, code, message };
}

function nonexistent(name: string): ScriptFailure {
  return fail("NONEXISTENT", `There is no script named ${name}`);
}

function tooLarge(max: number): ScriptFailure {
  return fail("QUOTA/MAXSIZE", `Scripts are limited to ${max} bytes`);
}

function tooMany(max: number): ScriptFailure {
  return fail("QUOTA/MAXSCRIPTS", `An account may keep at most ${max} scripts`);
}
