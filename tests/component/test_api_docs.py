"""docs/api.md runs: every ```python block, in order, in one namespace, from a scratch folder."""
import re

from conftest import ROOT

DOC = ROOT / "docs" / "api.md"


def test_every_example_in_the_api_docs_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KEI_CONFIG_DIR", "")  # main() may set it (--configs): restored after the test
    monkeypatch.delenv("KEI_CONFIG_DIR")
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) >= 5, "docs/api.md lost its examples"
    namespace: dict = {}
    for i, block in enumerate(blocks, 1):
        exec(compile(block, f"{DOC}:block {i}", "exec"), namespace)  # noqa: S102 - our own docs


def test_public_names_resolve():
    import kei
    import kei.hil
    import kei.optimizer
    import kei.vehicle

    for module in (kei, kei.hil, kei.optimizer, kei.vehicle):
        missing = [name for name in module.__all__ if not hasattr(module, name)]
        assert missing == [], f"{module.__name__}.__all__ names what it lacks: {missing}"
