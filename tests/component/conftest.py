"""Fixtures shared by the bench's component test modules."""
import pytest


@pytest.fixture(scope="session")
def clean_hil_run(tmp_path_factory):
    """One clean `kei hil run` of the headline design on its cycle (Python emulator): (result, log dir),
    the reference every fault, resume and restore test compares with."""
    from test_hil_session import CYCLE, DESIGN, kei_json

    log_dir = tmp_path_factory.mktemp("hil") / "clean"
    result = kei_json("hil", "run", DESIGN, "--cycle", CYCLE, "--emulator", "python", "--log", log_dir)
    return result, log_dir
