// Live changes in JupyterLab and Notebook 7: the server extension puts its change feed's
// events on jupyter_server's event bus (/api/events/subscribe, no kernel needed); the
// sidebar and the run panels read at once when one concerns them.

export const RUNS_CHANGED = "urn:runwidget:events:runs-changed:v1";

/**
 * Call `listener(event)` for each runwidget change event of the server; returns the call
 * that stops it (nothing happens on a server without an event bus).
 * @param {{ stream?: { connect: Function, disconnect: Function } }} events the app's
 *   `serviceManager.events`
 * @param {(event: object) => void} listener
 */
export function followChanges(events, listener) {
  if (!events || !events.stream) return () => {};
  const handler = (_, event) => {
    if (event && event.schema_id === RUNS_CHANGED) listener(event);
  };
  events.stream.connect(handler);
  return () => events.stream.disconnect(handler);
}
