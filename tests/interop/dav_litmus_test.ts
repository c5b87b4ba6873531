/**
 * Interop: litmus, the WebDAV conformance suite, against Postern's WebDAV file space
 * (`/dav/files/<login>/` on the plain HTTP listener) and, side by side, against a private
 * Radicale (the CalDAV/CardDAV reference, which is not a general WebDAV server: it refuses LOCK
 * and non-calendar PUTs). Both per-suite tables are printed; Postern must pass every test of
 * basic, copymove, props, locks and http. Needs `litmus` and `radicale`
 * (scripts/install-dav-peers.sh).
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import {
  formatLitmusTable,
  LITMUS_SUITES,
  type LitmusSuiteResult,
  runLitmus,
} from "../helpers/litmus.ts";
import { startRadicale } from "../helpers/radicale.ts";
import { cli, startServer } from "../helpers/server.ts";

const LOGIN = "alice@example.com";
const PASSWORD = "pw-alice-dav";

/** Asserts that every suite of `results` ran and passed all its tests (warnings are printed). */
export function assertLitmusClean(results: Map<string, LitmusSuiteResult>): void {
  for (const suite of LITMUS_SUITES) {
    const result = results.get(suite);
    assert(result, `litmus suite ${suite} missing`);
    assertEquals(
      { suite, failed: result.failed, failures: result.failures },
      { suite, failed: 0, failures: [] },
    );
    assert(result.passed > 0, `litmus suite ${suite} passed nothing`);
  }
}

Deno.test("litmus passes every test against Postern's WebDAV file space (Radicale alongside)", async () => {
  const radicale = await startRadicale();
  try {
    const server = await startServer();
    try {
      const added = await cli(server.configPath, [
        "account",
        "add",
        LOGIN,
        "--password",
        PASSWORD,
      ]);
      assertEquals(added.code, 0, added.stderr);
      const login = encodeURIComponent(LOGIN);
      const files = `http://127.0.0.1:${server.ports.http}/dav/files/${login}/`;
      const [postern, reference] = await Promise.all([
        runLitmus(files, LOGIN, PASSWORD),
        runLitmus(`${radicale.url}${radicale.user}/`, radicale.user, radicale.password),
      ]);
      console.log(formatLitmusTable({ Postern: postern, Radicale: reference }));
      for (const [suite, result] of postern) {
        for (const failure of result.failures) console.log(`Postern ${suite}: ${failure}`);
        for (const text of result.warningTexts) console.log(`Postern ${suite}: WARNING ${text}`);
      }
      assertLitmusClean(postern);
    } finally {
      await server.stop();
      await Deno.remove(server.dir, { recursive: true }).catch(() => {});
    }
  } finally {
    await radicale.stop();
  }
});
