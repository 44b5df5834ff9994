// The code of a notebook cell that shows a run with RunDetails.

function pythonString(text) {
  return JSON.stringify(String(text)); // a JSON string is a valid Python string literal
}

/** The code of a RunDetails cell for `run` (a row of the runs API). */
export function runDetailsCode(run) {
  return ["from runwidget import RunDetails, Workspace", "", `RunDetails(Workspace().get_run(${pythonString(run.id)})).show()`].join("\n");
}
