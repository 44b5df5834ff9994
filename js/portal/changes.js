// Live changes: the server's change feed says which runs changed (their records, or the
// data of runs someone looks at), so that lists and run pages read at once instead of at
// their next timer. The portal reads them as server-sent events; JupyterLab through its
// own event bus (js/lab/changes.js). Timers stay, slower, for what no event announces
// (a heartbeat that stops).

/** Whether a change event concerns run `runId` (its record or its data). */
export function affects(event, runId) {
  return (event.data || []).includes(runId) || (event.runs || []).some((r) => r.id === runId || r.parent_id === runId) || Boolean(event.more);
}

/**
 * Call `listener(event)` for each change the portal's server announces; returns the call
 * that stops it. One EventSource per page, opened by the first listener.
 * @param {ReturnType<import("./api.js").createApi>} api
 * @param {(event: object) => void} listener
 */
export function subscribeChanges(api, listener) {
  const self = subscribeChanges;
  self.listeners = self.listeners || new Set();
  self.listeners.add(listener);
  if (!self.source && typeof EventSource !== "undefined") {
    self.source = new EventSource(api.url("events"), { withCredentials: true });
    self.source.addEventListener("changes", (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      for (const l of self.listeners) l(event);
    });
  }
  return () => self.listeners.delete(listener);
}
