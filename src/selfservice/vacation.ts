/**
 * The account page's vacation reply: a form over the account's JMAP VacationResponse (RFC 8621
 * 8), the object src/mail/vacation.ts reads at every delivery, so what is saved here answers the
 * next message. Saving writes it as VacationResponse/set does: the object, a cleared list of
 * senders already answered (a new absence answers everyone again), and a change event.
 */
import type { App } from "../app.ts";
import {
  readVacation,
  VACATION_SENT_TYPE,
  VACATION_TYPE,
  type VacationSettings,
} from "../mail/vacation.ts";

/** A form value the user got wrong; its message is shown on the page. */
export class VacationFormError extends Error {}

/** The settings a vacation form describes; dates are whole UTC days ("YYYY-MM-DD"). */
export function vacationFromForm(
  form: URLSearchParams,
  current: VacationSettings,
): VacationSettings {
  const text = (name: string) => {
    const value = form.get(name)?.replace(/\r\n?/g, "\n").trim() ?? "";
    return value === "" ? null : value;
  };
  const day = (name: string, time: string) => {
    const value = form.get(name)?.trim() ?? "";
    if (value === "") return null;
    const date = `${value}T${time}Z`;
    if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(Date.parse(date))) {
      throw new VacationFormError(`${name}: a date such as 2026-12-24`);
    }
    return date;
  };
  const fromDate = day("from", "00:00:00");
  const toDate = day("to", "23:59:59");
  if (fromDate && toDate && fromDate > toDate) {
    throw new VacationFormError("the last day is before the first");
  }
  const settings: VacationSettings = {
    ...current,
    isEnabled: form.get("enabled") === "on",
    subject: text("subject"),
    textBody: text("text"),
    fromDate,
    toDate,
  };
  if (settings.isEnabled && !settings.textBody && !settings.htmlBody) {
    throw new VacationFormError("write the text of the reply");
  }
  return settings;
}

/**
 * Stores the account's vacation reply where deliveries read it.
 *
 * @example
 * await saveVacation(app, account.id, { ...VACATION_DEFAULTS, isEnabled: true, textBody: "Away." });
 */
export async function saveVacation(
  app: App,
  accountId: number,
  settings: VacationSettings,
): Promise<void> {
  const { store } = app;
  const current = await readVacation(store, accountId);
  await store.putObject(accountId, VACATION_TYPE, current.id, JSON.stringify(settings));
  for (const sent of await store.listObjects(accountId, VACATION_SENT_TYPE)) {
    await store.deleteObject(accountId, VACATION_SENT_TYPE, sent.id);
  }
  app.bus.publish({
    accountId,
    types: [VACATION_TYPE],
    modseq: await store.accountModseq(accountId),
  });
}
