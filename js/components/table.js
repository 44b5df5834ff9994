// A sortable, paged table. Sorting and paging happen in the browser, so they work while the
// kernel is busy. Sort order and page survive updates.
import { h, replace } from "./dom.js";
import { compareValues } from "./format.js";

/**
 * @param {object} options
 * @param {Array<{key: string, label: string, value?: (row) => any, render?: (row) => Node|string,
 *   className?: string, numeric?: boolean}>} options.columns
 * @param {number} [options.pageSize]
 * @param {{key: string, dir: 1|-1}} [options.sort]
 * @param {(row) => void} [options.onRowClick]
 * @param {(row) => string} [options.rowTitle]
 * @param {string} [options.className]
 * @param {string} [options.empty] text shown when there are no rows
 * @param {(view: {sort, page}) => void} [options.onChange] the reader sorted or paged
 */
export function createTable({ columns, pageSize = 10, sort = null, onRowClick, rowTitle, className = "", empty = "", onChange }) {
  const head = h("thead");
  const body = h("tbody");
  const info = h("span", { className: "rw-page-info" });
  const prev = h("button", { type: "button", className: "rw-page-prev", text: "‹ Prev", on: { click: () => go(page - 1) } });
  const next = h("button", { type: "button", className: "rw-page-next", text: "Next ›", on: { click: () => go(page + 1) } });
  const pager = h("div", { className: "rw-pager" }, prev, info, next);
  const el = h("div", { className: `rw-table ${className}` }, h("table", {}, head, body), pager);
  let rows = [];
  let page = 0;
  let state = { sort, columns };

  function value(col, row) {
    return col.value ? col.value(row) : row[col.key];
  }

  function sorted() {
    const s = state.sort;
    if (!s) return rows;
    const col = state.columns.find((c) => c.key === s.key);
    if (!col) return rows;
    // Empty values stay last whichever way the column is sorted.
    return rows
      .map((row, i) => ({ row, i, v: value(col, row) }))
      .sort((a, b) => {
        const emptyA = a.v === null || a.v === undefined || a.v === "";
        const emptyB = b.v === null || b.v === undefined || b.v === "";
        if (emptyA !== emptyB) return emptyA ? 1 : -1;
        return s.dir * compareValues(a.v, b.v) || a.i - b.i;
      })
      .map((x) => x.row);
  }

  function renderHead() {
    replace(
      head,
      h(
        "tr",
        {},
        state.columns.map((col) => {
          const active = state.sort && state.sort.key === col.key;
          const arrow = active ? (state.sort.dir > 0 ? " ▲" : " ▼") : "";
          return h(
            "th",
            {
              className: `${col.numeric ? "rw-num" : ""} rw-sortable`,
              attrs: { "aria-sort": active ? (state.sort.dir > 0 ? "ascending" : "descending") : "none", scope: "col" },
              on: { click: () => sortBy(col.key) },
              title: `Sort by ${col.label}`,
            },
            col.label,
            h("span", { className: "rw-sort-arrow", text: arrow }),
          );
        }),
      ),
    );
  }

  function renderBody() {
    const all = sorted();
    const pages = Math.max(1, Math.ceil(all.length / pageSize));
    page = Math.min(Math.max(0, page), pages - 1);
    const shown = all.slice(page * pageSize, (page + 1) * pageSize);
    replace(
      body,
      shown.length === 0 && empty
        ? h("tr", {}, h("td", { className: "rw-empty", attrs: { colspan: state.columns.length }, text: empty }))
        : shown.map((row) =>
            h(
              "tr",
              {
                className: onRowClick ? "rw-clickable" : "",
                dataset: { id: row.id ?? "" },
                title: rowTitle ? rowTitle(row) : "",
                attrs: onRowClick ? { tabindex: 0 } : {},
                on: onRowClick
                  ? {
                      click: () => onRowClick(row),
                      keydown: (e) => {
                        if (e.key === "Enter") onRowClick(row);
                      },
                    }
                  : {},
              },
              state.columns.map((col) => {
                const content = col.render ? col.render(row) : value(col, row);
                return h("td", { className: `${col.numeric ? "rw-num" : ""} ${col.className || ""}` }, content ?? "");
              }),
            ),
          ),
    );
    info.textContent = all.length > pageSize ? `${page + 1} / ${pages} · ${all.length} rows` : `${all.length} row${all.length === 1 ? "" : "s"}`;
    prev.disabled = page === 0;
    next.disabled = page >= pages - 1;
    pager.hidden = all.length <= pageSize;
  }

  function sortBy(key) {
    const s = state.sort;
    state.sort = s && s.key === key ? { key, dir: -s.dir } : { key, dir: 1 };
    page = 0;
    renderHead();
    renderBody();
    if (onChange) onChange({ sort: state.sort, page });
  }

  function go(p) {
    page = p;
    renderBody();
    if (onChange) onChange({ sort: state.sort, page });
  }

  /** Put back a sort and page the reader chose (e.g. in an earlier view of the same run). */
  function restore(view) {
    if (!view) return;
    if (view.sort !== undefined) state.sort = view.sort;
    if (typeof view.page === "number") page = view.page;
    renderHead();
    renderBody();
  }

  function update(newRows, newColumns) {
    rows = newRows || [];
    if (newColumns) state.columns = newColumns;
    renderHead();
    renderBody();
  }

  return {
    el,
    update,
    sortBy,
    go,
    restore,
    get sort() {
      return state.sort;
    },
    set sort(value) {
      state.sort = value;
      renderHead();
      renderBody();
    },
    get page() {
      return page;
    },
  };
}
