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
    assert settings.project.startswith(tmp_path.name.lower() + "-")


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


@pytest.mark.parametrize(
    ("folder", "project"),
    [("My Shop", "my-shop"), ("api..v2", "api-v2"), ("._x", "x"), ("__", "project")],
)
def test_the_default_project_is_the_rootdir_made_valid(
    tmp_path: Path, folder: str, project: str
) -> None:
    rootdir = tmp_path / folder
    name, _, where = resolve(rootdir, lookup({}), lookup({}), {}).project.rpartition("-")
    assert name == project
    assert len(where) == 6


def test_two_folders_of_one_name_are_two_projects(tmp_path: Path) -> None:
    """Two repositories called ``backend`` on one daemon never prune each other's."""
    first = resolve(tmp_path / "a" / "backend", lookup({}), lookup({}), {}).project
    second = resolve(tmp_path / "b" / "backend", lookup({}), lookup({}), {}).project
    again = resolve(tmp_path / "a" / "backend", lookup({}), lookup({}), {}).project
    assert first.startswith("backend-")
    assert second.startswith("backend-")
    assert first != second
    assert first == again


@pytest.mark.parametrize("name", ["My Shop/API", "a..b", "a._b", "-a", "a-", "x" * 101])
def test_a_project_name_docker_rejects_is_an_error(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError, match=r"dbsnap_project=.* is not a name Docker accepts"):
        resolve(tmp_path, lookup({"project": name}), lookup({}), {})


def test_a_valid_project_name_is_kept_in_lower_case(tmp_path: Path) -> None:
    settings = resolve(tmp_path, lookup({}), lookup({"project": "Shop_API.v2__x--y"}), {})
    assert settings.project == "shop_api.v2__x--y"


def test_native_toml_values(tmp_path: Path) -> None:
    """pytest 9's [tool.pytest] table gives ints, floats, bools, strings and lists."""
    ini = lookup(
        {
            "pool_size": 3,
            "startup_timeout": 7.5,
            "lock_timeout": 30,
            "push": False,
            "keep": True,
            "seed": "a.sql",
            "watch": ["m/*.py", "n.py"],
            "image": "postgres:17",
        }
    )
    settings = resolve(tmp_path, lookup({}), ini, {})
    assert settings.pool_size == 3
    assert settings.startup_timeout == 7.5
    assert settings.lock_timeout == 30
    assert (settings.push, settings.keep) == (False, True)
    assert settings.seed == ("a.sql",)
    assert settings.watch == ("m/*.py", "n.py")
    assert settings.given >= {"pool_size", "seed", "push"}


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("pool_size", True, "dbsnap_pool_size=True is a boolean: use a whole number"),
        ("keep", 1, "dbsnap_keep=1 is a number: use one of 1, true"),
        ("pool_size", 2.5, "dbsnap_pool_size='2.5' is not a count"),
        ("seed", 3, "dbsnap_seed=3 is not a list"),
        ("seed", ["a.sql", 2], "is not a list of strings"),
        ("scope", ["module"], "is a list: give one value"),
    ],
)
def test_native_toml_values_of_the_wrong_type(
    tmp_path: Path, name: str, value: object, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve(tmp_path, lookup({}), lookup({name: value}), {})


def test_every_setting_has_three_spellings() -> None:
    for setting in SETTINGS:
        assert setting.ini == f"dbsnap_{setting.name}"
        assert setting.flag.startswith("--dbsnap-")
        assert setting.env == f"DBSNAP_{setting.name.upper()}"


def test_readme_documents_every_setting() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for setting in SETTINGS:
        assert f"`{setting.ini}`" in readme, setting.ini
