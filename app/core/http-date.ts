/**
 * HTTP-date formatting and parsing (RFC 9110 §5.6.7), at one-second precision.
 *
 * Times are carried as epoch milliseconds that are always a whole number of
 * seconds, so two dates compare with `===` exactly as RFC 9110 §13.1.5 asks
 * ("an exact match") and no sub-second part of a file's mtime can leak into a
 * comparison with a date the client only ever saw at second precision.
 */

const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;
const MONTH_NAMES = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

const NS_PER_SECOND = 1_000_000_000n;
const MS_PER_SECOND = 1000;

/** The oldest and newest instants IMF-fixdate can spell: its year is exactly four digits. */
const MIN_FORMATTABLE_MS = -62_167_219_200_000; // 0000-01-01T00:00:00Z
const MAX_FORMATTABLE_MS = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

const MONTH = '(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)';
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';

/** IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT` (names are case-sensitive, %s"..." in the ABNF). */
const IMF_FIXDATE = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`);
/** Obsolete RFC 850 form: `Sunday, 06-Nov-94 08:49:37 GMT`. */
const RFC850_DATE = new RegExp(
  `^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`,
);
/** Obsolete asctime form: `Sun Nov  6 08:49:37 1994` (a single-digit day is space-padded). */
const ASCTIME_DATE = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ${MONTH} (\\d{2}| \\d) ${TIME} (\\d{4})$`);

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/**
 * formatHttpDate spells an instant as IMF-fixdate, the only form a sender may
 * generate (RFC 9110 §5.6.7). Sub-second parts are dropped (floored).
 */
export function formatHttpDate(epochMs: number): string {
  if (!Number.isFinite(epochMs) || epochMs < MIN_FORMATTABLE_MS || epochMs > MAX_FORMATTABLE_MS) {
    throw new RangeError(`formatHttpDate: ${epochMs} is outside the years 0000-9999`);
  }
  const d = new Date(Math.floor(epochMs / MS_PER_SECOND) * MS_PER_SECOND);
  const year = String(d.getUTCFullYear()).padStart(4, '0');
  return (
    `${DAY_NAMES[d.getUTCDay()]}, ${pad2(d.getUTCDate())} ${MONTH_NAMES[d.getUTCMonth()]} ${year} ` +
    `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} GMT`
  );
}

/**
 * Builds the instant from already-matched fields, or undefined when a field is
 * out of range. Day names are not cross-checked against the date: RFC 9110 does
 * not ask recipients to, and Go, nginx and Apache do not either. Second 60 is
 * allowed by the time-of-day rule (leap second) and rolls into the next minute.
 */
function utcFromFields(
  year: number,
  monthName: string,
  day: number,
  hour: number,
  minute: number,
  second: number,
): number | undefined {
  const month = MONTH_NAMES.indexOf(monthName as (typeof MONTH_NAMES)[number]);
  if (month < 0 || hour > 23 || minute > 59 || second > 60 || day < 1) return undefined;
  const daysInMonth = DAYS_IN_MONTH[month]! + (month === 1 && isLeapYear(year) ? 1 : 0);
  if (day > daysInMonth) return undefined;
  const d = new Date(0);
  // setUTCFullYear, unlike Date.UTC, does not map years 0-99 onto 1900-1999.
  d.setUTCFullYear(year, month, day);
  d.setUTCHours(hour, minute, second, 0);
  return d.getTime();
}

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/**
 * RFC 9110 §5.6.7: a two-digit rfc850 year that "appears to be more than 50
 * years in the future" means the most recent past year with the same last two
 * digits.
 */
function rfc850Year(twoDigits: number, now: Date): number {
  const nowYear = now.getUTCFullYear();
  let year = nowYear - (nowYear % 100) + twoDigits;
  if (year > nowYear + 50) year -= 100;
  return year;
}

/**
 * parseHttpDate reads any of the three HTTP-date forms (RFC 9110 §5.6.7) and
 * returns epoch milliseconds (a whole second), or undefined for anything else.
 * Parsing is strict: `Date.parse` would accept `garbage 2020` or `2020-01-01`,
 * and a half-read date must not turn into a 304 or a 206. Surrounding OWS is
 * trimmed because it is not part of a field value (§5.5). `now` resolves the
 * century of the obsolete two-digit rfc850 year.
 */
export function parseHttpDate(value: string, now: Date = new Date()): number | undefined {
  const text = value.replace(/^[ \t]+|[ \t]+$/g, '');
  let m = IMF_FIXDATE.exec(text);
  if (m !== null) {
    return utcFromFields(Number(m[3]), m[2]!, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  }
  m = RFC850_DATE.exec(text);
  if (m !== null) {
    const year = rfc850Year(Number(m[3]), now);
    return utcFromFields(year, m[2]!, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  }
  m = ASCTIME_DATE.exec(text);
  if (m !== null) {
    return utcFromFields(Number(m[6]), m[1]!, Number(m[2]!.trim()), Number(m[3]), Number(m[4]), Number(m[5]));
  }
  return undefined;
}

/** Floors a nanosecond timestamp to whole seconds, expressed in milliseconds (also for times before 1970). */
export function floorNsToSecondMs(ns: bigint): number {
  let seconds = ns / NS_PER_SECOND;
  if (ns < 0n && seconds * NS_PER_SECOND !== ns) seconds -= 1n;
  return Number(seconds) * MS_PER_SECOND;
}

/**
 * lastModifiedMs is the Last-Modified instant for a file: its mtime floored to
 * the second, but never later than the response Date. RFC 9110 §8.8.2.1: "An
 * origin server with a clock MUST NOT generate a Last-Modified date that is
 * later than the server's time of message origination (Date)"; a file with a
 * future mtime gets the Date value instead (checklist row 3).
 */
export function lastModifiedMs(mtimeNs: bigint, now: Date): number {
  const mtime = floorNsToSecondMs(mtimeNs);
  const date = Math.floor(now.getTime() / MS_PER_SECOND) * MS_PER_SECOND;
  return Math.min(mtime, date);
}
