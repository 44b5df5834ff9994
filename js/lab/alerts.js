// New alerts as JupyterLab notifications, without a kernel: the sidebar extension asks the
// server for the alerts recorded since its cursor (GET alerts?since=), every `interval`
// milliseconds and whenever the server's change feed reports changed runs, and shows each
// new one through JupyterLab's own Notification API (the `apputils:notify` command), with an
// action that opens the run. The first answer only sets the cursor: alerts from before
// JupyterLab was opened are not notified again.

const TYPES = { info: "info", warn: "warning", error: "error" };

/** The notification of one alert: {message, type, options}. */
export function notificationOf(alert, openCommand) {
  const who = alert.name || alert.run_id;
  // runwidget's own alerts name the run already ("Run x failed").
  const title = String(alert.title || "").includes(who) ? alert.title : `${who}: ${alert.title}`;
  const message = alert.text ? `${title} (${alert.text})` : title;
  return {
    message: message.length > 300 ? `${message.slice(0, 297)}...` : message,
    type: TYPES[alert.level] || "warning",
    options: {
      autoClose: alert.level === "error" ? false : 15000,
      actions: openCommand ? [{ label: "Open run", commandId: openCommand, args: { runId: alert.run_id, name: alert.name || alert.run_id } }] : [],
      data: { runwidget: { run_id: alert.run_id, seq: alert.seq, kind: alert.kind } },
    },
  };
}

/**
 * @param {object} options
 * @param {{get: (path: string, params?: object) => Promise<any>}} options.api
 * @param {(notification: object) => any} options.notify shows one notification
 * @param {string} [options.openCommand] the command an alert's action runs
 * @param {number} [options.interval] milliseconds between asks
 * @returns {{check: () => Promise<void>, stop: () => void, seen: object[]}}
 */
export function followAlerts({ api, notify, openCommand, interval = 10000 }) {
  let cursor = null;
  let busy = null;
  let timer = null;
  const seen = [];

  async function ask() {
    const answer = await api.get("alerts", cursor === null ? {} : { since: cursor });
    if (!answer || typeof answer.cursor !== "number") return;
    if (cursor !== null) {
      for (const alert of answer.alerts || []) {
        seen.push(alert);
        try {
          await notify(notificationOf(alert, openCommand));
        } catch (e) {
          console.warn("runwidget: could not show an alert", e);
        }
      }
    }
    cursor = answer.cursor;
  }

  /** Ask now (once at a time). */
  function check() {
    if (!busy) {
      busy = ask()
        .catch((e) => console.debug("runwidget: alerts not read", e))
        .finally(() => {
          busy = null;
        });
    }
    return busy;
  }

  function schedule() {
    timer = setTimeout(async () => {
      await check();
      if (timer !== null) schedule();
    }, interval);
  }

  check();
  schedule();
  return {
    check,
    seen,
    stop() {
      clearTimeout(timer);
      timer = null;
    },
  };
}
