// The delta protocol in the browser: the same rules as runwidget/view/delta.py, checked
// against the golden files in tests/fixtures/view/ that the Python view model writes.
// A delta {version, base, time, ...parts} applies to the state whose version is `base`.

const REPLACED = ["header", "properties", "error", "notices", "iterations", "terminal", "plots"];
REPLACED.push("alerts"); // the run's alerts, absent from a snapshot of a run without any

/**
 * Apply `delta` to `state` in place and return it.
 * @param {import("./view-types.js").ViewSnapshot} state a snapshot (from RunView.snapshot())
 * @param {import("./view-types.js").ViewDelta} delta
 * @param {object} [options]
 * @param {(tail: object) => void} [options.onSeries] takes series points instead of the state
 *   (the notebook widget puts them straight into its bqplot lines); the state then keeps
 *   only each series' count
 * @returns {import("./view-types.js").ViewSnapshot} the state
 * @throws {Error} when delta.base is not state.version
 */
export function applyDelta(state, delta, { onSeries } = {}) {
  if (delta.base !== state.version) {
    throw new Error(`delta from version ${delta.base} cannot apply to version ${state.version}`);
  }
  state.version = delta.version;
  if (delta.time !== undefined) state.time = delta.time;
  for (const key of REPLACED) if (key in delta) state[key] = delta[key];
  if (delta.charts) applyCharts(state.charts, delta.charts, onSeries);
  if (delta.images) {
    const removed = new Set(delta.images.remove || []);
    state.images = state.images.filter((i) => !removed.has(i.id)).concat(delta.images.add || []);
  }
  if (delta.children) {
    const part = delta.children;
    if (part.columns) state.children.columns = part.columns;
    const rows = state.children.rows;
    const where = new Map(rows.map((r, i) => [r.id, i]));
    for (const row of part.upsert || []) {
      if (where.has(row.id)) rows[where.get(row.id)] = row;
      else {
        where.set(row.id, rows.length);
        rows.push(row);
      }
    }
  }
  if (delta.log) {
    const log = state.log;
    log.lines = log.lines.concat(delta.log.append);
    if (log.lines.length > log.limit) log.lines = log.lines.slice(log.lines.length - log.limit);
    log.total = delta.log.total;
  }
  return state;
}

function applyCharts(charts, part, onSeries) {
  const byId = new Map(charts.map((c) => [c.id, c]));
  for (const spec of part.specs || []) {
    const old = byId.get(spec.id);
    const oldSeries = new Map((old ? old.series : []).map((s) => [s.id, s]));
    const chart = {
      ...spec,
      series: spec.series.map((s) => {
        const kept = oldSeries.get(s.id);
        // A kept series takes the spec's label and colour.
        return kept ? { ...kept, ...s } : { ...s, count: 0, skipped: 0, ...(onSeries ? {} : { x: [], y: [] }) };
      }),
    };
    if (old) charts[charts.indexOf(old)] = chart;
    else charts.push(chart);
    byId.set(chart.id, chart);
  }
  for (const tail of part.data || []) {
    const chart = byId.get(tail.chart);
    const series = chart && chart.series.find((s) => s.id === tail.series);
    if (!series) continue;
    series.count = tail.count;
    series.skipped = tail.skipped;
    if (onSeries) onSeries(tail);
    else {
      series.x = series.x.slice(0, tail.start).concat(Array.from(tail.x));
      series.y = series.y.slice(0, tail.start).concat(Array.from(tail.y));
    }
  }
}

/** Splice a series tail into arrays (typed or plain): keep `start` points, append the rest. */
export function spliceSeries(old, start, tail) {
  const out = new Float64Array(start + tail.length);
  const keep = Math.min(start, old ? old.length : 0);
  for (let i = 0; i < keep; i++) out[i] = old[i];
  out.set(tail, start);
  return out;
}
