// The Models page's table: every registered model version, newest first, with its run, its
// path among the run's files, tags, description and a download link. Every string the
// server sends (names, tags, descriptions, paths) goes in as text.
import { h } from "../components/dom.js";
import { formatTime } from "../components/format.js";
import { createTable } from "../components/table.js";

function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function pairs(obj) {
  const entries = Object.entries(obj || {});
  if (!entries.length) return "";
  return h(
    "span",
    { className: "rw-model-tags" },
    entries.map(([k, v]) => h("span", { className: "rw-model-tag", text: v === "" || v === null ? k : `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}` })),
  );
}

/**
 * @param {object} options
 * @param {(id: string) => string} options.runLink a run's page
 * @param {(name: string) => string} options.modelLink a model's versions
 * @param {(model: object) => string} options.downloadUrl
 */
export function createModelsTable({ runLink, modelLink, downloadUrl }) {
  const table = createTable({
    className: "rw-models",
    pageSize: 50,
    sort: { key: "created", dir: -1 },
    empty: "No model is registered yet: run.register_model(name, 'outputs/model.pkl') registers one.",
    columns: [
      { key: "name", label: "Model", render: (m) => h("a", { href: modelLink(m.name), text: m.name, className: "rw-model-name" }) },
      { key: "version", label: "Version", numeric: true },
      { key: "run_id", label: "Run", render: (m) => (m.run_id ? h("a", { href: runLink(m.run_id), text: m.run_id }) : "") },
      { key: "path", label: "Path", render: (m) => h("code", { text: m.path, title: m.files.map((f) => f.path).join("\n") }) },
      { key: "tags", label: "Tags", value: (m) => Object.keys(m.tags || {}).join(","), render: (m) => pairs(m.tags) },
      { key: "description", label: "Description", render: (m) => m.description || "" },
      { key: "created", label: "Registered", render: (m) => formatTime(m.created) },
      {
        key: "size",
        label: "Files",
        numeric: true,
        render: (m) => h("a", { href: downloadUrl(m), text: `${m.files.length} (${bytes(m.size)})`, title: "Download", className: "rw-model-download" }),
      },
    ],
  });
  return {
    el: table.el,
    /** Draw the models of a `GET models` answer. */
    update(models) {
      table.update(models.map((m) => ({ ...m, id: m.id })));
    },
  };
}
