"""Bundled data by name, and a lab's config folder on top of the bundle (KEI_CONFIG_DIR / --configs)."""
import pytest
from conftest import ROOT

from kei.errors import ConfigError
from kei.resources import bundled_configs_dir, config_file, cycles_dir, firmware_dir, named, names, shown_path


@pytest.fixture
def lab(tmp_path, monkeypatch):
    monkeypatch.setenv("KEI_CONFIG_DIR", str(tmp_path))
    return tmp_path


def test_the_bundle_is_the_checkouts_configs_in_an_editable_install(monkeypatch):
    monkeypatch.delenv("KEI_CONFIG_DIR", raising=False)
    assert bundled_configs_dir().resolve() == (ROOT / "configs").resolve()
    assert config_file("catalog/cells.toml") == bundled_configs_dir() / "catalog" / "cells.toml"
    assert (cycles_dir() / "udds.csv").is_file() and (firmware_dir() / "Makefile").is_file()


def test_a_lab_file_replaces_the_bundled_one_of_the_same_path_and_nothing_else(lab):
    (lab / "catalog").mkdir()
    (lab / "catalog" / "cells.toml").write_text("# the lab's own cells\n")
    assert config_file("catalog/cells.toml") == lab / "catalog" / "cells.toml"
    assert config_file("catalog/motors.toml") == bundled_configs_dir() / "catalog" / "motors.toml"


def test_names_include_the_labs_and_named_finds_them_first(lab):
    (lab / "problems").mkdir()
    (lab / "problems" / "my_city_car.toml").write_text("name = 'x'\n")
    (lab / "problems" / "us_kei_15k.toml").write_text("name = 'the lab variant'\n")
    assert {"my_city_car", "us_kei_15k", "jp_kei"} <= set(names("problems"))
    assert named("problems", "my_city_car") == lab / "problems" / "my_city_car.toml"
    assert named("problems", "us_kei_15k") == lab / "problems" / "us_kei_15k.toml"


def test_named_searches_kinds_in_order_and_suggests(monkeypatch):
    monkeypatch.delenv("KEI_CONFIG_DIR", raising=False)
    assert named(("vehicles", "designs"), "us_kei_150km").parent.name == "designs"
    with pytest.raises(ConfigError, match="did you mean 'nissan_sakura'"):
        named(("vehicles", "designs"), "nissan_sakra")


def test_a_path_is_used_as_given_and_must_exist(tmp_path):
    f = tmp_path / "car.toml"
    f.write_text("")
    assert named("vehicles", str(f)) == f
    with pytest.raises(ConfigError, match="not found"):
        named("vehicles", str(tmp_path / "other.toml"))
    with pytest.raises(ConfigError, match="is a folder"):
        named("vehicles", str(tmp_path))


def test_a_missing_lab_folder_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setenv("KEI_CONFIG_DIR", str(tmp_path / "nope"))
    with pytest.raises(ConfigError, match="must name a folder"):
        config_file("bench.toml")


def test_generated_files_name_bundled_configs_the_same_everywhere(monkeypatch):
    monkeypatch.delenv("KEI_CONFIG_DIR", raising=False)
    assert shown_path(bundled_configs_dir() / "designs" / "sakura_pack.toml") == "configs/designs/sakura_pack.toml"
