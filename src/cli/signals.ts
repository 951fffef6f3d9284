import type { Logger } from 'pino';

/** A signal that aborts on the first SIGTERM or SIGINT, logging which one arrived. */
export function shutdownSignal(log: Logger): AbortSignal {
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    log.info({ signal }, 'shutting down');
    stop.abort(new Error(signal));
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  return stop.signal;
}
