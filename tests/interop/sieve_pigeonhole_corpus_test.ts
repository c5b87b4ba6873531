/**
 * Interop: every case of the Sieve reference corpus (tests/fixtures/sieve/) through a live
 * Dovecot Pigeonhole `sieve-test` (scripts/install-sieve-peers.sh), asserting it still yields the
 * stored expected.txt. This keeps the corpus Pigeonhole's truth; Postern's interpreter is checked
 * against the same files elsewhere. Needs root (sieve-test runs as `nobody` through runuser).
 *
 * SIEVE_CORPUS_UPDATE=1 rewrites expected.txt from Pigeonhole instead of comparing (for new
 * cases; review the diff against the RFCs, see the README's divergences list).
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { loadCorpus, runPigeonhole } from "../helpers/sieve_corpus.ts";

const update = Deno.env.get("SIEVE_CORPUS_UPDATE") === "1";
const corpus = await loadCorpus();

Deno.test("sieve corpus: at least 150 cases, each with an expected outcome", () => {
  assert(corpus.length >= 150, `only ${corpus.length} cases`);
  if (update) return;
  for (const testCase of corpus) {
    assert(testCase.expected.length > 0, `${testCase.name}: expected.txt is missing or empty`);
  }
});

Deno.test("sieve corpus: Pigeonhole sieve-test yields every stored outcome", async (t) => {
  const queue = [...corpus];
  const failures: string[] = [];
  // A few cases at a time: each is two short sieve-test processes.
  await Promise.all(Array.from({ length: 8 }, async () => {
    for (let testCase = queue.shift(); testCase; testCase = queue.shift()) {
      const actual = await runPigeonhole(testCase.dir);
      if (update) {
        await Deno.writeTextFile(`${testCase.dir}/expected.txt`, actual.join("\n") + "\n");
      } else if (JSON.stringify(actual) !== JSON.stringify(testCase.expected)) {
        failures.push(
          `${testCase.name} (${testCase.description})\n  expected: ${
            testCase.expected.join("\n            ")
          }\n  actual:   ${actual.join("\n            ")}`,
        );
      }
    }
  }));
  await t.step(`${corpus.length} cases`, () => {
    assertEquals(failures, [], failures.join("\n"));
  });
});
