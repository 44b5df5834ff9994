// The one palette, defined beside the view model (runwidget/view/palette.json), which puts a
// colour on every series it sends. This is for what the view model does not colour itself
// (the compare page's runs).
import palette from "../../runwidget/view/palette.json";

export const PALETTE = palette.series;
export const ITERATION_COLOURS = { points: palette.iteration_points, best: palette.best_so_far };
