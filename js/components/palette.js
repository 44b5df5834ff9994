// Series colours, in order. runwidget/widgets/_charts.py uses the same list (a test checks).
export const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"];
