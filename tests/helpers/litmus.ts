/**
 * Runs litmus (the WebDAV conformance suite, package `litmus`, scripts/install-dav-peers.sh)
 * against a collection URL and parses its report into per-suite figures.
 *
 * litmus creates `litmus/` under the URL it is given and works inside it. It writes debug.log
 * and child.log into its working directory, so it runs in a temporary folder removed afterwards.
 * `-k` keeps it going after a failing suite; the suites to run are chosen with `$TESTS`.
 *
 * @example
 * const results = await runLitmus("http://127.0.0.1:8080/dav/files/alice/", "alice", "pw");
 * console.log(formatLitmusTable(results));
 */

export const LITMUS_SUITES = ["basic", "copymove", "props", "locks", "http"] as const;
export type LitmusSuite = (typeof LITMUS_SUITES)[number];

export interface LitmusSuiteResult {
  /** From litmus' summary line: tests run that passed (skipped tests are not counted). */
  passed: number;
  /** Tests that failed; 1 with an explanation in `failures` when the suite did not finish. */
  failed: number;
  /** Warnings the suite issued (a test can pass with warnings). */
  warnings: number;
  /** "name: reason" for each failed test. */
  failures: string[];
  /** "name: text" for each warning litmus printed. */
  warningTexts: string[];
}

/** litmus is killed after this long (a server that never answers would hang it forever). */
const LITMUS_TIMEOUT_MS = 300_000;

/** Runs the given suites with `litmus -k URL USER PASSWORD` and parses the report. */
export async function runLitmus(
  url: string,
  user: string,
  password: string,
  suites: readonly string[] = LITMUS_SUITES,
): Promise<Map<string, LitmusSuiteResult>> {
  const cwd = await Deno.makeTempDir({ prefix: "postern-litmus-" });
  try {
    const output = await new Deno.Command("litmus", {
      args: ["-k", url, user, password],
      cwd,
      env: { TESTS: suites.join(" ") },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(LITMUS_TIMEOUT_MS),
    }).output();
    const decoder = new TextDecoder();
    const report = decoder.decode(output.stdout) + decoder.decode(output.stderr);
    return parseLitmusReport(report, suites);
  } finally {
    await Deno.remove(cwd, { recursive: true }).catch(() => {});
  }
}

const RUNNING = /^-> running `([^']+)':/;
const TEST_LINE = /^\s*(?:\d+\.\s(\S+?))?\.*\s+(pass|FAIL|SKIPPED|XFAIL|OOPS)(.*)$/;
const WARNED_TEST = /^\s*\d+\.\s(\S+?)\.*\s+WARNING:/;
const SUMMARY = /^<- summary for `([^']+)': of (\d+) tests run: (\d+) passed, (\d+) failed\./;
const ALL_SKIPPED = /^<- all tests skipped for `([^']+)'/;
const WARNINGS_ISSUED = /^-> (\d+) warnings? (?:was|were) issued\./;
const WARNING = /WARNING:\s*(.*)$/;

/**
 * Parses litmus' stdout. litmus redraws each test line with a carriage return, so only the text
 * after the last CR of a line counts. A requested suite without a summary (litmus could not
 * start it, or it crashed) gets `failed: 1` and the reason in `failures`, so "failed === 0"
 * never holds for a suite that did not run.
 */
export function parseLitmusReport(
  report: string,
  suites: readonly string[] = LITMUS_SUITES,
): Map<string, LitmusSuiteResult> {
  const results = new Map<string, LitmusSuiteResult>();
  const finished = new Set<string>();
  let suite: string | null = null;
  let current: LitmusSuiteResult | null = null;
  let countedWarnings = 0;
  let continued = false;
  let testName = "";
  for (const raw of report.split("\n")) {
    // No colour codes: litmus colours its output only on a terminal.
    const line = raw.slice(raw.lastIndexOf("\r") + 1);
    let match;
    if ((match = RUNNING.exec(line))) {
      suite = match[1];
      current = { passed: 0, failed: 0, warnings: 0, failures: [], warningTexts: [] };
      countedWarnings = 0;
      results.set(suite, current);
    } else if (!current || !suite) {
      continue;
    } else if ((match = SUMMARY.exec(line))) {
      current.passed = Number(match[3]);
      current.failed = Number(match[4]);
      current.warnings = countedWarnings;
      finished.add(suite);
    } else if ((match = ALL_SKIPPED.exec(line))) {
      finished.add(suite);
    } else if ((match = WARNINGS_ISSUED.exec(line))) {
      current.warnings = Number(match[1]);
    } else if ((match = WARNING.exec(line))) {
      // Printed on the test's line; its result then follows on a line of dots without the
      // number and name (" ....... pass (with 1 warning)").
      testName = WARNED_TEST.exec(line)?.[1] ?? testName;
      countedWarnings++;
      current.warnings = countedWarnings;
      current.warningTexts.push(`${testName}: ${match[1].trim()}`);
    } else if ((match = TEST_LINE.exec(line))) {
      const [, numbered, result, rest] = match;
      const name = numbered ?? testName;
      if (result === "pass" || result === "XFAIL") {
        current.passed++;
      } else if (result === "FAIL" || result === "OOPS") {
        current.failed++;
        current.failures.push(`${name}: ${rest.trim()}`);
        continued = !rest.trim().endsWith(")");
        continue;
      }
    } else if (continued) {
      // A failure reason can run over several lines, up to its closing parenthesis.
      current.failures[current.failures.length - 1] += ` ${line.trim()}`;
      continued = !line.trim().endsWith(")");
      continue;
    }
    continued = false;
  }
  for (const name of suites) {
    const result = results.get(name);
    if (!result) {
      results.set(name, {
        passed: 0,
        failed: 1,
        warnings: 0,
        warningTexts: [],
        failures: [`suite did not run: ${report.trim().split("\n").slice(-3).join(" / ")}`],
      });
    } else if (!finished.has(name)) {
      result.failed++;
      result.failures.push("suite did not finish (no summary line)");
    }
  }
  for (const result of results.values()) {
    result.failures = result.failures.map((text) => text.replace(/^([^:]+): \((.*)\)$/, "$1: $2"));
  }
  return results;
}

/**
 * Formats results as a plain table, one row per suite; with several servers, their columns sit
 * side by side ("passed/run, warnings").
 */
export function formatLitmusTable(columns: Record<string, Map<string, LitmusSuiteResult>>): string {
  const names = Object.keys(columns);
  const suites = [...new Set(Object.values(columns).flatMap((c) => [...c.keys()]))];
  const cell = (r: LitmusSuiteResult | undefined) =>
    r ? `${r.passed}/${r.passed + r.failed}${r.warnings ? ` (${r.warnings} warn)` : ""}` : "-";
  const rows = [
    ["suite", ...names],
    ...suites.map((s) => [s, ...names.map((n) => cell(columns[n].get(s)))]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows.map((row) => row.map((text, i) => text.padEnd(widths[i])).join("  ").trimEnd())
    .join("\n");
}
