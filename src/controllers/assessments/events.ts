/**
 * Events about targets, templates and runs: an EventRecorder writing through the manager's
 * client (its QPS limit and metrics), reporting as the controller.
 */
import { hostname } from 'node:os';
import type { EventsV1Event, EventsV1EventSeries } from '@kubernetes/client-node';
import { ApiError, type KubeClient } from '../../kube/client.ts';
import { EventRecorder, type EventSink } from '../../kube/events.ts';
import type { Manager } from '../../runtime/manager.ts';

const EVENTS = '/apis/events.k8s.io/v1/namespaces';

/** The recorder reads an HTTP status from `code`; the client's errors carry it as `status`. */
function withCode(err: unknown): unknown {
  return err instanceof ApiError ? Object.assign(err, { code: err.status }) : err;
}

/** An EventSink over the product's KubeClient. */
export function clientEventSink(client: KubeClient): EventSink {
  return {
    create: (namespace: string, event: EventsV1Event) =>
      client
        .request('POST', `${EVENTS}/${encodeURIComponent(namespace)}/events`, { body: event })
        .catch((err: unknown) => {
          throw withCode(err);
        }),
    patchSeries: (namespace: string, name: string, series: EventsV1EventSeries) =>
      client
        .request(
          'PATCH',
          `${EVENTS}/${encodeURIComponent(namespace)}/events/${encodeURIComponent(name)}`,
          { body: { series }, contentType: 'application/merge-patch+json' },
        )
        .catch((err: unknown) => {
          throw withCode(err);
        }),
  };
}

export function assessmentRecorder(manager: Manager): EventRecorder {
  return new EventRecorder({
    sink: clientEventSink(manager.client),
    reportingInstance: process.env.POD_NAME ?? hostname(),
    registry: manager.registry,
    logger: manager.log,
  });
}
