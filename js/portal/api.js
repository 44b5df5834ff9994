// The REST API client shared by the portal pages and the JupyterLab extension. Requests go
// with the browser's login cookie (and a token header when the host has one); POSTs carry
// the _xsrf cookie back as X-XSRFToken, as Jupyter asks of every POST.

function cookie(name) {
  const match = document.cookie.match(new RegExp(`(?:^|;\\s*)${name}=([^;]*)`));
  return match ? decodeURIComponent(match[1]) : null;
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * @param {object} options
 * @param {string} options.base the API's absolute path, e.g. "/runwidget/api"
 * @param {string} [options.token] a Jupyter token to send as a header
 */
export function createApi({ base, token = "" }) {
  const root = base.replace(/\/$/, "");

  function url(path, params = {}) {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) {
      if (value !== undefined && value !== null && value !== "") query.set(key, String(value));
    }
    const text = query.toString();
    return `${root}/${path}${text ? `?${text}` : ""}`;
  }

  // The last answer to each GET, by URL, with its ETag: an unchanged answer comes back as
  // an empty 304 and is served from here (with the server's time of the new answer).
  const answers = new Map();

  async function request(method, path, params) {
    const headers = { Accept: "application/json" };
    if (token) headers.Authorization = `token ${token}`;
    if (method !== "GET") {
      const xsrf = cookie("_xsrf");
      if (xsrf) headers["X-XSRFToken"] = xsrf;
    }
    const target = url(path, params);
    const known = method === "GET" ? answers.get(target) : undefined;
    if (known) headers["If-None-Match"] = known.etag;
    const response = await fetch(target, { method, headers, credentials: "same-origin", cache: "no-store" });
    const made = Number(response.headers.get("X-Runwidget-Time"));
    if (response.status === 304 && known) {
      return made && typeof known.body === "object" && known.body && "time" in known.body ? { ...known.body, time: made } : known.body;
    }
    let body;
    try {
      body = await response.json();
    } catch {
      body = null; // no JSON (an empty or HTML answer)
    }
    if (!response.ok) {
      // runwidget's errors say what is wrong in `error` (and, as Jupyter's do, `message`).
      const message = body && typeof body === "object" ? body.error || body.message : null;
      throw new ApiError(response.status, typeof message === "string" && message ? message : `${response.status} ${response.statusText}`);
    }
    const etag = response.headers.get("ETag");
    if (method === "GET" && etag) {
      if (answers.size >= 200) answers.delete(answers.keys().next().value);
      answers.delete(target);
      answers.set(target, { etag, body });
    }
    return body;
  }

  /** A file the API makes (a CSV), as a Blob, fetched with the API's credentials. */
  async function blob(path, params) {
    const headers = token ? { Authorization: `token ${token}` } : {};
    const response = await fetch(url(path, params), { headers, credentials: "same-origin" });
    if (!response.ok) throw new ApiError(response.status, `${response.status} ${response.statusText}`);
    return response.blob();
  }

  const run = (id) => `runs/${encodeURIComponent(id)}`;
  return {
    url,
    runPath: run,
    get: (path, params) => request("GET", path, params),
    post: (path, params) => request("POST", path, params),
    experiments: () => request("GET", "experiments"),
    runs: (params) => request("GET", "runs", params),
    targets: () => request("GET", "targets"),
    run: (id) => request("GET", run(id)),
    view: (id, epoch, version) => request("GET", `${run(id)}/view`, { epoch, version }),
    cancel: (id) => request("POST", `${run(id)}/cancel`),
    files: (id) => request("GET", `${run(id)}/files`),
    compare: (ids, metrics) => request("GET", "compare", { runs: ids.join(","), metrics: (metrics || []).join(",") }),
    logUrl: (id, download = false) => url(`${run(id)}/log.txt`, download ? { download: 1 } : {}),
    snapshotUrl: (id) => url(`${run(id)}/snapshot.zip`),
    series: (id, metric, { axis, from, to } = {}) => request("GET", `${run(id)}/series`, { metric, axis, from, to }),
    metricCsvUrl: (id, metric) => url(`${run(id)}/metrics/${encodeURIComponent(metric)}.csv`),
    /** Every point of a metric as CSV (a Blob), fetched with the API's credentials. */
    metricCsv: (id, metric) => blob(`${run(id)}/metrics/${encodeURIComponent(metric)}.csv`),
    /** Every point of a metric of several runs as one CSV (a Blob), the run's id first. */
    compareCsv: (ids, metric) => blob(`compare/metrics/${encodeURIComponent(metric)}.csv`, { runs: ids.join(",") }),
    fileUrl: (id, path) => `${root}/${run(id)}/files/${path.split("/").map(encodeURIComponent).join("/")}?download=1`,
  };
}
