"""Sweeps on a Dask LocalCluster bound to 127.0.0.1, including a worker killed mid-sweep."""

import faulthandler
import os
import signal
import sys
import threading
import time

import pytest
from conftest import tiny_sweep_args, tiny_sweep_variants

pytest.importorskip("dask.distributed")

from minievo.cli import main
from minievo.experiments.sweep import dask_client, run_sweep


@pytest.fixture
def client():
    faulthandler.dump_traceback_later(
        120, exit=True, file=sys.__stderr__
    )  # a hang fails instead of blocking CI
    client = dask_client("local", workers=2)
    try:
        yield client
    finally:
        cluster = client.cluster
        client.close()
        cluster.close()
        faulthandler.cancel_dump_traceback_later()


def test_cluster_is_local_and_pinned(client):
    assert all(
        address.startswith("tcp://127.0.0.1:") for address in client.scheduler_info()["workers"]
    )
    threads = client.run(lambda: os.environ.get("OMP_NUM_THREADS"))
    assert set(threads.values()) == {"1"}


def test_two_by_two_sweep_on_dask_gives_the_local_numbers(client, data_dir, tmp_path):
    variants = tiny_sweep_variants(data_dir)
    remote = run_sweep(variants, tmp_path / "dask", executor=client.get_executor())
    local = run_sweep(variants, tmp_path / "local", in_process=True, figures=False)
    assert not remote.failed and remote.ran == 4
    assert {ln["job"]: ln["test_loss"] for ln in remote.lines} == {
        ln["job"]: ln["test_loss"] for ln in local.lines
    }


def test_a_worker_killed_mid_sweep_costs_at_most_its_job(client, data_dir, tmp_path):
    variants = tiny_sweep_variants(data_dir, epochs=6)
    pids = client.run(os.getpid)
    root = tmp_path / "s"
    killed = []

    def kill_a_worker_once_a_job_runs():
        deadline = time.time() + 60
        while time.time() < deadline:
            if list(root.glob("*/seed-*/stats.jsonl")):
                pid = min(pids.values())
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(0.01)

    killer = threading.Thread(target=kill_a_worker_once_a_job_runs)
    killer.start()
    outcome = run_sweep(variants, root, executor=client.get_executor())
    killer.join()
    assert killed
    assert len(outcome.lines) == 4
    done = [ln for ln in outcome.lines if ln["status"] == "done"]
    assert len(done) >= 3  # the lost job was retried elsewhere, or recorded as failed
    for line in outcome.failed:
        assert line["error"]
    again = run_sweep(variants, root, in_process=True, figures=False)
    assert not again.failed and again.ran == len(outcome.failed)


def test_sweep_command_with_a_local_scheduler(data_dir, tmp_path, capsys):
    faulthandler.dump_traceback_later(120, exit=True, file=sys.__stderr__)
    try:
        code = main(tiny_sweep_args(tmp_path / "s", "--scheduler", "local", "--workers", "2"))
    finally:
        faulthandler.cancel_dump_traceback_later()
    assert code == 0
    assert "3/3 jobs done" in capsys.readouterr().err
    assert len((tmp_path / "s" / "results.jsonl").read_text().splitlines()) == 3


def test_sweep_command_with_a_scheduler_address(client, data_dir, tmp_path, capsys):
    address = client.scheduler.address
    code = main(tiny_sweep_args(tmp_path / "s", "--scheduler", address))
    assert code == 0 and "3/3 jobs done" in capsys.readouterr().err
