// The notebook widget of runs side by side (anywidget): draws the comparison the kernel
// keeps in `_compare`, again each time it changes.
import { createComparison } from "./components/compare.js";
import "./widget.css";
import "./compare.css";

export default {
  render({ model, el }) {
    el.classList.add("runwidget", "rw-compare");
    const root = document.createElement("div");
    root.className = "rw-page";
    el.appendChild(root);
    const view = createComparison(root);
    const draw = () => view.update(model.get("_compare"));
    model.on("change:_compare", draw);
    draw();
    return () => {
      model.off("change:_compare", draw);
      view.destroy();
    };
  },
};
