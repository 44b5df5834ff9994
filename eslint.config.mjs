// The JS linter: ESLint's recommended rules on the front ends' sources (js/), with the
// browser's globals; the built bundles are not linted.
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["runwidget/**", "node_modules/**", ".venv/**", "outputs/**"] },
  js.configs.recommended,
  {
    files: ["js/**/*.js", "js/**/*.mjs", "*.mjs"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: { ...globals.browser },
    },
    rules: {
      "no-unused-vars": ["error", { args: "after-used", argsIgnorePattern: "^_", caughtErrors: "none" }],
    },
  },
  {
    files: ["js/**/build.mjs", "*.config.mjs", "js/test/**/*.js"],
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
  },
];
