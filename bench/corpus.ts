/** Generates realistic test messages of a given size (text, HTML alternatives, attachments). */
import { mulberry32 } from "../tests/helpers/random.ts";

const WORDS = (
  "the quarterly report meeting agenda please review attached invoice budget schedule " +
  "project update deadline thanks regards team customer order shipping delivery account " +
  "password security notice conference travel hotel lunch friday monday proposal draft"
).split(" ");

export function makeMessage(index: number, targetSize: number, seed = 1): Uint8Array {
  const random = mulberry32(seed * 1_000_003 + index);
  const word = () => WORDS[Math.floor(random() * WORDS.length)];
  const sentence = () => {
    const n = 6 + Math.floor(random() * 12);
    const words = Array.from({ length: n }, word);
    words[0] = words[0][0].toUpperCase() + words[0].slice(1);
    return words.join(" ") + ".";
  };
  const paragraph = () => Array.from({ length: 3 + Math.floor(random() * 4) }, sentence).join(" ");
  const wrap = (text: string) => text.replace(/([^\r\n]{1,72})( |$)/gm, "$1\r\n");
  const headers = [
    `Return-Path: <sender${index % 97}@example.net>`,
    `Received: from mx.example.net (mx.example.net [192.0.2.${
      index % 250
    }])\r\n\tby mail.example.com with ESMTPS id ${index}; Tue, 1 Sep 2026 10:00:00 +0000`,
    `From: "Sender ${index % 97}" <sender${index % 97}@example.net>`,
    `To: Alice <alice@example.com>`,
    `Subject: ${index % 5 === 0 ? "Re: " : ""}${sentence()}`,
    `Date: Tue, 1 Sep 2026 10:${String(index % 60).padStart(2, "0")}:00 +0000`,
    `Message-ID: <msg${index}.${seed}@example.net>`,
    ...(index % 5 === 0 ? [`In-Reply-To: <msg${index - 1}.${seed}@example.net>`] : []),
    `MIME-Version: 1.0`,
  ];
  const boundary = `b${index}x${seed}`;
  let text = "";
  while (text.length < Math.min(targetSize * 0.4, 8000)) text += paragraph() + "\r\n\r\n";
  const parts = [
    `--${boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n${
      wrap(text)
    }`,
  ];
  const used = headers.join("\r\n").length + parts[0].length + 200;
  if (targetSize - used > 1024) {
    const bytes = new Uint8Array(Math.floor((targetSize - used) * 0.74));
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
    const b64 = btoa(String.fromCharCode(...bytes.subarray(0, Math.min(bytes.length, 60000))))
      .replace(/(.{76})/g, "$1\r\n");
    parts.push(
      `--${boundary}\r\nContent-Type: application/pdf; name="report-${index}.pdf"\r\n` +
        `Content-Disposition: attachment; filename="report-${index}.pdf"\r\n` +
        `Content-Transfer-Encoding: base64\r\n\r\n${b64}\r\n`,
    );
  }
  const message =
    `${headers.join("\r\n")}\r\nContent-Type: multipart/mixed; boundary="${boundary}"\r\n\r\n` +
    `This is a multi-part message in MIME format.\r\n${parts.join("")}--${boundary}--\r\n`;
  return new TextEncoder().encode(message);
}
