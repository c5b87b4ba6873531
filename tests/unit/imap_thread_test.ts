/**
 * THREAD=REFERENCES and THREAD=ORDEREDSUBJECT (src/imap/thread.ts) on hand-built messages:
 * chains, branches, missing parents (dummies), gathering by subject, reference loops.
 */
import { assertEquals } from "../helpers/assert.ts";
import { orderedSubjectThreads, referencesThreads } from "../../src/imap/thread.ts";
import type { SortItem } from "../../src/imap/sort.ts";

function item(
  seq: number,
  id: string | null,
  subject: string,
  references: string[] = [],
  inReplyTo: string[] = [],
): SortItem {
  const base = subject.replace(/^(re|fwd?):\s*/i, "");
  return {
    seq,
    message: {
      uid: seq * 10,
      emailId: seq,
      modseq: 1,
      keywords: [],
      size: 1,
      receivedAt: new Date(1_700_000_000_000 + seq * 1000),
      savedAt: new Date(),
      threadId: 1,
    },
    fields: {
      id: seq,
      subject,
      baseSubject: base,
      from: [],
      to: [],
      cc: [],
      bcc: [],
      sentAt: new Date(1_700_000_000_000 + seq * 1000),
      blobHash: "",
      messageId: id,
      inReplyTo,
      references,
    },
  };
}

const seq = (i: SortItem) => i.seq;

Deno.test("REFERENCES: chains, branches and In-Reply-To", () => {
  assertEquals(
    referencesThreads([
      item(1, "a", "x"),
      item(2, "b", "Re: x", ["a"]),
      item(3, "c", "Re: x", ["a", "b"]),
    ], seq),
    "(1 2 3)",
  );
  assertEquals(
    referencesThreads([
      item(1, "a", "x"),
      item(2, "b", "Re: x", ["a"]),
      item(3, "c", "Re: x", [], ["a"]),
    ], seq),
    "(1 (2)(3))",
  );
});

Deno.test("REFERENCES: a missing parent becomes a dummy; lone messages stay alone", () => {
  assertEquals(
    referencesThreads([
      item(1, "b", "one", ["gone"]),
      item(2, "c", "two", ["gone"]),
      item(3, "d", "three"),
    ], seq),
    "((1)(2))(3)",
  );
  // A dummy with one child is replaced by it.
  assertEquals(referencesThreads([item(1, "b", "one", ["gone"])], seq), "(1)");
});

Deno.test("REFERENCES: roots with the same base subject are gathered", () => {
  assertEquals(referencesThreads([item(1, "a", "hello"), item(2, "b", "Re: hello")], seq), "(1 2)");
  assertEquals(
    referencesThreads([item(1, "a", "hello"), item(2, "b", "hello")], seq),
    "((1)(2))",
  );
});

Deno.test("REFERENCES: reference loops and duplicate ids do not hang or lose messages", () => {
  const threads = referencesThreads(
    [item(1, "a", "x", ["b"]), item(2, "b", "y", ["a"]), item(3, "a", "z"), item(4, null, "w")],
    seq,
  );
  for (const n of ["1", "2", "3", "4"]) assertEquals(threads.includes(n), true, threads);
});

Deno.test("ORDEREDSUBJECT: by base subject, first message parent of the rest", () => {
  assertEquals(
    orderedSubjectThreads([
      item(1, "a", "x"),
      item(2, "b", "y"),
      item(3, "c", "Re: x"),
      item(4, "d", "Re: x"),
    ], seq),
    "(1 (3)(4))(2)",
  );
});
