"""Code as a reference (Azure ML v1) SDK user writes it, with only the imports changed."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

import runwidget
from runwidget import (
    Environment,
    Experiment,
    InvalidValueError,
    Run,
    ScriptRunConfig,
    Workspace,
)
from tests.local_runs import script


@pytest.fixture
def ws(sqlite_uri: str) -> Workspace:
    return Workspace(sqlite_uri)


@pytest.fixture
def exp(ws: Workspace) -> Experiment:
    return Experiment(workspace=ws, name="v1-compat")


# -- 1. VERSION ------------------------------------------------------------------------------
def test_version_is_printed_as_in_v1() -> None:
    print("SDK version:", runwidget.VERSION)
    assert runwidget.__version__ == runwidget.VERSION


# -- 2. Workspace ----------------------------------------------------------------------------
def test_workspace_names_are_local_and_honest(ws: Workspace) -> None:
    print(ws.name, ws.resource_group, ws.location, ws.subscription_id, sep="\n")
    assert ws.name == "runs"
    assert ws.location == "local"
    assert ws.subscription_id is None and ws.resource_group is None
    Experiment(ws, "first")
    details = ws.get_details()
    assert details["name"] == "runs" and details["location"] == "local"
    assert details["experiments"] == ["first"]


def test_from_config_reads_the_store_from_the_folder_or_its_parents(tmp_path: Path) -> None:
    (tmp_path / ".runwidget").mkdir()
    (tmp_path / ".runwidget" / "config.json").write_text(json.dumps({"store": "sqlite:///team.db"}))
    nested = tmp_path / "notebooks" / "week1"
    nested.mkdir(parents=True)
    ws = Workspace.from_config(path=nested)
    assert ws.uri == f"sqlite:///{tmp_path / '.runwidget' / 'team.db'}"
    assert ws.name == "team"
    # With no path: looked up from the current folder (the test's temp dir).
    assert Workspace.from_config().uri == ws.uri


def test_a_v1_config_keeps_its_names_and_uses_the_default_store(tmp_path: Path) -> None:
    v1 = {"subscription_id": "0000-sub", "resource_group": "rg", "workspace_name": "my-ws"}
    (tmp_path / ".azureml").mkdir()
    (tmp_path / ".azureml" / "config.json").write_text(json.dumps(v1))
    ws = Workspace.from_config()
    assert (ws.name, ws.subscription_id, ws.resource_group) == ("my-ws", "0000-sub", "rg")
    assert ws.uri == f"sqlite:///{tmp_path}/default.db"  # $RUNWIDGET_STORE, as the tests set it
    run = Experiment(ws, "e").start_logging()
    run.complete()
    # A config.json named as a file works too.
    (tmp_path / "config.json").write_text(json.dumps(v1))
    assert Workspace.from_config(path=tmp_path / "config.json").name == "my-ws"


def test_from_config_with_no_file_gives_the_default_workspace(tmp_path: Path) -> None:
    assert Workspace.from_config().uri == f"sqlite:///{tmp_path}/default.db"


def test_from_config_says_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(InvalidValueError, match="does not exist"):
        Workspace.from_config(path=tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InvalidValueError, match="not readable JSON"):
        Workspace.from_config(path=tmp_path / "bad.json")
    (tmp_path / "list.json").write_text("[1]")
    with pytest.raises(InvalidValueError, match="JSON object"):
        Workspace.from_config(path=tmp_path / "list.json")
    (tmp_path / "store.json").write_text(json.dumps({"store": 3}))
    with pytest.raises(InvalidValueError, match="store URI string"):
        Workspace.from_config(path=tmp_path / "store.json")
    with pytest.raises(InvalidValueError, match="folder or a file path"):
        Workspace.from_config(path=3)
    with pytest.raises(InvalidValueError, match="subscription_id must be a string"):
        Workspace(subscription_id=5)


# -- 3. run_config -----------------------------------------------------------------------------
def test_run_config_shows_environment_target_and_arguments(tmp_path: Path) -> None:
    folder = script(tmp_path / "src", "print('hi')\n")
    env = Environment("sklearn-env")
    env.python.user_managed_dependencies = True
    src = ScriptRunConfig(
        source_directory=str(folder),
        script="train.py",
        arguments=["--alpha", 0.1],
        compute_target="local",
        environment=env,
    )
    assert src.run_config.environment is env
    assert src.run_config.target == "local"
    assert src.run_config.arguments == ["--alpha", "0.1"]
    assert src.run_config.script == "train.py"
    src.run_config.arguments = ["--alpha", 0.2]
    assert src.arguments == ["--alpha", "0.2"]
    src.run_config.target = "local"
    with pytest.raises(InvalidValueError, match="compute_target"):
        src.run_config.target = 3
    with pytest.raises(InvalidValueError, match="must be an Environment"):
        src.run_config.environment = "env"


def test_an_environments_variables_reach_the_submitted_script(
    exp: Experiment, tmp_path: Path, submitted
) -> None:
    folder = script(
        tmp_path / "src",
        "import os\nfrom runwidget import Run\n"
        "Run.get_context().tag('data', os.environ['DATA_VERSION'])\n",
    )
    env = Environment("with-variables")
    env.python.user_managed_dependencies = True
    env.environment_variables = {"DATA_VERSION": "v2"}
    src = ScriptRunConfig(
        source_directory=folder, script="train.py", compute_target="local", environment=env
    )
    run = exp.submit(src)
    run.wait_for_completion()
    assert run.get_tags()["data"] == "v2"


def test_pip_requirements_are_refused_for_a_local_run(exp: Experiment, tmp_path: Path) -> None:
    folder = script(tmp_path / "src", "print(1)\n")
    (tmp_path / "requirements.txt").write_text("scikit-learn  # the model\n\nnumpy\n")
    env = Environment.from_pip_requirements("sklearn-env", str(tmp_path / "requirements.txt"))
    assert env.pip_requirements == ["scikit-learn", "numpy"]
    assert env.python.user_managed_dependencies is False
    src = ScriptRunConfig(source_directory=folder, script="train.py", environment=env)
    with pytest.raises(InvalidValueError, match="installs pip packages, which only a Ray target"):
        exp.submit(src)
    with pytest.raises(InvalidValueError, match="file_path must be a path, got int"):
        Environment.from_pip_requirements("env", 3)
    with pytest.raises(InvalidValueError, match="file_path must be a path, got NoneType"):
        Environment.from_pip_requirements("env", None)


# -- 4. logs -----------------------------------------------------------------------------------
def test_logs_of_a_submitted_run(exp: Experiment, tmp_path: Path, submitted) -> None:
    folder = script(tmp_path / "src", "print('hello from the script')\n")
    run = exp.submit(ScriptRunConfig(source_directory=folder, script="train.py"))
    run.wait_for_completion()
    details = run.get_details_with_logs()
    assert details["status"] == "Completed"
    assert details["properties"] == {} == run.get_details()["properties"]  # no bookkeeping
    # v1's type names find the same runs as runwidget's.
    assert [r.id for r in exp.get_runs(type="azureml.scriptrun")] == [run.id]
    assert [r.id for r in Run.list(exp, type="script")] == [run.id]
    assert list(exp.get_runs(type="hyperdrive")) == []
    (text,) = details["logFiles"].values()
    assert "hello from the script" in text
    paths = run.get_all_logs(destination=tmp_path / "logs")
    assert len(paths) == 1 and Path(paths[0]).is_relative_to(tmp_path / "logs")
    assert "hello from the script" in Path(paths[0]).read_text()
    default = run.get_all_logs()
    assert Path(default[0]).resolve().is_relative_to(tmp_path / run.id)


def test_get_all_logs_names_a_destination_of_the_wrong_type(exp: Experiment) -> None:
    run = exp.start_logging()
    with pytest.raises(InvalidValueError, match="destination must be a path or None, got int"):
        run.get_all_logs(destination=3)
    run.complete()


def test_an_interactive_run_has_no_log_files(exp: Experiment, tmp_path: Path) -> None:
    run = exp.start_logging()
    run.add_properties({"dataset": "v2"})
    run.complete()
    assert run.get_details()["properties"] == {"dataset": "v2"}  # not the owner process's
    assert run.get_details_with_logs()["logFiles"] == {}
    assert run.get_all_logs(tmp_path / "logs") == []


# -- 5. listing --------------------------------------------------------------------------------
def test_runs_are_found_by_tag_name_or_dict_property_type_and_status(exp: Experiment) -> None:
    a = exp.start_logging()
    a.tag("worth another look")
    a.add_properties({"dataset": "v2"})
    a.complete()
    b = exp.start_logging()
    b.set_tags({"team": "vision"})
    child = b.child_run()
    child.tag("worth another look")
    child.complete()
    b.fail("bad data")

    assert [r.id for r in exp.get_runs(tags="worth another look")] == [a.id]
    assert {r.id for r in exp.get_runs(tags="worth another look", include_children=True)} == {
        a.id,
        child.id,
    }
    assert [r.id for r in exp.get_runs(tags={"team": "vision"})] == [b.id]
    assert [r.id for r in exp.get_runs(properties="dataset")] == [a.id]
    assert [r.id for r in exp.get_runs(properties={"dataset": "v2"})] == [a.id]
    assert list(exp.get_runs(properties={"dataset": "v1"})) == []
    assert [r.id for r in exp.get_runs(type="interactive")] == [b.id, a.id]

    assert [r.id for r in Run.list(exp, status="Failed")] == [b.id]
    assert [r.id for r in Run.list(exp, tags="worth another look", include_children=True)] == [
        child.id,
        a.id,
    ]
    assert [r.id for r in Run.list(exp, type="child", include_children=True)] == [child.id]
    with pytest.raises(InvalidValueError, match="status must be one of"):
        list(Run.list(exp, status="Done"))
    with pytest.raises(InvalidValueError, match="tags must be a name or a dict"):
        list(exp.get_runs(tags=3))
    with pytest.raises(InvalidValueError, match="Run.list takes an Experiment"):
        Run.list("v1-compat")
    with pytest.raises(InvalidValueError, match="include_children must be True or False"):
        list(exp.get_runs(include_children="yes"))


# -- 6. names, description, tags ----------------------------------------------------------------
def test_run_attributes_as_v1_has_them(exp: Experiment) -> None:
    run = exp.start_logging()
    run.display_name = "baseline"
    assert run.display_name == "baseline" and run.name == "baseline"
    assert Run(exp, run.id).display_name == "baseline"
    run.description = "first try, default settings"
    assert Run(exp, run.id).description == "first try, default settings"
    assert run.get_details()["description"] == "first try, default settings"
    assert "runwidget.description" not in run.get_properties()
    run.description = "second thoughts"  # a description may change, unlike a property
    assert run.description == "second thoughts"

    run.set_tags({"a": "1", "b": "2", "c": "3"})
    assert run.remove_tags(["a", "c", "not-there"]) == {"b": "2"}
    assert run.tags == {"b": "2"} and Run(exp, run.id).get_tags() == {"b": "2"}
    run.add_properties({"p": 1})
    assert run.properties == {"p": 1}
    assert run.experiment.name == "v1-compat" and run.number >= 1
    with pytest.raises(InvalidValueError, match="list of tag names"):
        run.remove_tags({"b": "2"})
    with pytest.raises(InvalidValueError, match="description must be a string"):
        run.description = 5
    with pytest.raises(InvalidValueError, match="display_name"):
        run.display_name = ""
    run.complete()


# -- 7. properties are immutable ------------------------------------------------------------------
def test_a_property_cannot_change_once_set(exp: Experiment) -> None:
    run = exp.start_logging()
    run.add_properties({"author": "azureml-user"})
    run.add_properties({"author": "azureml-user", "other": 1})  # the same value again: fine
    try:
        run.add_properties({"author": "someone else"})
    except InvalidValueError as e:
        print(e)
        message = str(e)
    else:
        pytest.fail("changing a property was accepted")
    assert "'author'" in message and "'azureml-user'" in message and "'someone else'" in message
    assert run.get_properties() == {"author": "azureml-user", "other": 1}
    run.complete()


# -- 8. children ---------------------------------------------------------------------------------
def test_create_children_by_count_or_tag_values(exp: Experiment) -> None:
    parent = exp.start_logging()
    children = parent.create_children(count=3)
    assert len(children) == 3
    for i, child in enumerate(children):
        child.log("i", i)
        child.complete()
    tagged = parent.create_children(tag_key="fold", tag_values=["0", "1"])
    assert [c.get_tags() for c in tagged] == [{"fold": "0"}, {"fold": "1"}]
    for child in tagged:
        child.complete()
    assert len(parent.get_children()) == 5
    assert {c.parent.id for c in parent.get_children()} == {parent.id}
    with pytest.raises(InvalidValueError, match="needs a count"):
        parent.create_children()
    with pytest.raises(InvalidValueError, match="count=3 but 2"):
        parent.create_children(count=3, tag_key="k", tag_values=["a", "b"])
    with pytest.raises(InvalidValueError, match="positive int"):
        parent.create_children(count=0)
    with pytest.raises(InvalidValueError, match="needs a tag_key"):
        parent.create_children(tag_values=["a"])
    parent.complete()


def test_submit_child_runs_a_script_under_the_run(exp: Experiment, tmp_path: Path, submitted):
    folder = script(tmp_path / "src", "from runwidget import Run\nRun.get_context().log('x', 1)\n")
    src = ScriptRunConfig(source_directory=folder, script="train.py")
    parent = exp.start_logging()
    child = parent.submit_child(src, tags={"kind": "script"})
    child.wait_for_completion()
    assert child.parent.id == parent.id
    assert child.get_metrics() == {"x": 1} and child.get_tags() == {"kind": "script"}
    assert [c.id for c in parent.get_children()] == [child.id]
    assert src.parent_id is None  # the config itself is unchanged
    with pytest.raises(InvalidValueError, match="submit_child takes a ScriptRunConfig"):
        parent.submit_child("train.py")
    parent.complete()


# -- 9, 10. files and snapshots ------------------------------------------------------------------
def test_file_names_are_the_users_files(exp: Experiment, tmp_path: Path) -> None:
    folder = script(tmp_path / "src", "print(1)\n")
    run = exp.start_logging(snapshot_directory=str(folder))
    (tmp_path / "model.pkl").write_bytes(b"model")
    run.upload_file("outputs/model.pkl", str(tmp_path / "model.pkl"))
    run.take_snapshot(folder)
    assert run.get_file_names() == ["outputs/model.pkl"]
    run.complete()


def test_take_and_restore_snapshots(exp: Experiment, tmp_path: Path) -> None:
    folder = script(tmp_path / "src", "print(1)\n")
    (folder / "data").mkdir()
    (folder / "data" / "big.csv").write_text("1,2\n")
    (folder / "notes.tmp").write_text("x")
    (folder / ".amlignore").write_text("/data\n*.tmp\n")
    run = exp.start_logging()
    assert run.get_snapshot_id() is None
    with pytest.raises(InvalidValueError, match="has no snapshot"):
        run.restore_snapshot()
    first = run.take_snapshot(folder)
    assert run.get_snapshot_id() == first
    (folder / "extra.py").write_text("print(2)\n")
    second = run.take_snapshot(str(folder / "extra.py"))
    assert run.get_snapshot_id() == second

    path = run.restore_snapshot(first, path=tmp_path / "restored")
    assert path == str(tmp_path / "restored" / f"{first}.zip")
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == [".amlignore", "train.py"]
    latest = run.restore_snapshot()
    with zipfile.ZipFile(latest) as archive:
        assert archive.namelist() == ["extra.py"]
    with pytest.raises(InvalidValueError, match="no snapshot 'nope'"):
        run.restore_snapshot("nope")
    with pytest.raises(InvalidValueError, match="neither a file nor a folder"):
        run.take_snapshot(tmp_path / "missing")
    run.complete()


def test_restore_snapshot_names_arguments_of_the_wrong_type(
    exp: Experiment, tmp_path: Path
) -> None:
    run = exp.start_logging()
    run.take_snapshot(script(tmp_path / "src", "print(1)\n"))
    with pytest.raises(InvalidValueError, match="snapshot_id must be a string or None, got int"):
        run.restore_snapshot(snapshot_id=3)
    with pytest.raises(InvalidValueError, match="path must be a path or None, got int"):
        run.restore_snapshot(path=3)
    run.complete()


def test_a_bad_snapshot_directory_is_refused_before_the_run_starts(
    exp: Experiment, tmp_path: Path
) -> None:
    with pytest.raises(InvalidValueError, match="snapshot_directory must be a path or None"):
        exp.start_logging(snapshot_directory=3)
    with pytest.raises(InvalidValueError, match="'missing' is not a directory"):
        exp.start_logging(snapshot_directory="missing")
    assert list(exp.get_runs()) == []  # no run was left behind


def test_a_submitted_runs_snapshot_has_an_id(exp: Experiment, tmp_path: Path, submitted):
    folder = script(tmp_path / "src", "print(1)\n")
    (folder / "skip.bin").write_bytes(b"\0")
    (folder / ".amlignore").write_text("*.bin\n")
    run = exp.submit(ScriptRunConfig(source_directory=folder, script="train.py"))
    run.wait_for_completion()
    snapshot_id = run.get_snapshot_id()
    assert snapshot_id is not None and run.get_snapshot_id() == snapshot_id
    with zipfile.ZipFile(run.restore_snapshot(path=tmp_path / "out.zip")) as archive:
        assert "skip.bin" not in archive.namelist() and "train.py" in archive.namelist()
    assert "snapshot.zip" not in run.get_file_names()


def test_workspace_get_and_experiments_as_in_v1(ws: Workspace) -> None:
    Experiment(ws, "one")
    assert list(ws.experiments) == ["one"] and ws.experiments["one"].name == "one"
    assert list(ws.experiments()) == ["one"]
    Experiment(ws, "two")
    assert [e.name for e in Experiment.list(ws)] == ["one", "two"]
    assert [e.name for e in Experiment.list(ws, experiment_name="two")] == ["two"]
    assert Experiment.list(ws, experiment_name="three") == []
    assert len(Experiment.list(ws, view_type="All")) == 2
    assert Experiment.list(ws, view_type="ArchivedOnly") == []  # none is ever archived
    with pytest.raises(InvalidValueError, match="Experiment.list takes a Workspace first"):
        Experiment.list("ws")
    with pytest.raises(InvalidValueError, match="view_type must be one of"):
        Experiment.list(ws, view_type="active")
    with pytest.raises(InvalidValueError, match="experiments have no tags here"):
        Experiment.list(ws, tags={"team": "a"})
    named = Workspace.get(name="my-ws", subscription_id="sub", resource_group="rg")
    assert (named.name, named.subscription_id, named.resource_group) == ("my-ws", "sub", "rg")
    with pytest.raises(InvalidValueError, match="takes a name"):
        Workspace.get(name="")
