/** SMTP command lines and replies: every command form and every syntax error, exactly. */
import { assertEquals, assertThrows } from "../helpers/assert.ts";
import {
  parseCommand,
  type SmtpCommand,
  type SmtpSyntaxError,
} from "../../src/smtp/wire/command.ts";
import { ehloReply, reply } from "../../src/smtp/wire/reply.ts";

const ON = { smtputf8Allowed: true };
const OFF = { smtputf8Allowed: false };

function ok(line: string, options = ON): SmtpCommand {
  const command = parseCommand(line, options);
  if (command.verb === "INVALID") throw new Error(`${line}: ${JSON.stringify(command)}`);
  return command;
}

/** The reply line the session would send for a rejected command. */
function rejected(line: string, options = ON): string {
  const command = parseCommand(line, options);
  if (command.verb !== "INVALID") throw new Error(`${line} parsed: ${JSON.stringify(command)}`);
  const error: SmtpSyntaxError = command;
  return reply(error.code, error.enhanced, error.text);
}

const address = (command: SmtpCommand) =>
  (command.verb === "MAIL" || command.verb === "RCPT") && command.path.kind === "mailbox"
    ? command.path.mailbox.address
    : command.verb === "MAIL" || command.verb === "RCPT"
    ? command.path.kind
    : null;

Deno.test("EHLO and HELO", () => {
  assertEquals(ok("EHLO client.example.com"), {
    verb: "EHLO",
    argument: "client.example.com",
    host: { kind: "domain", domain: "client.example.com", domainUnicode: "client.example.com" },
  });
  assertEquals(ok("helo Client.Example."), {
    verb: "HELO",
    argument: "Client.Example.",
    host: { kind: "domain", domain: "client.example", domainUnicode: "client.example" },
  });
  assertEquals(ok("EHLO [192.0.2.1]"), {
    verb: "EHLO",
    argument: "[192.0.2.1]",
    host: { kind: "literal", literal: { family: 4, address: "192.0.2.1" } },
  });
  assertEquals(ok("EHLO [IPv6:2001:db8::1]").verb, "EHLO");
  // Sloppy names are kept (policy decides), but marked.
  assertEquals(ok("EHLO my_pc.local"), {
    verb: "EHLO",
    argument: "my_pc.local",
    host: { kind: "invalid" },
  });
  assertEquals(ok("EHLO 192.0.2.1").verb, "EHLO");
  assertEquals(rejected("EHLO"), "501 5.5.4 Syntax: EHLO hostname\r\n");
  assertEquals(rejected("HELO   "), "501 5.5.4 Syntax: HELO hostname\r\n");
});

Deno.test("MAIL FROM: paths and liberal spacing", () => {
  assertEquals(ok("MAIL FROM:<a@b.example>"), {
    verb: "MAIL",
    path: {
      kind: "mailbox",
      mailbox: {
        localPart: "a",
        quoted: false,
        domain: "b.example",
        domainUnicode: "b.example",
        literal: null,
        route: [],
        utf8: false,
        address: "a@b.example",
      },
    },
    params: {},
  });
  assertEquals(ok("MAIL FROM:<>"), { verb: "MAIL", path: { kind: "null" }, params: {} });
  assertEquals(address(ok("mail from: <a@b.example>")), "a@b.example");
  assertEquals(address(ok("MAIL FROM:   <a@b.example>   ")), "a@b.example");
  assertEquals(address(ok("MAIL FROM:a@b.example")), "a@b.example");
  assertEquals(address(ok("MAIL FROM:<@r.example:a@b.example>")), "a@b.example");
  assertEquals(address(ok('MAIL FROM:<"a b>c"@b.example> SIZE=5')), '"a b>c"@b.example');
  const usage = "501 5.5.4 Syntax: MAIL FROM:<address>\r\n";
  assertEquals(rejected("MAIL"), usage);
  assertEquals(rejected("MAIL FROM"), usage);
  assertEquals(rejected("MAIL FROM:"), usage);
  assertEquals(rejected("MAIL TO:<a@b.example>"), usage);
  assertEquals(rejected("MAIL FROM :<a@b.example>"), usage);
  assertEquals(rejected("MAIL FROM:<a@b.example"), usage);
  assertEquals(rejected("MAIL FROM:<a@b.example>SIZE=1"), usage);
  const bad = "501 5.1.7 Bad sender address syntax\r\n";
  assertEquals(rejected("MAIL FROM:<a@@b.example>"), bad);
  assertEquals(rejected("MAIL FROM:<Postmaster>"), bad);
  assertEquals(rejected("MAIL FROM:<a b@c.example>"), bad);
  assertEquals(
    rejected(`MAIL FROM:<${"a".repeat(65)}@b.example>`),
    "501 5.1.7 Bad sender address: local part too long\r\n",
  );
});

Deno.test("MAIL FROM parameters", () => {
  assertEquals(
    ok(
      "MAIL FROM:<a@b.example> size=12345 BODY=8bitmime RET=hdrs ENVID=QQ+2BX+3D1 AUTH=a+2Bb@c.example REQUIRETLS",
    ),
    {
      verb: "MAIL",
      path: (ok("MAIL FROM:<a@b.example>") as { path: unknown }).path,
      params: {
        size: 12345,
        body: "8BITMIME",
        ret: "HDRS",
        envid: "QQ+X=1",
        auth: "a+b@c.example",
        requireTls: true,
      },
    } as SmtpCommand,
  );
  const params = (line: string) => (ok(line) as { params: unknown }).params;
  assertEquals(params("MAIL FROM:<> BODY=7BIT RET=FULL"), { body: "7BIT", ret: "FULL" });
  assertEquals(params("MAIL FROM:<> BODY=BINARYMIME"), { body: "BINARYMIME" });
  assertEquals(params("MAIL FROM:<> AUTH=<>"), { auth: null });
  assertEquals(params("MAIL FROM:<>   SIZE=0   SMTPUTF8"), { size: 0, smtputf8: true });
  assertEquals(params("MAIL FROM:<> SIZE=99999999999999999999"), {
    size: Number.MAX_SAFE_INTEGER,
  });

  const syntax = (what: string) => `501 5.5.4 Syntax: ${what}\r\n`;
  assertEquals(rejected("MAIL FROM:<> SIZE"), syntax("SIZE=<number>"));
  assertEquals(rejected("MAIL FROM:<> SIZE=-1"), syntax("SIZE=<number>"));
  assertEquals(rejected("MAIL FROM:<> SIZE=1k"), syntax("SIZE=<number>"));
  assertEquals(rejected("MAIL FROM:<> SIZE=123456789012345678901"), syntax("SIZE=<number>"));
  assertEquals(rejected("MAIL FROM:<> BODY=9BIT"), syntax("BODY=7BIT|8BITMIME|BINARYMIME"));
  assertEquals(rejected("MAIL FROM:<> RET=ALL"), syntax("RET=FULL|HDRS"));
  assertEquals(rejected("MAIL FROM:<> ENVID=a+0Db"), syntax("ENVID=<xtext>"));
  assertEquals(rejected("MAIL FROM:<> ENVID=a+zz"), syntax("ENVID=<xtext>"));
  assertEquals(rejected(`MAIL FROM:<> ENVID=${"x".repeat(101)}`), syntax("ENVID=<xtext>"));
  assertEquals(ok(`MAIL FROM:<> ENVID=${"x".repeat(100)}`).verb, "MAIL");
  assertEquals(rejected("MAIL FROM:<> AUTH"), syntax("AUTH=<xtext>|<>"));
  assertEquals(rejected("MAIL FROM:<> AUTH=a+0Ab"), syntax("AUTH=<xtext>|<>"));
  assertEquals(rejected("MAIL FROM:<> SMTPUTF8=yes"), syntax("SMTPUTF8"));
  assertEquals(rejected("MAIL FROM:<> REQUIRETLS=1"), syntax("REQUIRETLS"));
  assertEquals(rejected("MAIL FROM:<> SIZE="), "501 5.5.4 Syntax: bad value for SIZE\r\n");
  assertEquals(rejected("MAIL FROM:<> SIZE=1=2"), "501 5.5.4 Syntax: bad value for SIZE\r\n");
  assertEquals(rejected("MAIL FROM:<> -X=1"), "501 5.5.4 Syntax: bad parameter\r\n");
  assertEquals(rejected("MAIL FROM:<> X_Y"), "501 5.5.4 Syntax: bad parameter\r\n");
  assertEquals(rejected("MAIL FROM:<> SIZE=1 size=2"), "501 5.5.4 Duplicate parameter\r\n");
  assertEquals(rejected("MAIL FROM:<> XFOO=1"), "555 5.5.4 Unsupported parameter XFOO\r\n");
  assertEquals(
    rejected("MAIL FROM:<> mt-priority=3"),
    "555 5.5.4 Unsupported parameter MT-PRIORITY\r\n",
  );
  const unknown = parseCommand("MAIL FROM:<> XFOO", ON) as SmtpSyntaxError;
  assertEquals([unknown.command, unknown.parameter], ["MAIL", "XFOO"]);
});

Deno.test("MAIL FROM with SMTPUTF8", () => {
  const utf8 = ok("MAIL FROM:<用户@例子.测试> SMTPUTF8");
  assertEquals(address(utf8), "用户@xn--fsqu00a.xn--0zwm56d");
  const refused = "553 5.6.7 Non-ASCII address requires SMTPUTF8\r\n";
  assertEquals(rejected("MAIL FROM:<用户@example.com>"), refused);
  assertEquals(
    rejected("MAIL FROM:<用户@example.com> SMTPUTF8", OFF),
    "555 5.5.4 Unsupported parameter SMTPUTF8\r\n",
  );
  assertEquals(rejected("MAIL FROM:<a@bücher.example>", OFF), refused);
});

Deno.test("RCPT TO: paths and parameters", () => {
  assertEquals(ok("RCPT TO:<Postmaster>"), {
    verb: "RCPT",
    path: { kind: "postmaster" },
    params: {},
  });
  assertEquals(address(ok("rcpt to: <postmaster@b.example>")), "postmaster@b.example");
  assertEquals(address(ok("RCPT TO:<@r.example:u@b.example>")), "u@b.example");
  assertEquals(
    (ok("RCPT TO:<u%x@b.example>") as { path: { mailbox: { localPart: string } } }).path.mailbox
      .localPart,
    "u%x",
  );
  assertEquals(
    (ok("RCPT TO:<u@b.example> NOTIFY=success,Failure,DELAY ORCPT=rfc822;u+2Bx+40b.example") as {
      params: unknown;
    }).params,
    {
      notify: ["SUCCESS", "FAILURE", "DELAY"],
      orcpt: { addressType: "rfc822", address: "u+x@b.example" },
    },
  );
  assertEquals((ok("RCPT TO:<u@b.example> NOTIFY=NEVER") as { params: unknown }).params, {
    notify: ["NEVER"],
  });
  assertEquals(ok("RCPT TO:<用户@example.com>").verb, "RCPT");
  assertEquals(
    rejected("RCPT TO:<用户@example.com>", OFF),
    "553 5.6.7 Non-ASCII address requires SMTPUTF8\r\n",
  );

  const usage = "501 5.5.4 Syntax: RCPT TO:<address>\r\n";
  assertEquals(rejected("RCPT"), usage);
  assertEquals(rejected("RCPT TO"), usage);
  assertEquals(rejected("RCPT FROM:<u@b.example>"), usage);
  assertEquals(rejected("RCPT TO:"), usage);
  const bad = "501 5.1.3 Bad recipient address syntax\r\n";
  assertEquals(rejected("RCPT TO:<>"), bad);
  assertEquals(rejected("RCPT TO:<u@>"), bad);
  assertEquals(rejected("RCPT TO:<u@b.example@c.example>"), bad);
  assertEquals(rejected("RCPT TO:<u@[1.2.3.256]>"), bad);
  const notify = "501 5.5.4 Syntax: NOTIFY=NEVER|SUCCESS,FAILURE,DELAY\r\n";
  assertEquals(rejected("RCPT TO:<u@b.example> NOTIFY=NEVER,SUCCESS"), notify);
  assertEquals(rejected("RCPT TO:<u@b.example> NOTIFY=SUCCESS,SUCCESS"), notify);
  assertEquals(rejected("RCPT TO:<u@b.example> NOTIFY=ALWAYS"), notify);
  assertEquals(rejected("RCPT TO:<u@b.example> NOTIFY"), notify);
  assertEquals(rejected("RCPT TO:<u@b.example> NOTIFY=SUCCESS,"), notify);
  const orcpt = "501 5.5.4 Syntax: ORCPT=addr-type;xtext\r\n";
  assertEquals(rejected("RCPT TO:<u@b.example> ORCPT=u@b.example"), orcpt);
  assertEquals(rejected("RCPT TO:<u@b.example> ORCPT=;u@b.example"), orcpt);
  assertEquals(rejected("RCPT TO:<u@b.example> ORCPT=rfc822;"), orcpt);
  assertEquals(rejected("RCPT TO:<u@b.example> ORCPT=rfc822;a+0D+0Ab"), orcpt);
  assertEquals(rejected(`RCPT TO:<u@b.example> ORCPT=rfc822;${"a".repeat(494)}`), orcpt);
  assertEquals(ok(`RCPT TO:<u@b.example> ORCPT=rfc822;${"a".repeat(493)}`).verb, "RCPT");
  assertEquals(
    rejected("RCPT TO:<u@b.example> SIZE=1"),
    "555 5.5.4 Unsupported parameter SIZE\r\n",
  );
  assertEquals(
    rejected("RCPT TO:<u@b.example> NOTIFY=NEVER notify=NEVER"),
    "501 5.5.4 Duplicate parameter\r\n",
  );
});

Deno.test("DATA, BDAT, RSET, NOOP, QUIT, VRFY, EXPN, HELP, STARTTLS", () => {
  assertEquals(ok("DATA"), { verb: "DATA" });
  assertEquals(ok("data "), { verb: "DATA" });
  assertEquals(ok("RSET"), { verb: "RSET" });
  assertEquals(ok("QUIT"), { verb: "QUIT" });
  assertEquals(ok("StartTLS"), { verb: "STARTTLS" });
  for (const verb of ["DATA", "RSET", "QUIT", "STARTTLS"]) {
    assertEquals(rejected(`${verb} x`), `501 5.5.4 Syntax: ${verb} (no parameters allowed)\r\n`);
  }
  assertEquals(ok("BDAT 1000"), { verb: "BDAT", size: 1000, last: false });
  assertEquals(ok("bdat 0 last"), { verb: "BDAT", size: 0, last: true });
  assertEquals(ok("BDAT 999999999999999 LAST"), {
    verb: "BDAT",
    size: 999999999999999,
    last: true,
  });
  for (
    const bad of [
      "BDAT",
      "BDAT x",
      "BDAT -1",
      "BDAT 10 FIRST",
      "BDAT 10 LAST x",
      "BDAT 1e3",
      "BDAT 1000000000000000",
    ]
  ) {
    assertEquals(rejected(bad), "501 5.5.4 Syntax: BDAT size [LAST]\r\n", bad);
  }
  assertEquals(ok("NOOP"), { verb: "NOOP" });
  assertEquals(ok("NOOP hello there"), { verb: "NOOP", text: "hello there" });
  assertEquals(ok("HELP"), { verb: "HELP" });
  assertEquals(ok("HELP MAIL"), { verb: "HELP", topic: "MAIL" });
  assertEquals(ok("VRFY <u@b.example>"), { verb: "VRFY", argument: "<u@b.example>" });
  assertEquals(ok("EXPN list"), { verb: "EXPN", argument: "list" });
  assertEquals(rejected("VRFY"), "501 5.5.4 Syntax: VRFY address\r\n");
  assertEquals(rejected("EXPN"), "501 5.5.4 Syntax: EXPN address\r\n");
});

Deno.test("AUTH", () => {
  assertEquals(ok("AUTH PLAIN"), { verb: "AUTH", mechanism: "PLAIN" });
  assertEquals(ok("auth plain AGEAYg=="), {
    verb: "AUTH",
    mechanism: "PLAIN",
    initialResponse: "AGEAYg==",
  });
  assertEquals(ok("AUTH SCRAM-SHA-256 ="), {
    verb: "AUTH",
    mechanism: "SCRAM-SHA-256",
    initialResponse: "",
  });
  const usage = "501 5.5.4 Syntax: AUTH mechanism [initial-response]\r\n";
  assertEquals(rejected("AUTH"), usage);
  assertEquals(rejected("AUTH PLAIN a b"), usage);
  assertEquals(rejected("AUTH ABCDEFGHIJKLMNOPQRSTU"), usage);
  assertEquals(rejected("AUTH PL@IN"), usage);
  assertEquals(rejected("AUTH PLAIN AGEAYg="), "501 5.5.2 Invalid base64 data\r\n");
  assertEquals(rejected("AUTH PLAIN A*==="), "501 5.5.2 Invalid base64 data\r\n");
});

Deno.test("unknown verbs, empty lines and control characters", () => {
  const unknown = "500 5.5.2 Command unrecognized\r\n";
  for (
    const line of [
      "",
      "   ",
      "XYZZY",
      "GET / HTTP/1.1",
      "MAIL\tFROM:<a@b.c>",
      "DATA:",
      "8BIT",
      "MAILFROM:<a@b.c>",
    ]
  ) {
    assertEquals(rejected(line), unknown, JSON.stringify(line));
  }
  const control = "501 5.5.2 Syntax error: control character in command\r\n";
  assertEquals(rejected("NOOP a\rb"), control);
  assertEquals(rejected("MAIL FROM:<a@b.example>\r\nRCPT TO:<x@y.example>"), control);
  assertEquals(rejected("HELP \x00"), control);
  assertEquals(rejected("EHLO host\x1b[2J"), control);
  assertEquals(rejected("XYZ \x00"), unknown);
});

Deno.test("reply: single and multi-line, sanitised", () => {
  assertEquals(reply(250, "2.1.0", "Sender OK"), "250 2.1.0 Sender OK\r\n");
  assertEquals(
    reply(354, null, "End data with <CR><LF>.<CR><LF>"),
    "354 End data with <CR><LF>.<CR><LF>\r\n",
  );
  assertEquals(
    reply(550, "5.1.1", ["No such user", "Try another"]),
    "550-5.1.1 No such user\r\n550 5.1.1 Try another\r\n",
  );
  assertEquals(reply(221, "2.0.0", ""), "221 2.0.0\r\n");
  assertEquals(reply(250, null, ""), "250\r\n");
  assertEquals(reply(250, null, ["a", ""]), "250-a\r\n250\r\n");
  assertEquals(reply(250, null, []), "250\r\n");
  // CR/LF injection cannot add a reply line.
  assertEquals(
    reply(550, "5.1.1", "<x@y>\r\n250 2.0.0 OK"),
    "550 5.1.1 <x@y>  250 2.0.0 OK\r\n",
  );
  assertEquals(reply(500, "5.5.2", "a\nb\rc\x00d\te"), "500 5.5.2 a b c d\te\r\n");
  assertThrows(() => reply(250, "5.0.0", "mismatch"), RangeError);
  assertThrows(() => reply(600, null, "x"), RangeError);
  assertThrows(() => reply(99, null, "x"), RangeError);
  assertThrows(() => reply(250, "2.0", "x"), RangeError);
  assertThrows(() => reply(250, "2.0.1000", "x"), RangeError);
});

Deno.test("ehloReply", () => {
  assertEquals(
    ehloReply("mx.example.com", "Hello client.example", [
      "PIPELINING",
      "SIZE 10240000",
      "8BITMIME",
    ]),
    "250-mx.example.com Hello client.example\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n",
  );
  assertEquals(ehloReply("mx.example.com", "", []), "250 mx.example.com\r\n");
  assertEquals(ehloReply("mx", "hi\r\n250 AUTH", ["X\nY"]), "250-mx hi  250 AUTH\r\n250 X Y\r\n");
});
