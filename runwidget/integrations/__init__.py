"""Integrations with the tools people already use: each records into runwidget's run store.

``runwidget.integrations.optuna``: ``RunwidgetCallback`` records the trials of an Optuna study.
"""
