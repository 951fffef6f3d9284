// The cron syntax accepted by AssessmentTemplate.spec.schedule: five fields
// (minute hour day-of-month month day-of-week), each a list of `*`, values or
// ranges with an optional step. The regular expression goes into the CRD (the
// API server checks it); zod additionally asks croner whether it can schedule it.
import { Cron } from 'croner';

const MONTHS = 'JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC';
const DAYS = 'SUN|MON|TUE|WED|THU|FRI|SAT';

function field(value: string): string {
  const atom = `(\\*|(${value})(-(${value}))?)(/[0-9]{1,2})?`;
  return `${atom}(,${atom})*`;
}

const MINUTE = '[0-5]?[0-9]';
const HOUR = '[01]?[0-9]|2[0-3]';
const DAY_OF_MONTH = '0?[1-9]|[12][0-9]|3[01]';
const MONTH = `0?[1-9]|1[0-2]|${MONTHS}|${MONTHS.toLowerCase()}`;
const DAY_OF_WEEK = `[0-7]|${DAYS}|${DAYS.toLowerCase()}`;

/** Five cron fields separated by single spaces. */
export const CRON_PATTERN = `^${[MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK]
  .map(field)
  .join(' ')}$`;

const cronRe = new RegExp(CRON_PATTERN);

/** True when the expression matches the pattern and croner can schedule it. */
export function isCronSchedule(expression: string): boolean {
  if (!cronRe.test(expression)) return false;
  try {
    new Cron(expression, { paused: true });
    return true;
  } catch {
    return false;
  }
}
