"""The factory checks options, starts nothing, and the hook registers the ``dask`` kind."""

from __future__ import annotations

import textwrap
import threading
from pathlib import Path

import cadenza_dask
import pytest
from cadenza_dask import DaskExecutor, DaskOptions

import cadenza


def test_the_hook_registers_the_dask_kind(plugins: cadenza.plugins.Plugins) -> None:
    registered = plugins.registered("cadenza_executors")
    assert "dask" in registered
    executor = registered["dask"].obj({"address": "tcp://127.0.0.1:8786"})
    assert isinstance(executor, DaskExecutor)
    assert isinstance(executor, cadenza.plugins.Executor)


def test_the_factory_starts_nothing() -> None:
    before = {t.name for t in threading.enumerate()}
    executor = DaskExecutor.from_options({"workers": 2})
    assert not executor.started
    assert executor.scheduler_address is None
    assert {t.name for t in threading.enumerate()} == before


def test_defaults_and_an_address() -> None:
    assert DaskExecutor.from_options(None).options == DaskOptions()
    options = DaskExecutor.from_options({"address": "tcp://10.0.0.5:8786"}).options
    assert options.address == "tcp://10.0.0.5:8786"
    assert DaskExecutor.from_options({"address": "tls://[::1]:8786"}).options.address
    both = {"address": "tcp://h:1", "restart_on_cancel": True, "connect_timeout": 5}
    assert DaskExecutor.from_options(both).options.restart_on_cancel  # fine with an address


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"adress": "tcp://h:1"}, "unknown option 'adress' (did you mean 'address'?)"),
        ({"address": "127.0.0.1:8786"}, "address must look like tcp://HOST:PORT"),
        ({"address": "http://h:8786"}, "address must look like tcp://HOST:PORT"),
        ({"address": "tcp://h:99999"}, "the port must be between 1 and 65535"),
        ({"workers": 0}, "workers must be 1 or more, got 0"),
        ({"workers": True}, "workers: expected an integer, got bool True"),
        ({"processes": "yes"}, "processes: expected true or false"),
        ({"connect_timeout": 0}, "connect_timeout must be more than 0 seconds"),
        ({"restart_on_cancel": 1}, "restart_on_cancel: expected true or false, got int 1"),
        ({"address": "tcp://h:1", "workers": 2}, "Remove workers, or remove address"),
    ],
)
def test_bad_options_are_a_value_error_naming_the_problem(
    options: dict[str, object], expected: str
) -> None:
    with pytest.raises(ValueError, match="bad options for a dask executor") as info:
        DaskExecutor.from_options(options)
    assert expected in str(info.value)
    assert "Its options: address, workers" in str(info.value)


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(ValueError, match="bad options") as info:
        DaskExecutor.from_options({"processes": "yes", "workers": 0, "nope": 1})
    text = str(info.value)
    assert "processes: expected true or false" in text
    assert "workers must be 1 or more" in text
    assert "unknown option 'nope'" in text


def test_bad_options_in_a_workflow_are_a_load_error_with_file_and_line(
    plugins: cadenza.plugins.Plugins, tmp_path: Path
) -> None:
    text = textwrap.dedent(
        """
        executors:
          cluster:
            kind: dask
            options: {address: "localhost:8786"}
        agents:
          a: {kind: python, executor: cluster, options: {function: "m:f"}}
        steps:
          s: {uses: a}
        """
    )
    with pytest.raises(cadenza.WorkflowError) as info:
        cadenza.load_workflow_text(text, plugins=plugins, filename="wf.yaml", base_dir=tmp_path)
    message = str(info.value)
    assert "wf.yaml:5" in message
    assert "executor 'cluster' (kind dask)" in message
    assert "address must look like tcp://HOST:PORT" in message


def test_the_public_names() -> None:
    assert cadenza_dask.DaskExecutor.__module__ == "cadenza_dask"
    assert set(cadenza_dask.__all__) >= {"DaskExecutor", "DaskOptions", "cadenza_executors"}
