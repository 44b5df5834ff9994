"""AutoML: a search over scikit-learn pipelines, tuned by Optuna's TPE sampler, run in the
background and recorded live: one child run per iteration (see DESIGN.md, run model).

``experiment.submit(AutoMLConfig(...))`` starts it; ``RunDetails(run)`` shows it;
``run.get_output()`` returns the best child run and its fitted model. Needs the ``automl``
extra (scikit-learn and optuna).

Modules, one job each: ``catalog`` (tasks, algorithms, metrics and goals), ``data`` (checks on
the training data), ``config`` (``AutoMLConfig``), ``launch`` (submission through the local
supervisor), ``search`` (the search loop), ``pipelines`` (the search space), ``worker``
(the process that fits), ``evaluate`` (one iteration's fits and scores), ``metrics``,
``record`` (the runs it writes), ``output`` (``get_output``).
"""

from runwidget.automl.config import AutoMLConfig
from runwidget.automl.output import get_output
from runwidget.tracking.providers import PROVIDERS

# ``run.get_output()`` (in ``tracking``) of an AutoML run.
PROVIDERS.get_output = get_output

__all__ = ["AutoMLConfig"]
