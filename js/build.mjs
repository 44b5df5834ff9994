// Bundle the front end into runwidget/static/ (git-ignored; the package build runs this).
// `node js/build.mjs --watch` rebuilds on every change (with ANYWIDGET_HMR=1 the widget
// reloads live).
import * as esbuild from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const watch = process.argv.includes("--watch");

const options = {
  absWorkingDir: root,
  entryPoints: { widget: "js/widget.js", compare: "js/compare.js" },
  outdir: "runwidget/static",
  bundle: true,
  format: "esm",
  target: ["es2020"],
  minify: !watch,
  sourcemap: watch ? "inline" : false,
  legalComments: "none",
  logLevel: "info",
};

if (watch) {
  const context = await esbuild.context(options);
  await context.watch();
} else {
  await esbuild.build(options);
}
