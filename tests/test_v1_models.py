"""The model registry as a reference (Azure ML v1) SDK user writes it: ``run.register_model``,
``Model(ws, name, version)``, ``Model.list``, ``model.download``; and the store contract
under it, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import pickle
import threading
import zipfile
from pathlib import Path

import pytest

from runwidget import (
    Experiment,
    InvalidValueError,
    Model,
    ModelNotFoundError,
    RunNotFoundError,
    Workspace,
)
from runwidget.store import SqlStore
from tests.test_server_hardening import running_portal


@pytest.fixture
def ws(store_uri: str) -> Workspace:
    return Workspace(store_uri)


def _train(ws: Workspace, coef: float = 0.5) -> object:
    """A v1 tutorial's training cell: the model pickled to ./outputs, uploaded, run ended."""
    run = Experiment(workspace=ws, name="train-sklearn").start_logging()
    run.log("alpha", coef)
    Path("outputs").mkdir(exist_ok=True)
    with open("outputs/model.pkl", "wb") as f:
        pickle.dump({"coef": coef}, f)
    run.upload_file(name="outputs/model.pkl", path_or_stream="outputs/model.pkl")
    run.complete()
    return run


# -- register, get, list, download: v1 code -------------------------------------------------
def test_register_get_list_download_as_in_v1(ws: Workspace, tmp_path: Path) -> None:
    run = _train(ws, 0.5)
    model = run.register_model(
        model_name="diabetes-model",
        model_path="outputs/model.pkl",
        tags={"Training context": "Script"},
        properties={"AUC": 0.87},
        description="Diabetes classification",
    )
    print(model.name, model.id, model.version, sep="\t")
    assert (model.name, model.version, model.id) == ("diabetes-model", 1, "diabetes-model:1")
    assert model.tags == {"Training context": "Script"}
    assert model.properties == {"AUC": 0.87}
    assert model.description == "Diabetes classification"
    assert model.run_id == run.id and model.experiment_name == "train-sklearn"

    second = _train(ws, 0.7).register_model("diabetes-model", "outputs/model.pkl")
    assert second.version == 2
    other = run.register_model("other-model", "outputs/model.pkl")
    assert other.version == 1  # versions count per name

    latest = Model(ws, "diabetes-model")
    assert latest.version == 2 and latest.run_id == second.run_id
    assert Model(ws, "diabetes-model", version=1) == model
    assert Model(ws, id="diabetes-model:1").description == "Diabetes classification"

    listed = Model.list(ws)
    assert [m.id for m in listed] == ["other-model:1", "diabetes-model:2", "diabetes-model:1"]
    for m in Model.list(ws, name="diabetes-model"):
        print(m.name, "version:", m.version)
        for tag_name, value in m.tags.items():
            print("\t", tag_name, ":", value)
    assert [m.version for m in Model.list(ws, name="diabetes-model")] == [2, 1]
    assert [m.id for m in Model.list(ws, tags=["Training context"])] == ["diabetes-model:1"]
    assert [m.id for m in Model.list(ws, tags=[["Training context", "Script"]])] == [
        "diabetes-model:1"
    ]
    assert Model.list(ws, tags={"Training context": "Notebook"}) == []
    assert [m.id for m in Model.list(ws, latest=True)] == ["other-model:1", "diabetes-model:2"]

    path = model.download(target_dir=str(tmp_path / "dl"), exist_ok=True)
    assert path == str(tmp_path / "dl" / "model.pkl")
    with open(path, "rb") as f:
        assert pickle.load(f) == {"coef": 0.5}
    with pytest.raises(InvalidValueError, match="exists already; pass exist_ok=True"):
        model.download(target_dir=str(tmp_path / "dl"))
    # A teammate's process on the same store sees the same registry.
    assert Model(Workspace(ws.uri), "diabetes-model").version == 2


def test_a_folder_model_keeps_its_files_and_a_live_runs_outputs_count(
    ws: Workspace, tmp_path: Path
) -> None:
    run = Experiment(ws, "folder").start_logging()  # ./outputs is tracked
    (Path("outputs") / "model" / "weights").mkdir(parents=True)
    (Path("outputs") / "model" / "config.json").write_text('{"layers": 2}')
    (Path("outputs") / "model" / "weights" / "w.bin").write_bytes(b"\x00\x01")
    # Registered while the run is live: the files in ./outputs are stored first.
    model = run.register_model("net", "outputs/model")
    run.complete()
    assert sorted(model.get_file_names()) == [
        "outputs/model/config.json",
        "outputs/model/weights/w.bin",
    ]
    out = Path(model.download(tmp_path / "dl"))
    assert out == tmp_path / "dl" / "model"
    assert (out / "config.json").read_text() == '{"layers": 2}'
    assert (out / "weights" / "w.bin").read_bytes() == b"\x00\x01"
    assert run.get_file_names().count("outputs/model/config.json") == 1  # not stored twice


def test_a_submitted_script_registers_what_it_wrote_to_outputs(tmp_path: Path, submitted) -> None:
    # As v1 training scripts do: dump the model to ./outputs and register it right away.
    from runwidget import ScriptRunConfig
    from tests.local_runs import script

    folder = script(
        tmp_path / "src",
        """
        import os, pickle
        from runwidget import Run
        run = Run.get_context()
        os.makedirs("outputs", exist_ok=True)
        with open("outputs/model.pkl", "wb") as f:
            pickle.dump({"coef": 0.25}, f)
        model = run.register_model("from-script", "outputs/model.pkl", tags={"by": "script"})
        run.log_confusion_matrix("cm", {"schema_type": "confusion_matrix", "data": {
            "class_labels": ["a", "b"], "matrix": [[1, 0], [0, 1]]}})
        print("registered", model.id)
        """,
    )
    ws = Workspace()
    run = Experiment(ws, "scripted").submit(ScriptRunConfig(folder, "train.py"))
    run.wait_for_completion(raise_on_error=True)
    model = Model(ws, "from-script")
    assert (model.version, model.run_id, model.tags) == (1, run.id, {"by": "script"})
    assert pickle.loads(Path(model.download(tmp_path / "dl")).read_bytes()) == {"coef": 0.25}
    assert run.get_file_names().count("outputs/model.pkl") == 1  # the end's upload skipped it
    assert run.get_metrics()["cm"]["data"]["matrix"] == [[1, 0], [0, 1]]


def test_model_register_takes_local_files_as_in_v1(ws: Workspace, tmp_path: Path) -> None:
    Path("sklearn_regression_model.pkl").write_bytes(b"weights")
    model = Model.register(
        workspace=ws,
        model_path="sklearn_regression_model.pkl",
        model_name="sklearn_regression_model",
        tags={"area": "diabetes", "type": "regression"},
        description="Ridge regression model to predict diabetes",
    )
    assert (model.name, model.version) == ("sklearn_regression_model", 1)
    assert model.experiment_name == "registered-models"
    assert model.tags == {"area": "diabetes", "type": "regression"}
    assert model.run.get_status() == "Completed"
    folder = tmp_path / "net"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "w.bin").write_bytes(b"w")
    again = Model.register(ws, folder, "sklearn_regression_model")
    assert again.version == 2 and again.get_file_names() == ["outputs/net/sub/w.bin"]
    out = Path(Model(ws, "sklearn_regression_model", version=1).download(tmp_path / "dl"))
    assert out.read_bytes() == b"weights"
    with pytest.raises(InvalidValueError, match="'missing.pkl' is neither a file nor a folder"):
        Model.register(ws, "missing.pkl", "m")
    with pytest.raises(InvalidValueError, match="model_path must be a local file or folder"):
        Model.register(ws, 3, "m")
    with pytest.raises(InvalidValueError, match="Model.register takes a Workspace first"):
        Model.register("ws", "sklearn_regression_model.pkl", "m")


def test_the_model_framework_is_kept_as_in_v1(ws: Workspace) -> None:
    run = _train(ws)
    model = run.register_model(
        model_name="sklearn-model",
        model_path="outputs/model.pkl",
        model_framework=Model.Framework.SCIKITLEARN,
        model_framework_version="1.5.0",
    )
    assert (model.model_framework, model.model_framework_version) == ("ScikitLearn", "1.5.0")
    assert Model(ws, "sklearn-model").model_framework == "ScikitLearn"
    Path("model.onnx").write_bytes(b"onnx")
    onnx = Model.register(
        workspace=ws,
        model_path="model.onnx",
        model_name="onnx-model",
        model_framework=Model.Framework.ONNX,
        model_framework_version="1.14",
    )
    assert (onnx.model_framework, onnx.model_framework_version) == ("Onnx", "1.14")
    plain = run.register_model("plain-model", "outputs/model.pkl")
    assert plain.model_framework is None and plain.properties == {}
    with pytest.raises(InvalidValueError, match="model_framework must be a string or None"):
        run.register_model("m", "outputs/model.pkl", model_framework=3)
    with pytest.raises(InvalidValueError, match="model_framework_version must be a string"):
        run.register_model("m", "outputs/model.pkl", model_framework_version=1.5)


def test_concurrent_registrations_count_up_without_gaps(ws: Workspace) -> None:
    run = _train(ws)
    errors: list[BaseException] = []

    def register() -> None:
        try:
            for _ in range(5):
                Workspace(ws.uri).store.register_model(
                    "busy", run_id=run.id, path="outputs/model.pkl"
                )
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=register) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(m.version for m in Model.list(ws, name="busy")) == list(range(1, 21))


# -- bad input --------------------------------------------------------------------------------
def test_bad_registrations_are_refused_with_what_is_wrong(ws: Workspace) -> None:
    run = _train(ws)
    with pytest.raises(InvalidValueError, match="has no file or folder 'outputs/missing.pkl'"):
        run.register_model("m", "outputs/missing.pkl")
    with pytest.raises(InvalidValueError, match=r"its files: \['outputs/model.pkl'\]"):
        run.register_model("m", "model.pkl")
    with pytest.raises(InvalidValueError, match="model_name must be a string, got int"):
        run.register_model(42, "outputs/model.pkl")
    with pytest.raises(InvalidValueError, match="may hold only letters, digits"):
        run.register_model("my model!", "outputs/model.pkl")
    with pytest.raises(InvalidValueError, match="needs model_path"):
        run.register_model("m")
    with pytest.raises(InvalidValueError, match="model_path must be a string"):
        run.register_model("m", Path("outputs/model.pkl"))
    with pytest.raises(InvalidValueError, match="tags must be a dict"):
        run.register_model("m", "outputs/model.pkl", tags=["a"])
    with pytest.raises(InvalidValueError, match="property 'p' must be a string, number"):
        run.register_model("m", "outputs/model.pkl", properties={"p": [1]})
    with pytest.raises(InvalidValueError, match="description must be a string or None"):
        run.register_model("m", "outputs/model.pkl", description=3)
    assert Model.list(ws) == []  # nothing half-registered


def test_unknown_models_and_versions_are_named(ws: Workspace) -> None:
    _train(ws).register_model("known", "outputs/model.pkl")
    with pytest.raises(ModelNotFoundError, match="no model named 'unknown' is registered"):
        Model(ws, "unknown")
    versions = r"'known' has no version 3; its versions are \[1\]"
    with pytest.raises(ModelNotFoundError, match=versions):
        Model(ws, "known", version=3)
    with pytest.raises(InvalidValueError, match="version must be a positive int, got 0"):
        Model(ws, "known", version=0)
    with pytest.raises(InvalidValueError, match="version must be a positive int, got 'x'"):
        Model(ws, id="known:x")
    with pytest.raises(InvalidValueError, match="id must be 'name:version'"):
        Model(ws, id="known")
    with pytest.raises(InvalidValueError, match="Model needs a name"):
        Model(ws)
    with pytest.raises(InvalidValueError, match="Model takes a Workspace first, got str"):
        Model("ws", "known")
    with pytest.raises(InvalidValueError, match="Model.list takes a Workspace first"):
        Model.list(None)
    with pytest.raises(InvalidValueError, match="tags must be a list of names"):
        Model.list(ws, tags=3)
    pair = r"each of tags must be a name or a \[name, value\]"
    with pytest.raises(InvalidValueError, match=pair):
        Model.list(ws, tags=[["a", "b", "c"]])
    with pytest.raises(InvalidValueError, match="target_dir must be a folder path, got int"):
        Model(ws, "known").download(target_dir=5)
    with pytest.raises(InvalidValueError, match="exist_ok must be True or False, got str"):
        Model(ws, "known").download(target_dir="models", exist_ok="yes")


# -- the store contract -----------------------------------------------------------------------
def test_store_contract(store_uri: str) -> None:
    store = SqlStore(store_uri)
    run = store.create_run("e", status="Running")
    first = store.register_model("m", run_id=run.id, path="outputs/a", tags={"t": 1})
    assert (first.name, first.version, first.run_id, first.experiment) == ("m", 1, run.id, "e")
    assert first.tags == {"t": 1} and first.properties == {} and first.description is None
    store.register_model("m", run_id=run.id, path="outputs/b", description="second")
    assert store.get_model("m").path == "outputs/b"
    assert store.get_model("m", 1) == first
    assert [m.version for m in store.list_models("m")] == [2, 1]
    assert store.list_models("nope") == []
    with pytest.raises(RunNotFoundError):
        store.register_model("m", run_id="no-such-run", path="x")
    assert [m.version for m in store.list_models()] == [2, 1]  # the failed one left nothing
    with pytest.raises(ModelNotFoundError):
        store.get_model("m", 9)
    store.close()


# -- the portal's Models page -----------------------------------------------------------------
def test_models_page_and_api_of_the_standalone_portal(ws: Workspace) -> None:
    run = _train(ws)
    run.upload_file("outputs/net/config.json", io.BytesIO(b'{"a": 1}'))
    run.register_model("pickled", "outputs/model.pkl", tags={"k": "<b>v</b>"})
    run.register_model("net", "outputs/net", description="<script>x</script>")
    with running_portal(ws.uri) as portal:
        page = portal.get("/runwidget/models", headers={"Authorization": "token " + _token()})
        assert page.status == 200 and b'"page":"models"' in page.body
        answer = json.loads(portal.api("models").body)
        assert [m["id"] for m in answer["models"]] == ["net:1", "pickled:1"]
        assert answer["models"][0]["description"] == "<script>x</script>"  # text, as sent
        assert [f["path"] for f in answer["models"][1]["files"]] == ["outputs/model.pkl"]
        assert answer["models"][1]["tags"] == {"k": "<b>v</b>"}
        one = json.loads(portal.api("models", name="pickled").body)
        assert [m["id"] for m in one["models"]] == ["pickled:1"]
        file = portal.api("models", "pickled", "1", "download")
        assert file.status == 200 and pickle.loads(file.body) == {"coef": 0.5}
        assert "attachment" in file.headers["Content-Disposition"]
        folder = portal.api("models", "net", "1", "download")
        assert zipfile.ZipFile(io.BytesIO(folder.body)).namelist() == ["net/config.json"]
        missing = portal.api("models", "net", "7", "download")
        assert missing.status == 404 and b"no version 7" in missing.body
        bad = portal.api("models", name="bad name!")
        assert bad.status == 400 and b"may hold only letters" in bad.body


def _token() -> str:
    from tests.test_server_hardening import TOKEN

    return TOKEN
