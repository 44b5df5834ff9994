// Bundle the portal pages into runwidget/static/portal/ (git-ignored; `npm run build` runs
// this). `node js/portal/build.mjs --watch` rebuilds on every change.
import * as esbuild from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const watch = process.argv.includes("--watch");
const outdir = path.join(root, "runwidget/static/portal");

const options = {
  absWorkingDir: root,
  entryPoints: { portal: "js/portal/main.js" },
  outdir,
  bundle: true,
  format: "iife",
  target: ["es2020"],
  minify: !watch,
  sourcemap: watch ? "inline" : false,
  legalComments: "none",
  logLevel: "info",
};

mkdirSync(outdir, { recursive: true });
copyFileSync(path.join(root, "js/portal/favicon.svg"), path.join(outdir, "favicon.svg"));
if (watch) {
  const context = await esbuild.context(options);
  await context.watch();
} else {
  await esbuild.build(options);
}
