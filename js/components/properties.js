// The properties table: run facts, single-valued and string metrics, tags, properties.
import { h, replace } from "./dom.js";
import { formatValue } from "./format.js";

const GROUPS = { run: "", argument: "", metric: "metric", tag: "tag", property: "property" };

export function createProperties() {
  const body = h("tbody");
  const el = h("table", { className: "rw-properties" }, body);
  function update(rows) {
    replace(
      body,
      (rows || []).map((row) =>
        h(
          "tr",
          { className: `rw-prop-${row.group}` },
          h("th", { attrs: { scope: "row" } }, row.name, GROUPS[row.group] ? h("span", { className: "rw-prop-group", text: GROUPS[row.group] }) : null),
          h("td", { text: formatValue(row.value) }),
        ),
      ),
    );
    el.hidden = !rows || rows.length === 0;
  }
  return { el, update };
}
