from __future__ import annotations

from pathlib import Path

import pytest

from pytest_dbsnap.config import SETTINGS, Setting, resolve
from pytest_dbsnap.errors import ConfigError


def lookup(values: dict[str, object]):
    def get(setting: Setting):
        return values.get(setting.name)

    return get


def test_defaults(tmp_path: Path) -> None:
    settings = resolve(tmp_path, lookup({}), lookup({}), {})
    assert settings.image == "postgres:17"
    assert settings.seed == ()
    assert settings.host == "127.0.0.1"
    assert settings.startup_timeout == 60
    assert settings.keep is False
    assert settings.project == tmp_path.name.lower()


def test_flag_over_env_over_ini(tmp_path: Path) -> None:
    ini = lookup({"image": "from-ini", "dbname": "ini-db", "user": "ini-user"})
    env = {"DBSNAP_IMAGE": "from-env", "DBSNAP_DBNAME": "env-db"}
    flag = lookup({"image": "from-flag"})
    settings = resolve(tmp_path, flag, ini, env)
    assert (settings.image, settings.dbname, settings.user) == ("from-flag", "env-db", "ini-user")


def test_lists_split_like_a_shell_and_accept_ini_lists(tmp_path: Path) -> None:
    env = {"DBSNAP_SEED": "a.sql 'b c.sql'"}
    assert resolve(tmp_path, lookup({}), lookup({}), env).seed == ("a.sql", "b c.sql")
    ini = lookup({"seed": ["x.sql", "y/*.sql"]})
    assert resolve(tmp_path, lookup({}), ini, {}).seed == ("x.sql", "y/*.sql")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DBSNAP_KEEP", "maybe", "DBSNAP_KEEP='maybe' is not a boolean: use one of 1, true"),
        ("DBSNAP_STARTUP_TIMEOUT", "soon", "is not a number of seconds"),
        ("DBSNAP_STARTUP_TIMEOUT", "-3", "use a positive number"),
        ("DBSNAP_IMAGE", "", "dbsnap_image is empty"),
        ("DBSNAP_SEED", "'unclosed", "cannot split"),
        (
            "DBSNAP_SCOPE",
            "session",
            "DBSNAP_SCOPE='session' is not valid: use one of function, module",
        ),
        ("DBSNAP_POOL_SIZE", "0", "is not a count: use a whole number, 1 or more"),
    ],
)
def test_bad_values_name_the_setting(tmp_path: Path, name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        resolve(tmp_path, lookup({}), lookup({}), {name: value})
    assert "\n" not in str(info.value)


def test_project_is_sanitised_for_a_docker_tag(tmp_path: Path) -> None:
    settings = resolve(tmp_path, lookup({"project": "My Shop/API"}), lookup({}), {})
    assert settings.project == "my-shop-api"


def test_every_setting_has_three_spellings() -> None:
    for setting in SETTINGS:
        assert setting.ini == f"dbsnap_{setting.name}"
        assert setting.flag.startswith("--dbsnap-")
        assert setting.env == f"DBSNAP_{setting.name.upper()}"


def test_readme_documents_every_setting() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for setting in SETTINGS:
        assert f"`{setting.ini}`" in readme, setting.ini
