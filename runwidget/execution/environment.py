"""``Environment``: the Python a submitted script runs with, under the reference's names."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from runwidget.errors import InvalidValueError
from runwidget.tracking._validate import check_path


class PythonSection:
    """``environment.python``: ``user_managed_dependencies = True`` (the default) runs the
    target's Python as it is; with pip requirements, the target installs them first."""

    def __init__(self) -> None:
        self.user_managed_dependencies = True


class Environment:
    """A named Python environment for a submitted run.

    Args:
        name: a name to tell environments apart (shown with the run).

    Attributes:
        python: ``python.user_managed_dependencies`` as in the reference SDK.
        environment_variables: names to strings, set for the script.
        pip_requirements: the packages to install (``from_pip_requirements``), or None.
    """

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name.strip():
            raise InvalidValueError(f"Environment name must be a non-empty string, got {name!r}")
        self.name = name
        self.python = PythonSection()
        self.environment_variables: dict[str, str] = {}
        self.pip_requirements: list[str] | None = None

    @classmethod
    def from_pip_requirements(cls, name: str, file_path: str | os.PathLike[str]) -> Environment:
        """An environment that installs the packages of a requirements file.

        Raises:
            InvalidValueError: ``file_path`` is not a path, or the file does not exist or
                cannot be read.
        """
        path = check_path(file_path, "from_pip_requirements: file_path")
        if not path.is_file():
            raise InvalidValueError(
                f"pip requirements file {str(file_path)!r} does not exist "
                f"(looked in {str(path.resolve())!r})"
            )
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise InvalidValueError(f"cannot read pip requirements {str(file_path)!r}: {e}") from e
        env = cls(name)
        env.python.user_managed_dependencies = False
        env.pip_requirements = [
            line.split("#", 1)[0].strip()
            for line in text.splitlines()
            if line.split("#", 1)[0].strip()
        ]
        return env

    def installs_packages(self) -> bool:
        return not self.python.user_managed_dependencies and bool(self.pip_requirements)

    def variables(self) -> Mapping[str, Any]:
        if not isinstance(self.environment_variables, Mapping):
            raise InvalidValueError(
                f"environment {self.name!r}: environment_variables must be a dict, got "
                f"{type(self.environment_variables).__name__}"
            )
        return self.environment_variables

    def __repr__(self) -> str:
        return f"Environment(name={self.name!r})"
