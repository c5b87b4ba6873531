/**
 * Web admin sessions and CSRF tokens (src/admin/session.ts, csrf.ts): a session ends after its
 * idle time or its maximum age, whichever comes first; each request restarts the idle timer;
 * the cookie has the attributes a browser needs; a form token is accepted only when it is the
 * session's own.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { csrfValid } from "../../src/admin/csrf.ts";
import {
  readCookie,
  SESSION_COOKIE,
  sessionCookie,
  SessionStore,
} from "../../src/admin/session.ts";

const MINUTE = 60_000;

Deno.test("admin session: ids and tokens are 256-bit random hex, distinct per session", () => {
  const sessions = new SessionStore({ idleMs: 30 * MINUTE, maxMs: 720 * MINUTE });
  const a = sessions.create(1, "admin@example.com", 0);
  const b = sessions.create(1, "admin@example.com", 0);
  for (const value of [a.id, a.csrfToken, b.id, b.csrfToken]) assertMatch(value, /^[0-9a-f]{64}$/);
  assert(a.id !== b.id && a.csrfToken !== b.csrfToken && a.id !== a.csrfToken);
  assertEquals(sessions.size, 2);
});

Deno.test("admin session: idle expiry, restarted by each request", () => {
  const sessions = new SessionStore({ idleMs: 30 * MINUTE, maxMs: 720 * MINUTE });
  const session = sessions.create(1, "admin@example.com", 0);
  assertEquals(sessions.get(session.id, 29 * MINUTE)?.id, session.id);
  // The request at 29 minutes restarted the idle timer.
  assertEquals(sessions.get(session.id, 58 * MINUTE)?.id, session.id);
  assertEquals(sessions.get(session.id, 88 * MINUTE), null);
  // Once ended, it stays ended.
  assertEquals(sessions.get(session.id, 88 * MINUTE + 1), null);
  assertEquals(sessions.size, 0);
});

Deno.test("admin session: absolute expiry however active", () => {
  const sessions = new SessionStore({ idleMs: 30 * MINUTE, maxMs: 120 * MINUTE });
  const session = sessions.create(1, "admin@example.com", 0);
  for (let t = 20; t < 120; t += 20) {
    assertEquals(sessions.get(session.id, t * MINUTE)?.id, session.id, `at ${t} minutes`);
  }
  assertEquals(sessions.get(session.id, 120 * MINUTE), null);
});

Deno.test("admin session: unknown ids, logout, an account's sessions, pruning", () => {
  const sessions = new SessionStore({ idleMs: 30 * MINUTE, maxMs: 720 * MINUTE });
  assertEquals(sessions.get("0".repeat(64), 0), null);
  const a = sessions.create(1, "admin@example.com", 0);
  const b = sessions.create(2, "other@example.com", 0);
  const c = sessions.create(2, "other@example.com", 0);
  sessions.delete(a.id);
  assertEquals(sessions.get(a.id, 1), null);
  sessions.deleteAccount(2);
  assertEquals(sessions.get(b.id, 1), null);
  assertEquals(sessions.get(c.id, 1), null);
  sessions.create(3, "old@example.com", 0);
  // A login after the first session ended drops it.
  sessions.create(4, "new@example.com", 31 * MINUTE);
  assertEquals(sessions.size, 1);
});

Deno.test("admin session: cookie attributes and parsing", () => {
  assertEquals(
    sessionCookie("abc", { secure: true }),
    `${SESSION_COOKIE}=abc; Path=/admin; HttpOnly; SameSite=Strict; Secure`,
  );
  assertEquals(
    sessionCookie("", { secure: false, maxAgeSeconds: 0 }),
    `${SESSION_COOKIE}=; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=0`,
  );
  // The self-service page's cookies live on its own path.
  assertEquals(
    sessionCookie("v", { secure: true, name: "postern_account", path: "/account" }),
    "postern_account=v; Path=/account; HttpOnly; SameSite=Strict; Secure",
  );
  assertEquals(readCookie(`a=1; ${SESSION_COOKIE}=xyz; b=2`, SESSION_COOKIE), "xyz");
  assertEquals(readCookie("a=1", SESSION_COOKIE), null);
  assertEquals(readCookie(null, SESSION_COOKIE), null);
});

Deno.test("admin CSRF: only the session's own token passes", () => {
  const sessions = new SessionStore({ idleMs: 30 * MINUTE, maxMs: 720 * MINUTE });
  const session = sessions.create(1, "admin@example.com", 0);
  const other = sessions.create(1, "admin@example.com", 0);
  assert(csrfValid(session.csrfToken, session.csrfToken));
  assert(!csrfValid(session.csrfToken, other.csrfToken));
  assert(!csrfValid(session.csrfToken, null));
  assert(!csrfValid(session.csrfToken, undefined));
  assert(!csrfValid(session.csrfToken, ""));
  assert(!csrfValid(session.csrfToken, session.csrfToken.slice(0, -1)));
  assert(!csrfValid(session.csrfToken, session.csrfToken.toUpperCase()));
  assert(!csrfValid(session.csrfToken, session.csrfToken + "0"));
  // An empty expected token (no login cookie) never matches, not even an empty field.
  assert(!csrfValid("", ""));
});
