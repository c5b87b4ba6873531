/**
 * App passwords: extra random passwords an account gives to one device or program each, accepted
 * wherever its password is (IMAP, POP3, SMTP AUTH, ManageSieve, HTTP Basic), and revoked one at a
 * time without touching the others or the account password.
 *
 * Implementation notes:
 * - An app password reads "<id>-xxxx-xxxx-xxxx-xxxx": the id names its credential row (kind
 *   'app_password'), the four groups are 80 random bits from a 32-letter alphabet without the
 *   look-alikes 0/o and 1/l. Only a password hash (Argon2id, the directory's hasher) of the
 *   groups is stored, so it is shown once, at creation.
 * - The id lets a login verify one hash, not one per app password of the account: the cost of a
 *   login does not tell how many app passwords an account has, nor whether it exists
 *   (Directory.authenticate).
 */

/** The letters of a secret: a-z and 2-9 without l, o, 0 and 1 (32 of them, 5 bits each). */
const ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789";
const GROUPS = 4;
const GROUP_LENGTH = 4;
const APP_PASSWORD = /^([1-9][0-9]{0,15})-([a-z2-9]{4}(?:-[a-z2-9]{4}){3})$/;

/** How long a name may be. */
export const MAX_APP_PASSWORD_NAME = 100;
/** How many app passwords one account may hold. */
export const MAX_APP_PASSWORDS = 50;

/**
 * A new random secret (the part after the id), e.g. "k3pd-x9mv-q2rt-hw4n".
 *
 * @example
 * const secret = newAppPasswordSecret(); // 19 characters, 80 random bits
 */
export function newAppPasswordSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(GROUPS * GROUP_LENGTH));
  const letters = Array.from(bytes, (byte) => ALPHABET[byte & 31]);
  const groups: string[] = [];
  for (let i = 0; i < GROUPS; i++) {
    groups.push(letters.slice(i * GROUP_LENGTH, (i + 1) * GROUP_LENGTH).join(""));
  }
  return groups.join("-");
}

/**
 * The app password a user types: the row id, then the secret.
 *
 * @example
 * formatAppPassword(7, "k3pd-x9mv-q2rt-hw4n"); // "7-k3pd-x9mv-q2rt-hw4n"
 */
export function formatAppPassword(id: number, secret: string): string {
  return `${id}-${secret}`;
}

/**
 * The id and secret of something shaped like an app password (case and surrounding spaces
 * ignored), or null.
 *
 * @example
 * parseAppPassword("7-K3PD-X9MV-Q2RT-HW4N"); // { id: 7, secret: "k3pd-x9mv-q2rt-hw4n" }
 */
export function parseAppPassword(password: string): { id: number; secret: string } | null {
  const match = APP_PASSWORD.exec(password.trim().toLowerCase());
  if (!match) return null;
  const id = Number(match[1]);
  return Number.isSafeInteger(id) ? { id, secret: match[2] } : null;
}

/** A name given for an app password, trimmed; throws RangeError when empty or too long. */
export function appPasswordName(name: string): string {
  const trimmed = name.trim();
  if (trimmed.length === 0) throw new RangeError("the app password needs a name");
  if (trimmed.length > MAX_APP_PASSWORD_NAME) {
    throw new RangeError(`the name is longer than ${MAX_APP_PASSWORD_NAME} characters`);
  }
  return trimmed;
}
