"""The sweep and the precision search on a local Ray instance (one, shared by the module's
tests: starting Ray takes seconds) give exactly what they give in this process."""

import pytest
import ray

import nnfx
from nnfx.search import search_precision
from nnfx.sweep.executors import InProcess, RayExecutor
from tests.sweep.sweep_helpers import GRID, strip

pytestmark = pytest.mark.xdist_group("ray")  # one xdist worker, so one Ray start for the module


@pytest.fixture(scope="module")
def local_ray():
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_and_in_process_sweeps_agree(local_ray, tiny_mlp, tmp_path):
    path, X, y = tiny_mlp
    grid = {**GRID, "policies": ("uniform", "auto", "search")}
    here = nnfx.sweep(path, X, y, tmp_path / "here", workers=1, progress=False, **grid)
    there = nnfx.sweep(path, X, y, tmp_path / "ray", workers=2, progress=False, **grid)
    assert here.record["runs"][0]["executor"] == "in-process"
    assert there.record["runs"][0]["executor"] == "ray"
    assert there.record["runs"][0]["workers"] == 2
    assert strip(here.points) == strip(there.points) and len(here.points) == 12
    assert sum(r["status"] == "ok" for r in there.points) == 6
    assert here.pareto == there.pareto
    assert ray.is_initialized()  # a Ray instance the user started is left running


def test_the_search_evaluates_its_candidates_on_ray(local_ray, tiny_mlp):
    path, X, y = tiny_mlp
    model = nnfx.load(path)
    alone = search_precision(model, X, y, widths=range(4, 12))
    executor = RayExecutor()
    assert executor.slots == 2
    spread = search_precision(model, X, y, widths=range(4, 12), executor=executor)
    here = search_precision(model, X, y, widths=range(4, 12), executor=InProcess())
    for result in (spread, here):
        assert result.config == alone.config and result.trials == alone.trials
        assert result.accuracy == alone.accuracy
