// The shapes of the view JSON the view model sends (runwidget/view/schema.py has the same
// as TypedDicts; tests/fixtures/view/ holds examples both test suites read). Types only.

/** @typedef {"running"|"completed"|"failed"|"canceled"|"waiting"|"warning"} StatusKind */

/**
 * @typedef {object} Header
 * @property {string} run_id
 * @property {string} display_name
 * @property {string} experiment
 * @property {string} type
 * @property {number} number
 * @property {string|null} parent_id
 * @property {string} status
 * @property {StatusKind} status_kind the colour of `status`: drawn as sent
 * @property {number} created
 * @property {number|null} started
 * @property {number|null} ended
 * @property {string|null} portal_url
 * @property {string} [portal_note] how to start a portal, when none serves the run's store
 */

/**
 * @typedef {object} Series
 * @property {string} id
 * @property {string} label
 * @property {string} colour
 * @property {number} [count] points logged (a snapshot's series)
 * @property {number} [skipped] values not drawn (NaN, infinity)
 * @property {number[]} [x]
 * @property {number[]} [y]
 */

/**
 * @typedef {object} ChartSpec
 * @property {string} id
 * @property {string} name
 * @property {string} title
 * @property {"line"|"xy"} kind
 * @property {string} x_label
 * @property {string} y_label
 * @property {Series[]} series
 * @property {"system"} [section] drawn in the System section (system metrics), x = seconds
 */

/**
 * @typedef {object} SeriesTail new points of a series: keep `start` points, append x/y
 * @property {string} chart
 * @property {string} series
 * @property {number} start
 * @property {number[]|Float64Array} x
 * @property {number[]|Float64Array} y
 * @property {number} count
 * @property {number} skipped
 */

/**
 * @typedef {object} ChildRow
 * @property {string} id
 * @property {number} number
 * @property {string} name
 * @property {string} type
 * @property {string} status
 * @property {StatusKind} status_kind
 * @property {number} created
 * @property {number|null} started
 * @property {number|null} ended
 * @property {Object<string, *>} metrics
 * @property {number} [iteration]
 * @property {string|null} [pipeline]
 * @property {Object<string, *>} [params]
 * @property {number|null} [metric] the primary metric
 * @property {number|null} [best] the best primary metric up to this iteration
 */

/**
 * @typedef {object} IterationSeries
 * @property {number[]} x
 * @property {number[]} y
 * @property {number[]} best_x
 * @property {number[]} best_y
 */

/**
 * @typedef {object} Iterations
 * @property {"automl"|"sweep"} kind
 * @property {string|null} primary_metric
 * @property {"maximize"|"minimize"} goal
 * @property {string[]} metrics the primary metric first
 * @property {string[]} params
 * @property {{id: string, iteration: number, value: number}|null} best
 * @property {Object<string, IterationSeries>} series by metric
 * @property {Object<string, {log_y: boolean, x_axes: string[], csv: boolean, smoothing?: boolean}>} controls
 *   each metric's iteration chart's toolbar
 * @property {{points: string, best: string}} colours
 */

/**
 * @typedef {object} ViewSnapshot
 * @property {number} version
 * @property {number} time
 * @property {Header} header
 * @property {Array<{group: string, name: string, value: *}>} properties
 * @property {{message: string, traceback: string|null}|null} error
 * @property {Array<{key: string, level: string, text: string}>} notices
 * @property {ChartSpec[]} charts
 * @property {object[]} images
 * @property {{columns: Array<{key: string, label: string}>, rows: ChildRow[]}} children
 * @property {Iterations|null} iterations
 * @property {{lines: object[], total: number, limit: number}} log
 * @property {boolean} terminal
 * @property {object[]} [plots] rich metrics (runwidget/view/plots.py), when the run has some
 * @property {Alert[]} [alerts] the run's alerts, oldest first, when it has some
 */

/**
 * @typedef {object} Alert
 * @property {string} title
 * @property {string} text
 * @property {"info"|"warn"|"error"} level
 * @property {"user"|"failed"|"not_responding"|"nan"} kind
 * @property {number} time
 */

/**
 * @typedef {object} ViewDelta only the parts that changed; see runwidget/view/delta.py
 * @property {number} version
 * @property {number} base
 * @property {number} time
 * @property {Header} [header]
 * @property {object[]} [properties]
 * @property {object|null} [error]
 * @property {object[]} [notices]
 * @property {{specs: ChartSpec[], data: SeriesTail[]}} [charts]
 * @property {{add?: object[], remove?: Array<string|number>}} [images]
 * @property {{columns?: object[], upsert?: ChildRow[]}} [children]
 * @property {Iterations|null} [iterations]
 * @property {{append: object[], total: number}} [log]
 * @property {boolean} [terminal]
 * @property {object[]} [plots] every plot, when one changed
 * @property {Alert[]} [alerts] every alert, when one came
 */

export {};
