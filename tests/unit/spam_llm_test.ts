import { assert, assertEquals } from "../helpers/assert.ts";
import {
  chatCompletionsUrl,
  LlmClassifier,
  type LlmOptions,
  parseLlmAnswer,
  SYSTEM_PROMPT,
} from "../../src/spam/llm.ts";
import { analyzeMessage } from "../../src/spam/analyze.ts";
import { parseMime } from "../../src/mail/mime.ts";
import type { LogFields, Logger } from "../../src/observability/log.ts";
import type { MessageFacts } from "../../src/spam/types.ts";

const MIME_LIMITS = { maxHeaderSize: 64 * 1024, maxDepth: 10, maxParts: 100 };
/** A word of the message that must reach the model and never the log. */
const SECRET = "Zanzibar-7731";

function facts(body = `Dear customer, your account is locked. ${SECRET}`): MessageFacts {
  const raw = new TextEncoder().encode(
    "From: PayPal Security <security@paypa1-alerts.test>\r\n" +
      "Reply-To: help@collector.test\r\nTo: alice@example.org\r\n" +
      `Subject: Urgent: verify your account ${SECRET}\r\nContent-Type: text/html\r\n\r\n` +
      `<p>${body}</p><a href="https://login.paypa1-alerts.test/verify">Verify now</a>\r\n`,
  );
  return analyzeMessage(raw, parseMime(raw, MIME_LIMITS), {
    sender: "bounce@paypa1-alerts.test",
    recipients: ["alice@example.org"],
    remoteAddress: "93.184.216.34",
    helo: "mail.paypa1-alerts.test",
    authenticated: false,
  }, "mx.example.org");
}

interface Received {
  path: string;
  authorization: string | null;
  body: {
    model: string;
    temperature: number;
    max_tokens?: number;
    messages: { role: string; content: string }[];
  };
}

type Reply = (request: Request) => Response | Promise<Response>;

/** A chat-completions answer whose message content is `content`. */
function completion(content: string): Response {
  return Response.json({
    id: "chatcmpl-1",
    object: "chat.completion",
    created: 1_700_000_000,
    model: "stub",
    choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
  });
}

function recordingLog(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const record = (message: string, fields?: LogFields) =>
    lines.push(`${message} ${JSON.stringify(fields ?? {})}`);
  const log: Logger & { lines: string[] } = {
    lines,
    debug: record,
    info: record,
    warn: record,
    error: record,
    child: () => log,
  };
  return log;
}

/** Runs `work` against a stub endpoint on 127.0.0.1 answering with `reply`. */
async function withStub(
  reply: Reply,
  work: (baseUrl: string, received: Received[]) => Promise<void>,
) {
  const received: Received[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    received.push({
      path: new URL(request.url).pathname,
      authorization: request.headers.get("authorization"),
      body: await request.json(),
    });
    return await reply(request);
  });
  try {
    await work(`http://127.0.0.1:${server.addr.port}`, received);
  } finally {
    await server.shutdown();
  }
}

function classifier(endpoint: string, options: Partial<LlmOptions> = {}) {
  return new LlmClassifier({
    endpoint,
    model: "stub-model",
    timeoutMs: 5_000,
    maxPerHour: 100,
    maxChars: 2_000,
    log: recordingLog(),
    ...options,
  });
}

const SPAM = '{"verdict":"spam","confidence":0.9,"reason":"bulk offer"}';

Deno.test("a spam answer gives LLM_SPAM scaled by confidence; the request is a chat completion at temperature 0", async () => {
  await withStub(() => completion(SPAM), async (base, received) => {
    const symbol = await classifier(base, { apiKey: "sk-test" }).classify(facts());
    assertEquals(symbol, { name: "LLM_SPAM", score: 3.6, detail: "spam 0.9: bulk offer" });
    assertEquals(received.length, 1);
    const [{ path, authorization, body }] = received;
    assertEquals(path, "/v1/chat/completions");
    assertEquals(authorization, "Bearer sk-test");
    assertEquals(body.model, "stub-model");
    assertEquals(body.temperature, 0);
    assertEquals(body.max_tokens, 200);
    assertEquals(body.messages.map((m) => m.role), ["system", "user"]);
    assertEquals(body.messages[0].content, SYSTEM_PROMPT);
    const user = body.messages[1].content;
    for (
      const line of [
        "From: PayPal Security <security@paypa1-alerts.test>",
        "Reply-To: help@collector.test",
        "To: alice@example.org",
        `Subject: Urgent: verify your account ${SECRET}`,
        "Link hosts: login.paypa1-alerts.test",
      ]
    ) {
      assert(user.includes(line), `missing ${line} in ${user}`);
    }
    assert(user.includes(`your account is locked. ${SECRET}`), user);
  });
});

Deno.test("phishing gives LLM_PHISHING up to +5 and ham LLM_HAM down to -2", async () => {
  const answers = [
    '{"verdict":"phishing","confidence":1,"reason":"fake login page"}',
    '{"verdict":"ham","confidence":0.5,"reason":"personal note"}',
    '{"verdict":"HAM","confidence":"80%","reason":"receipt"}',
  ];
  let next = 0;
  await withStub(() => completion(answers[next++]), async (base) => {
    const llm = classifier(base);
    assertEquals(await llm.classify(facts()), {
      name: "LLM_PHISHING",
      score: 5,
      detail: "phishing 1: fake login page",
    });
    assertEquals(await llm.classify(facts()), {
      name: "LLM_HAM",
      score: -1,
      detail: "ham 0.5: personal note",
    });
    assertEquals((await llm.classify(facts()))?.score, -1.6);
  });
});

Deno.test("JSON in code fences, with prose or a think block around it, is read", async () => {
  const content = '<think>Maybe {"verdict":"ham","confidence":1}? No.</think>\n' +
    "Sure! Here is my answer:\n```json\n" +
    '{ "verdict": "phishing", "confidence": 0.8, "reason": "asks for {password}" }\n' +
    "```\nHope this helps.";
  await withStub(() => completion(content), async (base) => {
    assertEquals(await classifier(base).classify(facts()), {
      name: "LLM_PHISHING",
      score: 4,
      detail: "phishing 0.8: asks for {password}",
    });
  });
});

Deno.test("parseLlmAnswer takes the first object with a verdict and a confidence", () => {
  assertEquals(parseLlmAnswer('{"a":1} {"verdict":"spam","confidence":0.25}'), {
    verdict: "spam",
    confidence: 0.25,
    reason: "",
  });
  assertEquals(parseLlmAnswer('{"verdict":"spam","confidence":85}')?.confidence, 0.85);
  assertEquals(parseLlmAnswer('{"verdict":"maybe","confidence":0.5}'), null);
  assertEquals(parseLlmAnswer('{"verdict":"spam"}'), null);
  assertEquals(parseLlmAnswer('{"verdict":"spam","confidence":""}'), null);
  assertEquals(parseLlmAnswer('{"verdict":"spam","confidence":-1}'), null);
  assertEquals(parseLlmAnswer('{"verdict":"spam", confidence: 0.5'), null);
  assertEquals(parseLlmAnswer("It is spam."), null);
});

Deno.test("a garbage answer gives null and the log holds no message content", async () => {
  const log = recordingLog();
  await withStub(() => completion("I think this one is probably spam, yes."), async (base) => {
    assertEquals(await classifier(base, { log }).classify(facts()), null);
  });
  assertEquals(log.lines.length, 1);
  assert(!log.lines.join("\n").includes(SECRET), log.lines.join("\n"));
});

Deno.test("an answer that is not a chat completion gives null", async () => {
  await withStub(() => Response.json({ error: "no" }), async (base) => {
    assertEquals(await classifier(base).classify(facts()), null);
  });
  await withStub(() => new Response("<html>proxy</html>"), async (base) => {
    assertEquals(await classifier(base).classify(facts()), null);
  });
});

Deno.test("HTTP 500 gives null, logged with its status only", async () => {
  const log = recordingLog();
  const reply = () => new Response(`model crashed on ${SECRET}`, { status: 500 });
  await withStub(reply, async (base, received) => {
    assertEquals(await classifier(base, { log }).classify(facts()), null);
    assertEquals(received.length, 1);
  });
  assertEquals(log.lines.length, 1);
  assert(log.lines[0].includes('"status":500'), log.lines[0]);
  assert(!log.lines[0].includes(SECRET), log.lines[0]);
});

Deno.test("an endpoint that never answers is abandoned at timeoutMs: null", async () => {
  const log = recordingLog();
  const releases: (() => void)[] = [];
  // Answers only when the test lets it go, after the client gave up.
  const hang = () =>
    new Promise<Response>((resolve) => {
      releases.push(() => resolve(new Response("late", { status: 503 })));
    });
  await withStub(hang, async (base, received) => {
    try {
      assertEquals(await classifier(base, { log, timeoutMs: 200 }).classify(facts()), null);
      assertEquals(received.length, 1);
      assertEquals(log.lines.map((line) => line.split(" ")[0]), ["LLM"]);
      assert(log.lines[0].startsWith("LLM request timed out"), log.lines[0]);
    } finally {
      for (const release of releases) release();
    }
  });
});

Deno.test("a refused connection gives null", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  assertEquals(await classifier(`http://127.0.0.1:${port}`).classify(facts()), null);
});

Deno.test("at most maxPerHour requests in any sliding hour; then null without asking", async () => {
  let clock = Date.UTC(2026, 10, 1, 12, 0, 0);
  await withStub(() => completion(SPAM), async (base, received) => {
    const llm = classifier(base, { maxPerHour: 2, now: () => clock });
    assertEquals((await llm.classify(facts()))?.name, "LLM_SPAM");
    clock += 30 * 60 * 1000;
    assertEquals((await llm.classify(facts()))?.name, "LLM_SPAM");
    assertEquals(await llm.classify(facts()), null);
    assertEquals(received.length, 2);
    clock += 30 * 60 * 1000; // the first request is an hour old now
    assertEquals((await llm.classify(facts()))?.name, "LLM_SPAM");
    assertEquals(await llm.classify(facts()), null);
    assertEquals(received.length, 3);
  });
});

Deno.test("only the first maxChars of the text are sent, no API key means no Authorization", async () => {
  const body = "start " + "filler ".repeat(200) + "TAIL-MARKER";
  await withStub(() => completion(SPAM), async (base, received) => {
    await classifier(base, { maxChars: 100, maxTokens: 0 }).classify(facts(body));
    const user = received[0].body.messages[1].content;
    assert(user.includes("start filler"), user);
    assert(!user.includes("TAIL-MARKER"), user);
    const text = user.slice(user.indexOf("Text:\n") + 6, user.indexOf("\n</email>"));
    assertEquals(text.length, 100);
    assertEquals(received[0].authorization, null);
    assertEquals(received[0].body.max_tokens, undefined);
  });
});

Deno.test("the endpoint may be given with or without /v1, or as the full URL", async () => {
  assertEquals(
    chatCompletionsUrl("http://127.0.0.1:11434"),
    "http://127.0.0.1:11434/v1/chat/completions",
  );
  assertEquals(
    chatCompletionsUrl("http://127.0.0.1:11434/"),
    "http://127.0.0.1:11434/v1/chat/completions",
  );
  assertEquals(
    chatCompletionsUrl("https://api.example.com/v1/"),
    "https://api.example.com/v1/chat/completions",
  );
  assertEquals(
    chatCompletionsUrl("https://example.com/api/v1"),
    "https://example.com/api/v1/chat/completions",
  );
  assertEquals(
    chatCompletionsUrl("https://example.com/openai/v1/chat/completions"),
    "https://example.com/openai/v1/chat/completions",
  );
  await withStub(() => completion(SPAM), async (base, received) => {
    await classifier(base).classify(facts());
    await classifier(`${base}/v1`).classify(facts());
    await classifier(`${base}/v1/chat/completions`).classify(facts());
    assertEquals(received.map((r) => r.path), Array(3).fill("/v1/chat/completions"));
  });
});
