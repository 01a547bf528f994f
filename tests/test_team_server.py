"""The shared tracking server of scripts/team_server.sh: PostgreSQL, proxied artifacts, basic-auth.

One server (and one PostgreSQL cluster) for the module: no credentials → 401; a read-only user
cannot write into a teammate's experiment; an editor runs the probe stage through it, the run
tree equals the one a local sqlite store gets, and the registered champion loads for the reader
in another working copy, its artifacts fetched through the server.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from emofx.embed.store import EmbeddingStore
from emofx.probes.config import ProbeParams
from emofx.probes.fit import load_features
from emofx.probes.registry import CHAMPION
from emofx.probes.run import run_probes
from emofx.tracking import stage_run
from tests.postgres import postgres  # noqa: F401 - the session fixture
from tests.probe_data import write_store
from tests.team_server import EDITOR, READER, credentials, team_server

pytestmark = pytest.mark.slow
RAW = {
    "probes": ["ridge"],
    "tune": {"probes": ["ridge"], "n_trials": 2, "storage": "optuna/journal.log"},
}
#: tags whose values are ids or differ per store; their keys are still compared
VOLATILE = (
    "mlflow.parentRunId",
    "mlflow.log-model.history",
    "emofx.model_version",
    "emofx.pid",
    "mlflow.user",  # the editor on the server, the OS user locally
)


@pytest.fixture(scope="module")
def server(postgres, tmp_path_factory):  # noqa: F811
    with team_server(tmp_path_factory.mktemp("team"), postgres) as running:
        yield running


def probe_stage(project, uri: str, monkeypatch) -> str:
    """The probe stage of a tiny store in ``project`` (its own Optuna journal) → experiment id."""
    project.mkdir()
    monkeypatch.chdir(project)
    os.environ["MLFLOW_TRACKING_URI"] = uri  # restored by conftest's autouse fixture
    _, manifest = write_store(project / "emb")
    with stage_run("probe", "tiny", {"probe": RAW}) as parent:
        run_probes(
            ProbeParams.model_validate(RAW),
            manifest,
            project / "emb",
            ["tiny"],
            project / "pred",
            0,
            dataset="tiny",
        )
    return parent.info.experiment_id


def run_tree(uri: str, experiment_id: str) -> list[tuple]:
    """Every run as (name, parent's name, params, metric keys, tag keys, volatile-free tags)."""
    runs = MlflowClient(uri).search_runs([experiment_id])
    names = {r.info.run_id: r.info.run_name for r in runs}
    tree = []
    for r in runs:
        tags = {k: v for k, v in r.data.tags.items() if k not in VOLATILE}
        tree.append(
            (
                r.info.run_name,
                names.get(r.data.tags.get("mlflow.parentRunId")),
                sorted(r.data.params.items()),
                sorted(r.data.metrics),
                sorted(r.data.tags),
                sorted(tags.items()),
                r.info.status,
            )
        )
    return sorted(tree)


def test_no_credentials_is_401_and_a_reader_cannot_write(server, tmp_path, monkeypatch):
    request = urllib.request.Request(
        f"{server.uri}/api/2.0/mlflow/experiments/search?max_results=1"
    )
    with pytest.raises(urllib.error.HTTPError) as anonymous:
        urllib.request.urlopen(request, timeout=10)
    assert anonymous.value.code == 401
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.uri)
    with credentials(EDITOR):
        experiment = MlflowClient(server.uri).create_experiment("emofx-editors-only")
        MlflowClient(server.uri).create_run(experiment)  # the owner may
    with credentials(READER):
        reader = MlflowClient(server.uri)
        assert reader.get_experiment(experiment).name == "emofx-editors-only"  # READ by default
        with pytest.raises(MlflowException, match="Permission denied") as denied:
            reader.create_run(experiment)
        assert denied.value.get_http_status_code() == 403
    with credentials(("editor", "not-the-password")):
        with pytest.raises(MlflowException) as wrong:
            MlflowClient(server.uri).search_experiments()
        assert wrong.value.get_http_status_code() == 401


def test_probe_stage_through_the_team_server_as_on_sqlite(server, tmp_path, monkeypatch):
    with credentials(EDITOR):
        on_server = probe_stage(tmp_path / "team", server.uri, monkeypatch)
        tree = run_tree(server.uri, on_server)
    local = f"sqlite:///{tmp_path / 'local' / 'mlflow.db'}"
    on_sqlite = probe_stage(tmp_path / "local", local, monkeypatch)
    assert {run[0] for run in tree} == {
        "probe",
        "tiny/layer_sweep",
        "tiny/ridge/regression",
        "tiny/ridge/regression/tune",
        "trial-000",
        "trial-001",
    }
    assert tree == run_tree(local, on_sqlite)

    # the reader, in another working copy, loads the champion; artifacts come via the server
    other = tmp_path / "other-clone"
    other.mkdir()
    monkeypatch.chdir(other)
    with credentials(READER):
        version = MlflowClient(server.uri).get_model_version_by_alias(
            "emofx-tiny-tiny-ridge", CHAMPION
        )
        model = mlflow.pyfunc.load_model(f"models:/emofx-tiny-tiny-ridge@{CHAMPION}")
    assert not version.source.startswith(("file:", "/"))
    assert list(server.artifacts.rglob("MLmodel")), "artifacts live on the server's side"
    store = EmbeddingStore(tmp_path / "team" / "emb" / "tiny")
    predicted = pd.read_parquet(tmp_path / "team" / "pred" / "tiny" / "ridge" / "clean.parquet")
    columns = [c for c in predicted.columns if c not in ("track_id", "split", "condition")]
    expected = predicted[columns].to_numpy()
    np.testing.assert_allclose(model.predict(load_features(store, "clean", 1)), expected, rtol=1e-6)
