/**
 * An AssessmentTemplate's cron schedule, as the CronJob controller handles one: the most recent
 * scheduled time not yet acted on (missed times in between are counted, not replayed), the next
 * one, and which finished runs the history limits let go. Pure: the caller passes the clock.
 */
import { Cron } from 'croner';
import type { AssessmentRunState } from '../api/v1alpha1/assessment-run.ts';

/** Missed start times counted at most (CronJob gives up counting at 100 too). */
export const MAX_MISSED_COUNTED = 100;

export interface ScheduleDecision {
  /** The latest scheduled time in (since, now], when there is one: start a run for it. */
  due: Date | undefined;
  /** Scheduled times in (since, due) that were missed and are not started (at most 100). */
  missed: number;
  /** The first scheduled time after now. */
  next: Date | undefined;
}

/** A cron job that never runs by itself; throws with a message naming the bad field. */
export function parseSchedule(schedule: string, timeZone: string | undefined): Cron {
  const zone = timeZone ?? 'UTC';
  try {
    // croner accepts unknown zones silently in some runtimes: check the zone first.
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
  } catch (err) {
    throw new Error(`spec.timeZone ${JSON.stringify(zone)} is not a known IANA time zone`, {
      cause: err,
    });
  }
  try {
    return new Cron(schedule, { paused: true, timezone: zone });
  } catch (err) {
    throw new Error(
      `spec.schedule ${JSON.stringify(schedule)} cannot be scheduled: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}

/** What the schedule asks for at `now`, given when it was last acted on (`since`). */
export function scheduleDecision(cron: Cron, since: Date, now: Date): ScheduleDecision {
  const next = cron.nextRun(now) ?? undefined;
  // previousRuns excludes its reference: ask from just after now to include now itself.
  const latest = cron.previousRuns(1, new Date(now.getTime() + 1))[0];
  if (latest === undefined || latest.getTime() <= since.getTime()) {
    return { due: undefined, missed: 0, next };
  }
  let missed = 0;
  for (let t = cron.nextRun(since); t !== null && t.getTime() < latest.getTime();) {
    missed++;
    if (missed >= MAX_MISSED_COUNTED) break;
    t = cron.nextRun(t);
  }
  return { due: latest, missed, next };
}

/** Deterministic name of the run scheduled at `at`: `<template>-<minutes since the epoch>`. */
export function scheduledRunName(template: string, at: Date): string {
  const suffix = `-${Math.floor(at.getTime() / 60_000)}`;
  return template.slice(0, 253 - suffix.length).replace(/[.-]+$/, '') + suffix;
}

export interface HistoryRun {
  name: string;
  state: AssessmentRunState | undefined;
  /** completedAt, else creationTimestamp: the order in which runs are let go. */
  finishedAt: string;
}

const FAILED_STATES: ReadonlySet<AssessmentRunState> = new Set(['FAILED', 'ERROR', 'CANCELED']);
const SUCCESSFUL_STATES: ReadonlySet<AssessmentRunState> = new Set([
  'COMPLETED',
  'COMPLETED_WITH_ERRORS',
]);

/**
 * Finished runs beyond the history limits, oldest first: the successful ones (COMPLETED,
 * COMPLETED_WITH_ERRORS) beyond `successful`, the failed ones (FAILED, ERROR, CANCELED) beyond
 * `failed`. Runs still going are never let go.
 */
export function runsBeyondHistory(
  runs: readonly HistoryRun[],
  successful: number,
  failed: number,
): string[] {
  const pick = (states: ReadonlySet<AssessmentRunState>, keep: number): string[] => {
    const done = runs
      .filter((r) => r.state !== undefined && states.has(r.state))
      .sort((a, b) =>
        a.finishedAt === b.finishedAt
          ? a.name.localeCompare(b.name)
          : a.finishedAt.localeCompare(b.finishedAt),
      );
    return done.slice(0, Math.max(0, done.length - keep)).map((r) => r.name);
  };
  return [...pick(SUCCESSFUL_STATES, successful), ...pick(FAILED_STATES, failed)];
}
