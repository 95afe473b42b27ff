"""dbsnap_django: pytest-django projects unchanged, migrations run once, every transactional
test pristine without a flush. Real inner sessions with pytest-django at -n 2."""

from __future__ import annotations

import pytest

from .project import Project

pytest.importorskip("django")
pytest.importorskip("pytest_django")

SETTINGS = """
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "not-secret"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "shop"]
ROOT_URLCONF = "mysite.urls"
STATIC_URL = "/static/"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
# A developer's server that the tests must never reach.
DATABASES = {{
    "default": {{
        "ENGINE": "{engine}",
        "HOST": "dev-db.invalid",
        "NAME": "mysite",
        "USER": "dev",
        "PASSWORD": "dev",
    }},{extra}
}}
"""

URLS = """
from django.http import HttpResponse
from django.urls import path
from shop.models import Product

def products(request):
    return HttpResponse(str(Product.objects.count()))

urlpatterns = [path("products/", products)]
"""

MODELS = """
from django.db import models

class Product(models.Model):
    name = models.CharField(max_length=50)
"""

INITIAL = """
from django.db import migrations, models

class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Product",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
                ("name", models.CharField(max_length=50)),
            ],
        ),
    ]
"""

# The data migration counts its runs in a file beside the project.
SEED = """
from pathlib import Path
from django.db import migrations

def seed(apps, schema_editor):
    with open(Path(__file__).resolve().parents[2] / "migrations-run.txt", "a") as f:
        f.write("run\\n")
    Product = apps.get_model("shop", "Product")
    Product.objects.bulk_create([Product(name=f"seeded {i}") for i in range(1, 6)])

class Migration(migrations.Migration):
    dependencies = [("shop", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
"""

TESTS = """
import urllib.request
import pytest
from shop.models import Product

SEEDED = [f"seeded {i}" for i in range(1, 6)]

def names():
    return list(Product.objects.order_by("id").values_list("name", flat=True))

@pytest.mark.parametrize("n", range(3))
@pytest.mark.django_db(transaction=True)
def test_transactional_delete_and_commit(n):
    assert names() == SEEDED
    Product.objects.all().delete()
    # The sequence is where the migrations left it: the first new row is 6.
    assert Product.objects.create(name="new").id == 6

@pytest.mark.parametrize("n", range(3))
@pytest.mark.django_db
def test_rolled_back(n):
    assert names() == SEEDED
    Product.objects.filter(name="seeded 1").delete()
    Product.objects.create(name="rolled back")

@pytest.mark.parametrize("n", range(2))
def test_reset_sequences(n, django_db_reset_sequences):
    assert names() == SEEDED
    assert Product.objects.create(name="new").id == 6

def test_live_server_sees_the_pristine_data(live_server):
    Product.objects.create(name="committed for the server")
    with urllib.request.urlopen(f"{live_server.url}/products/") as response:
        assert response.read() == b"6"

def test_serialized_rollback(django_db_serialized_rollback):
    assert names() == SEEDED
    Product.objects.all().delete()

@pytest.mark.django_db
def test_never_reaches_the_dev_server():
    from django.db import connection
    assert connection.settings_dict["HOST"] != "dev-db.invalid"
    assert names() == SEEDED
"""


def django_project(
    project: Project, *, engine: str = "django.db.backends.postgresql", extra: str = ""
) -> None:
    project.write("mysite/__init__.py", "")
    project.write("mysite/settings.py", SETTINGS.format(engine=engine, extra=extra))
    project.write("mysite/urls.py", URLS)
    project.write("shop/__init__.py", "")
    project.write("shop/models.py", MODELS)
    project.write("shop/migrations/__init__.py", "")
    project.write("shop/migrations/0001_initial.py", INITIAL)
    project.write("shop/migrations/0002_seed.py", SEED)
    project.ini(django="true")
    with open(project.path / "pytest.ini", "a") as ini:
        ini.write("DJANGO_SETTINGS_MODULE = mysite.settings\npythonpath = .\n")


def migrations_run(project: Project) -> int:
    counter = project.path / "migrations-run.txt"
    return len(counter.read_text().split()) if counter.exists() else 0


def test_migrations_run_once_and_every_transactional_test_starts_pristine(
    project: Project,
) -> None:
    django_project(project)
    project.write("tests/test_shop.py", TESTS)
    for args in (["-n", "2"], ["-n", "2", "--create-db"], ["-p", "no:xdist", "--reuse-db"]):
        result = project.run(*args, "-p", "no:randomly")
        result.assert_outcomes(passed=11)
    assert migrations_run(project) == 1

    # A new migration: built again, once.
    project.write(
        "shop/migrations/0003_more.py",
        """
        from django.db import migrations

        class Migration(migrations.Migration):
            dependencies = [("shop", "0002_seed")]
            operations = [migrations.RunSQL("CREATE INDEX product_name ON shop_product (name)")]
        """,
    )
    project.run("-n", "2").assert_outcomes(passed=11)
    project.run("-n", "2").assert_outcomes(passed=11)
    assert migrations_run(project) == 2


def test_a_migration_that_raises_names_itself(project: Project) -> None:
    django_project(project)
    project.write(
        "shop/migrations/0003_broken.py",
        """
        from django.db import migrations

        def broken(apps, schema_editor):
            raise ValueError("no such price list")

        class Migration(migrations.Migration):
            dependencies = [("shop", "0002_seed")]
            operations = [migrations.RunPython(broken)]
        """,
    )
    project.write(
        "tests/test_shop.py", "def test_db(db):\n    pass\n\ndef test_plain():\n    pass\n"
    )
    result = project.run("-n", "2")
    project.assert_database_error(
        result,
        "Django migration shop.0003_broken raised ValueError: no such price list; fix it and "
        "run again",
        passed=1,
    )
    assert project.images() == []


@pytest.mark.parametrize(
    ("engine", "extra", "message"),
    [
        (
            "django.db.backends.sqlite3",
            "",
            "ERROR: dbsnap_django works with PostgreSQL, and DATABASES['default'] has ENGINE "
            "'django.db.backends.sqlite3'; use django.db.backends.postgresql",
        ),
        (
            "django.db.backends.postgresql",
            '\n    "reports": {"ENGINE": "django.db.backends.postgresql", "NAME": "reports"},',
            "ERROR: dbsnap_django supports one database, 'default', and aliases that mirror it "
            "(TEST: {'MIRROR': 'default'}); DATABASES also has 'reports'",
        ),
    ],
    ids=["sqlite", "second-database"],
)
def test_unsupported_databases_are_usage_errors(
    project: Project, engine: str, extra: str, message: str
) -> None:
    django_project(project, engine=engine, extra=extra)
    project.write("tests/test_shop.py", "def test_plain():\n    pass\n")
    result = project.run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert any(line.startswith(message) for line in result.errlines), result.stderr.str()


def test_a_mirror_alias_follows_the_default(project: Project) -> None:
    mirror = (
        '\n    "replica": {"ENGINE": "django.db.backends.postgresql", "NAME": "replica", '
        '"TEST": {"MIRROR": "default"}},'
    )
    django_project(project, extra=mirror)
    project.write(
        "tests/test_shop.py",
        """
        import pytest
        from shop.models import Product

        @pytest.mark.django_db(transaction=True, databases=["default", "replica"])
        def test_replica_reads_the_same(db):
            assert Product.objects.using("replica").count() == 5
        """,
    )
    project.run("-p", "no:xdist").assert_outcomes(passed=1)


UNITTEST_CLASSES = """
from django.test import TestCase, TransactionTestCase
from shop.models import Product

class Transactional(TransactionTestCase):
    def test_1_deletes_and_commits(self):
        self.assertEqual(Product.objects.count(), 6)
        Product.objects.all().delete()

    def test_2_finds_the_migrations_and_the_sql_seed(self):
        self.assertEqual(Product.objects.count(), 6)
        self.assertEqual(Product.objects.create(name="new").id, 7)

class RolledBack(TestCase):
    def test_sees_the_sql_seed(self):
        self.assertTrue(Product.objects.filter(name="from SQL").exists())
"""


def test_django_test_classes_and_a_sql_seed_after_the_migrations(project: Project) -> None:
    """Django's own TransactionTestCase gets a pristine copy each test too, and
    dbsnap_seed runs after migrate (its row takes the sequence's next id)."""
    django_project(project)
    project.write("db/extra.sql", "INSERT INTO shop_product (name) VALUES ('from SQL');\n")
    with open(project.path / "pytest.ini", "a") as ini:
        ini.write("dbsnap_seed = db/extra.sql\n")
    project.write("tests/test_classes.py", UNITTEST_CLASSES)
    project.run("-n", "2", "--dist", "loadfile", "-p", "no:randomly").assert_outcomes(passed=3)
    project.run("-p", "no:xdist", "-p", "no:randomly").assert_outcomes(passed=3)
    assert migrations_run(project) == 1
