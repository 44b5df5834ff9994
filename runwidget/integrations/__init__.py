"""Integrations with the tools people already use: each records into runwidget's run store.

``runwidget.integrations.optuna``: ``RunwidgetCallback`` records the trials of an Optuna study.

Where training code already lives, one line makes its run appear live in ``RunDetails``:

- ``runwidget.integrations.transformers``: ``RunwidgetCallback``, a ``TrainerCallback``;
- ``runwidget.integrations.lightning``: ``RunwidgetLogger``, a Lightning ``Logger``;
- ``runwidget.integrations.keras``: ``RunwidgetCallback``, a Keras 3 callback;
- ``runwidget.integrations.xgboost``: ``RunwidgetCallback``, a ``TrainingCallback``;
- ``runwidget.integrations.lightgbm``: ``RunwidgetCallback``, a LightGBM callback.

Each logs to ``.run``: the ``run=`` it is given, else ``Run.get_context()`` inside a
submitted script, else a new run in the experiment named after the framework, which ends
with the training (Completed, Failed with the traceback, Canceled on a keyboard interrupt).
``runwidget.integrations._training`` holds what they share.
"""
