// The notebook widget of runs side by side (anywidget): draws the comparison the kernel
// keeps in `_compare`, again each time it changes. What the charts read again (a zoomed
// range from every point, the runs against time, every point as CSV) the kernel answers.
import { createComparison } from "./components/compare.js";
import { downloadBlob, fileName } from "./components/chartcontrols.js";
import { answerBlob, createKernelRequests } from "./kernelrequests.js";
import "./widget.css";
import "./compare.css";

export default {
  render({ model, el }) {
    el.classList.add("runwidget", "rw-compare");
    const root = document.createElement("div");
    root.className = "rw-page";
    el.appendChild(root);
    const requests = createKernelRequests(model);
    const view = createComparison(root, {
      async readRange(spec, axis, from, to) {
        const { msg } = await requests.ask({ type: "metric_range", name: spec.name, axis, from, to });
        return msg.series;
      },
      async csv(spec) {
        const { buffers } = await requests.ask({ type: "metric_csv", name: spec.name });
        downloadBlob(fileName(spec.name, "csv"), answerBlob(buffers));
      },
    });
    const draw = () => view.update(model.get("_compare"));
    const onMsg = (msg, buffers) => requests.onMessage(msg, buffers);
    model.on("change:_compare", draw);
    model.on("msg:custom", onMsg);
    draw();
    return () => {
      model.off("change:_compare", draw);
      model.off("msg:custom", onMsg);
      view.destroy();
    };
  },
};
