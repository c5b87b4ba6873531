/**
 * Password hashing off the event loop. Argon2id at the default cost takes ~100 ms of CPU; done on
 * the main thread it would stall every session of every protocol for that long per login. A
 * worker is started on first use and stopped after 10 seconds without work, so an idle server
 * does not pay its memory (tens of MB: an isolate plus Argon2's memory; with the login cache a
 * busy server rarely needs it twice in a row). The worker module is password_worker.ts beside this file (source
 * tree, compiled binary with --include) or password_worker.js beside the bundle (deno task
 * build); without either, the work runs inline.
 *
 * @example
 * const hasher = new PasswordHasher();
 * const ok = await hasher.verify("secret", storedHash);
 */
import { type Argon2Params, hashPassword, verifyPassword } from "./password.ts";
import { logger } from "../observability/log.ts";

export type HasherRequest =
  | { id: number; op: "hash"; password: string; params: Argon2Params }
  | { id: number; op: "verify"; password: string; stored: string };

export type HasherResponse =
  | { id: number; ok: true; value: string | boolean }
  | { id: number; ok: false; error: string };

const IDLE_STOP_MS = 10_000;

interface Pending {
  request: HasherRequest;
  resolve: (value: string | boolean) => void;
  reject: (error: Error) => void;
}

export class PasswordHasher {
  #worker: Worker | null = null;
  #workerBroken = false;
  #pending = new Map<number, Pending>();
  #nextId = 1;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #log = logger("auth");

  hash(password: string, params: Argon2Params): Promise<string> {
    return this.#submit({ id: this.#nextId++, op: "hash", password, params }) as Promise<string>;
  }

  verify(password: string, stored: string): Promise<boolean> {
    return this.#submit({ id: this.#nextId++, op: "verify", password, stored }) as Promise<
      boolean
    >;
  }

  /** Stops the worker now (it restarts on the next request), e.g. after first-start work. */
  release(): void {
    if (this.#pending.size > 0) return;
    clearTimeout(this.#idleTimer);
    this.#worker?.terminate();
    this.#worker = null;
  }

  close(): void {
    clearTimeout(this.#idleTimer);
    this.#worker?.terminate();
    this.#worker = null;
    for (const pending of this.#pending.values()) this.#runInline(pending);
    this.#pending.clear();
  }

  #submit(request: HasherRequest): Promise<string | boolean> {
    return new Promise((resolve, reject) => {
      const pending = { request, resolve, reject };
      const worker = this.#ensureWorker();
      if (!worker) {
        this.#runInline(pending);
        return;
      }
      clearTimeout(this.#idleTimer);
      this.#pending.set(request.id, pending);
      worker.postMessage(request);
    });
  }

  #ensureWorker(): Worker | null {
    if (this.#worker || this.#workerBroken) return this.#worker;
    const script = workerScript();
    if (!script) {
      this.#workerBroken = true;
      this.#log.info("password hashing runs on the main thread (no worker module in this build)");
      return null;
    }
    try {
      const worker = new Worker(script, { type: "module" });
      worker.onmessage = (event: MessageEvent<HasherResponse>) => this.#settle(event.data);
      worker.onerror = (event) => {
        event.preventDefault();
        this.#log.warn("password worker unavailable; hashing on the main thread", {
          error: event.message,
        });
        this.#workerBroken = true;
        this.#worker?.terminate();
        this.#worker = null;
        for (const pending of this.#pending.values()) this.#runInline(pending);
        this.#pending.clear();
      };
      this.#worker = worker;
    } catch {
      this.#workerBroken = true;
    }
    return this.#worker;
  }

  #settle(response: HasherResponse) {
    const pending = this.#pending.get(response.id);
    if (!pending) return;
    this.#pending.delete(response.id);
    if (response.ok) pending.resolve(response.value);
    else pending.reject(new Error(response.error));
    if (this.#pending.size === 0) {
      const timer = setTimeout(() => {
        this.#worker?.terminate();
        this.#worker = null;
      }, IDLE_STOP_MS);
      Deno.unrefTimer(timer as unknown as number);
      this.#idleTimer = timer;
    }
  }

  #runInline({ request, resolve, reject }: Pending) {
    const work = request.op === "hash"
      ? hashPassword(request.password, request.params)
      : verifyPassword(request.password, request.stored);
    work.then(resolve, reject);
  }
}

function workerScript(): string | null {
  for (const name of ["./password_worker.ts", "./password_worker.js"]) {
    const url = new URL(name, import.meta.url);
    if (url.protocol !== "file:") return url.href;
    try {
      Deno.statSync(url);
      return url.href;
    } catch {
      // try the next name
    }
  }
  return null;
}
