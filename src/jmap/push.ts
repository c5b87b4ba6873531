/**
 * JMAP push (RFC 8620 7, RFC 8887): StateChange objects over an EventSource stream, over a JMAP
 * WebSocket, and POSTed to PushSubscription URLs. All three listen to the change bus.
 *
 * Implementation notes:
 * - The state of every type is the account modseq, read from the store when a StateChange is
 *   sent (some publishers send modseq 0); a StateChange names the types the bus events named.
 * - EmailDelivery (RFC 8621 1.5) is added when an Email change's commit created an email, i.e.
 *   delivery, import or append; a flag change or a move never reports it. The check reads one
 *   change-log row, and only for listeners that asked for EmailDelivery.
 * - Bursts are coalesced: a listener reports at most once per COALESCE_MS, and a PushSubscription
 *   has at most one POST in flight (changes during it go in the next one).
 * - Every EventSource and WebSocket holds one of the account's max_push_connections slots until
 *   it closes; closing (client gone, closeafter=state, server shutdown) unsubscribes from the bus
 *   and clears timers, in one idempotent function per connection. Deno.serve's shutdown waits
 *   for open responses, so JmapService.close() (called by the server before the HTTP servers
 *   shut down) closes every push connection.
 * - The event id of a "state" event, and a WebSocket pushState, is the account modseq: a client
 *   reconnecting with an older one (Last-Event-ID, RFC 8620 7.3; pushState, RFC 8887 4.3.5.2)
 *   gets a StateChange at once.
 */
import type { Context, Hono } from "hono";
import type { App } from "../app.ts";
import type { Account } from "../store/types.ts";
import type { ChangeEvent } from "../store/bus.ts";
import { logger } from "../observability/log.ts";
import type { Args, MethodSpec } from "./method.ts";
import type { Capability } from "./registry.ts";
import { authMiddleware, baseContext, baseUrl, type Env, type JmapService } from "./http.ts";
import { checkRequest, RequestProblem, runRequest } from "./dispatch.ts";
import { toJmapId } from "./ids.ts";
import {
  postPush,
  pushSubscriptionMethods,
  type PushTarget,
  subscriptionCache,
} from "./push_subscription.ts";

const log = logger("jmap-push");

export const WEBSOCKET = "urn:ietf:params:jmap:websocket";

/** How long a listener gathers changes before it reports them. */
const COALESCE_MS = 100;
/** RFC 8620 7.3: a server's minimum ping interval may be at most 30 s, its maximum at least 300. */
const MIN_PING_SECONDS = 1;
const MAX_PING_SECONDS = 300;
/** Events an EventSource client may leave unread before the server gives up on it. */
const MAX_UNREAD_EVENTS = 64;
/** Types a reconnecting client is told about when the server cannot say which changed. */
const MAIL_TYPES = ["Mailbox", "Email", "Thread"];
/** Objects with no /changes of their own: never in a StateChange. */
const UNREPORTED = new Set(["PushSubscription"]);

export const capabilities: Capability[] = [
  {
    urn: WEBSOCKET,
    // RFC 8887 4.1: an absolute ws: or wss: URL.
    session: (_limits, _config, baseUrl) => ({
      url: `${baseUrl.replace(/^http/, "ws")}/jmap/ws`,
      supportsPush: true,
    }),
    account: () => null,
  },
];

export const methods: Record<string, MethodSpec> = pushSubscriptionMethods;

/** RFC 8620 7.1. */
export interface StateChange {
  "@type": "StateChange";
  changed: Record<string, Record<string, string>>;
}

/** The data types `event` reports (null filter = all), with EmailDelivery when mail arrived. */
async function reportedTypes(
  app: App,
  event: ChangeEvent,
  wantsDelivery: boolean,
): Promise<string[]> {
  const types = event.types.filter((type) => !UNREPORTED.has(type));
  if (wantsDelivery && types.includes("Email") && event.modseq > 0) {
    const [first] = await app.store.changesOfTypes(event.accountId, ["Email"], event.modseq - 1, 1);
    if (first?.modseq === event.modseq && first.change === "created") types.push("EmailDelivery");
  }
  return types;
}

function wants(filter: Set<string> | null, type: string): boolean {
  return filter === null || filter.has(type);
}

/**
 * Gathers the types changed in one account and reports them once per COALESCE_MS; `deliver` may
 * be async, and changes arriving meanwhile wait for the next report.
 */
class StateChangeBatch {
  #types = new Set<string>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #sending = false;
  #closed = false;

  constructor(
    readonly app: App,
    readonly accountId: number,
    readonly filter: Set<string> | null,
    readonly deliver: (change: StateChange, state: string) => void | Promise<unknown>,
    readonly onIdle: () => void = () => {},
  ) {}

  add(types: readonly string[]): void {
    if (this.#closed) return;
    for (const type of types) if (wants(this.filter, type)) this.#types.add(type);
    this.#schedule();
  }

  /** Reports `types` now (a reconnecting client that missed changes). */
  async now(types: readonly string[]): Promise<void> {
    for (const type of types) if (wants(this.filter, type)) this.#types.add(type);
    if (this.#types.size > 0 && !this.#sending) await this.#flush();
  }

  /** Nothing waiting and nothing being sent. */
  get idle(): boolean {
    return this.#types.size === 0 && this.#timer === undefined && !this.#sending;
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    if (this.#types.size === 0 || this.#timer !== undefined || this.#sending) return;
    this.#timer = setTimeout(() => this.#flush(), COALESCE_MS);
  }

  async #flush(): Promise<void> {
    this.#timer = undefined;
    if (this.#closed || this.#types.size === 0) return;
    this.#sending = true;
    const types = [...this.#types];
    this.#types.clear();
    try {
      const state = String(await this.app.store.accountModseq(this.accountId));
      if (this.#closed) return;
      const changed = Object.fromEntries(types.map((type) => [type, state]));
      await this.deliver({
        "@type": "StateChange",
        changed: { [toJmapId("account", this.accountId)]: changed },
      }, state);
    } catch (error) {
      log.error("push failed", { account: this.accountId, error });
    } finally {
      this.#sending = false;
    }
    this.#schedule();
    if (this.idle) this.onIdle();
  }
}

/** Listens to one account's changes for one connection; returns the stop function. */
function listen(app: App, batch: StateChangeBatch): () => void {
  const wantsDelivery = wants(batch.filter, "EmailDelivery");
  const unsubscribe = app.bus.subscribe(batch.accountId, (event) => {
    reportedTypes(app, event, wantsDelivery).then(
      (types) => batch.add(types),
      (error) => log.error("push failed", { account: batch.accountId, error }),
    );
  });
  return () => {
    unsubscribe();
    batch.close();
  };
}

/** The open push connections: max_push_connections per account, and closing all at shutdown. */
class PushConnections {
  #used = new Map<number, number>();
  #open = new Set<() => void>();
  constructor(readonly max: number) {}

  /** Takes a slot for a connection that `close` ends; the release function, or null if full. */
  acquire(accountId: number, close: () => void): (() => void) | null {
    const used = this.#used.get(accountId) ?? 0;
    if (used >= this.max) return null;
    this.#used.set(accountId, used + 1);
    this.#open.add(close);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#open.delete(close);
      const left = (this.#used.get(accountId) ?? 1) - 1;
      if (left <= 0) this.#used.delete(accountId);
      else this.#used.set(accountId, left);
    };
  }

  /** Ends every connection: Deno.serve's graceful shutdown waits for open responses. */
  closeAll(): void {
    for (const close of [...this.#open]) close();
  }
}

function problemResponse(problem: RequestProblem): Response {
  return new Response(JSON.stringify(problem.toJson()), {
    status: problem.status,
    headers: { "content-type": "application/problem+json" },
  });
}

function tooManyConnections(max: number): Response {
  return problemResponse(
    new RequestProblem(
      "limit",
      429,
      `At most ${max} push connections at once.`,
      "maxPushConnections",
    ),
  );
}

// ---- EventSource (RFC 8620 7.3) ----

function eventSource(
  c: Context<Env>,
  service: JmapService,
  connections: PushConnections,
): Response {
  const account = c.get("account");
  const query = new URL(c.req.url).searchParams;
  const typesParam = query.get("types") ?? "*";
  const closeAfter = query.get("closeafter") ?? "no";
  const pingParam = query.get("ping") ?? "0";
  if (!/^\d{1,9}$/.test(pingParam) || (closeAfter !== "state" && closeAfter !== "no")) {
    return problemResponse(
      new RequestProblem("notRequest", 400, "closeafter must be state or no, ping a number."),
    );
  }
  const requested = Number(pingParam);
  const ping = requested === 0
    ? 0
    : Math.min(MAX_PING_SECONDS, Math.max(MIN_PING_SECONDS, requested));
  const filter = typesParam === "*"
    ? null
    : new Set(typesParam.split(",").map((type) => type.trim()).filter(Boolean));
  let streamController: ReadableStreamDefaultController<Uint8Array> | undefined;
  const release = connections.acquire(account.id, () => close(streamController));
  if (!release) return tooManyConnections(connections.max);
  const encoder = new TextEncoder();
  let stop = () => {};
  let pingTimer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;
  const close = (controller?: ReadableStreamDefaultController<Uint8Array>) => {
    if (closed) return;
    closed = true;
    stop();
    clearTimeout(pingTimer);
    release();
    c.req.raw.signal.removeEventListener("abort", onAbort);
    try {
      controller?.close();
    } catch { /* already closed or cancelled */ }
  };
  const onAbort = () => close();
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      streamController = controller;
      const send = (text: string) => {
        if (closed) return;
        if ((controller.desiredSize ?? 0) < -MAX_UNREAD_EVENTS) {
          log.info("eventsource dropped: client does not read", { account: account.address });
          close(controller);
          return;
        }
        controller.enqueue(encoder.encode(text));
        // RFC 8620 7.3: a ping when `ping` seconds pass since the previous event.
        if (ping > 0) {
          clearTimeout(pingTimer);
          pingTimer = setTimeout(
            () => send(`event: ping\ndata: ${JSON.stringify({ interval: ping })}\n\n`),
            ping * 1000,
          );
        }
      };
      const batch = new StateChangeBatch(service.app, account.id, filter, (change, state) => {
        send(`event: state\nid: ${state}\ndata: ${JSON.stringify(change)}\n\n`);
        if (closeAfter === "state") close(controller);
      });
      stop = listen(service.app, batch);
      // An SSE comment opens the stream at once (proxies, clients waiting for headers + body).
      send(": postern\n\n");
      const lastEventId = c.req.header("last-event-id");
      if (lastEventId !== undefined) {
        service.app.store.accountModseq(account.id).then((modseq) => {
          if (lastEventId !== String(modseq)) {
            return batch.now(
              filter ? [...filter].filter((t) => t !== "EmailDelivery") : MAIL_TYPES,
            );
          }
        }).catch((error) => log.error("push failed", { account: account.id, error }));
      }
    },
    cancel() {
      close();
    },
  });
  c.req.raw.signal.addEventListener("abort", onAbort);
  return new Response(stream, {
    headers: {
      "content-type": "text/event-stream",
      "cache-control": "no-cache, no-store",
      "x-accel-buffering": "no",
    },
  });
}

// ---- WebSocket (RFC 8887) ----

function webSocket(c: Context<Env>, service: JmapService, connections: PushConnections): Response {
  const account = c.get("account");
  if ((c.req.header("upgrade") ?? "").toLowerCase() !== "websocket") {
    return problemResponse(
      new RequestProblem("notRequest", 426, "A WebSocket upgrade is required."),
    );
  }
  const offered = (c.req.header("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim());
  if (!offered.includes("jmap")) {
    // RFC 8887 4.2: the client MUST ask for the "jmap" subprotocol.
    return problemResponse(
      new RequestProblem("notRequest", 400, 'The "jmap" WebSocket subprotocol is required.'),
    );
  }
  const opened: { socket?: WebSocket } = {};
  // RFC 6455 7.4.1: 1001, the server is going away.
  const release = connections.acquire(
    account.id,
    () => opened.socket?.close(1001, "The server is stopping."),
  );
  if (!release) return tooManyConnections(connections.max);
  // Read before the upgrade: Deno closes the request (its headers too) once it is upgraded.
  const base = baseUrl(c.req.raw, c.get("ip"));
  let upgraded: { socket: WebSocket; response: Response };
  try {
    upgraded = Deno.upgradeWebSocket(c.req.raw, { protocol: "jmap" });
  } catch (error) {
    release();
    throw error;
  }
  opened.socket = upgraded.socket;
  const session = new WebSocketSession(
    upgraded.socket,
    service,
    account,
    c.get("ip"),
    base,
  );
  const end = () => {
    session.close();
    release();
  };
  upgraded.socket.addEventListener("close", end);
  upgraded.socket.addEventListener("error", end);
  return upgraded.response;
}

/** One JMAP WebSocket: requests answered in any order, and push once enabled. */
class WebSocketSession {
  #stopPush: (() => void) | null = null;

  constructor(
    readonly socket: WebSocket,
    readonly service: JmapService,
    readonly account: Account,
    readonly ip: string,
    readonly baseUrl: string,
  ) {
    socket.addEventListener("message", (event) => {
      this.#message(event.data).catch((error) => {
        log.error("websocket message failed", { account: account.address, error });
        this.#send({
          "@type": "RequestError",
          type: "urn:ietf:params:jmap:error:serverFail",
          status: 500,
          detail: "The server failed to process the message.",
        });
      });
    });
  }

  close(): void {
    this.#stopPush?.();
    this.#stopPush = null;
  }

  #send(message: Args): void {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  #requestError(problem: RequestProblem, requestId: unknown): void {
    this.#send({
      "@type": "RequestError",
      ...(typeof requestId === "string" ? { requestId } : {}),
      ...problem.toJson(),
    });
  }

  async #message(data: unknown): Promise<void> {
    const limits = this.service.limits;
    if (typeof data !== "string") {
      // RFC 8887 4.3: JMAP messages are text frames of UTF-8 JSON.
      this.#requestError(new RequestProblem("notJSON", 400, "Messages must be text."), null);
      return;
    }
    if (data.length > limits.maxSizeRequest / 3 && byteLength(data) > limits.maxSizeRequest) {
      this.#requestError(
        new RequestProblem(
          "limit",
          400,
          `The request is larger than ${limits.maxSizeRequest} bytes.`,
          "maxSizeRequest",
        ),
        null,
      );
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(data);
    } catch {
      this.#requestError(new RequestProblem("notJSON", 400, "The message is not JSON."), null);
      return;
    }
    const message = (typeof value === "object" && value !== null ? value : {}) as Args;
    switch (message["@type"]) {
      case "Request":
        return await this.#request(message);
      case "WebSocketPushEnable":
        return await this.#pushEnable(message);
      case "WebSocketPushDisable":
        this.close();
        return;
      default:
        this.#requestError(
          new RequestProblem(
            "notRequest",
            400,
            '"@type" must be Request, WebSocketPushEnable or WebSocketPushDisable.',
          ),
          message.id,
        );
    }
  }

  async #request(message: Args): Promise<void> {
    const requestId = typeof message.id === "string" ? message.id : undefined;
    const service = this.service;
    if (!service.acquire("request", this.account.id)) {
      this.#requestError(
        new RequestProblem(
          "limit",
          400,
          `At most ${service.limits.maxConcurrentRequests} requests at once.`,
          "maxConcurrentRequests",
        ),
        requestId,
      );
      return;
    }
    try {
      const request = checkRequest(message, service.capabilities, service.limits.maxCallsInRequest);
      const { METHODS } = await import("./registry.ts");
      const { sessionResource } = await import("./session.ts");
      const sessionState = sessionResource(
        this.account,
        this.baseUrl,
        service.limits,
        service.app.loaded.config,
      ).state as string;
      const response = await runRequest(
        request,
        baseContext(service, this.account, this.ip),
        METHODS,
        sessionState,
      );
      this.#send({
        "@type": "Response",
        ...(requestId !== undefined ? { requestId } : {}),
        ...response,
      });
    } catch (error) {
      if (!(error instanceof RequestProblem)) throw error;
      this.#requestError(error, requestId);
    } finally {
      service.release("request", this.account.id);
    }
  }

  /** RFC 8887 4.3.5.2: replaces any earlier push of this connection. */
  async #pushEnable(message: Args): Promise<void> {
    const { dataTypes, pushState } = message;
    if (
      dataTypes !== undefined && dataTypes !== null &&
      (!Array.isArray(dataTypes) || dataTypes.some((type) => typeof type !== "string"))
    ) {
      this.#requestError(
        new RequestProblem("notRequest", 400, "dataTypes must be a list of type names or null."),
        null,
      );
      return;
    }
    this.close();
    const filter = Array.isArray(dataTypes) ? new Set(dataTypes as string[]) : null;
    const app = this.service.app;
    const batch = new StateChangeBatch(app, this.account.id, filter, (change, state) => {
      this.#send({ ...change, pushState: state });
    });
    this.#stopPush = listen(app, batch);
    if (typeof pushState === "string") {
      const modseq = await app.store.accountModseq(this.account.id);
      if (pushState !== String(modseq)) {
        await batch.now(filter ? [...filter].filter((t) => t !== "EmailDelivery") : MAIL_TYPES);
      }
    }
  }
}

function byteLength(text: string): number {
  return new TextEncoder().encode(text).length;
}

// ---- PushSubscription delivery (RFC 8620 7.2) ----

/** POSTs StateChanges to verified subscriptions; returns the stop function. */
function deliverToSubscriptions(app: App): () => void {
  const cache = subscriptionCache(app);
  const batches = new Map<string, { target: PushTarget; batch: StateChangeBatch }>();
  return app.bus.subscribe(null, (event) => {
    (async () => {
      const targets = await cache.deliverable(event.accountId);
      if (targets.length === 0) return;
      const wantsDelivery = targets.some((target) => wants(target.types, "EmailDelivery"));
      const types = await reportedTypes(app, event, wantsDelivery);
      for (const target of targets) {
        const key = `${event.accountId}/${target.id}`;
        let entry = batches.get(key);
        if (entry && entry.target !== target) {
          // The subscription changed (types, verification): start over with the new one.
          entry.batch.close();
          entry = undefined;
        }
        if (!entry) {
          const batch = new StateChangeBatch(
            app,
            event.accountId,
            target.types,
            (change) =>
              target.expires > Date.now() ? postPush(target.url, { ...change }) : undefined,
            () => batches.get(key)?.batch === batch && batches.delete(key),
          );
          entry = { target, batch };
          batches.set(key, entry);
        }
        entry.batch.add(types);
        // None of the types it wants: drop the entry rather than keep it for nothing.
        if (entry.batch.idle) batches.delete(key);
      }
    })().catch((error) => log.error("push failed", { account: event.accountId, error }));
  });
}

/** Mounts the push endpoints (EventSource, WebSocket) and starts PushSubscription delivery. */
export function mountPush(http: Hono, service: JmapService): void {
  const app = http as unknown as Hono<Env>;
  const auth = authMiddleware(service);
  const connections = new PushConnections(service.limits.maxPushConnections);
  app.get("/jmap/eventsource", auth, (c) => eventSource(c, service, connections));
  app.get("/jmap/ws", auth, (c) => webSocket(c, service, connections));
  // The server stops on these signals (cli/serve_command.ts) and its HTTP shutdown waits for
  // every open response, so push connections, which never end by themselves, end here.
  service.onClose(() => connections.closeAll());
  deliverToSubscriptions(service.app);
}
