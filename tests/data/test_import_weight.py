"""The data package stays light: serving imports it and must not pull in heavy libraries."""

import subprocess
import sys

from tests.conftest import REPO_ROOT

HEAVY = ("pandas", "pyarrow", "datasets", "torch", "sklearn")


def test_importing_the_data_package_loads_no_heavy_library() -> None:
    code = (
        "import sys\n"
        "import data.schema, data.mapping, data.loaders, data.readers, data.validation\n"
        "import data.fingerprint, data.splits, data.demo\n"
        f"print(sorted(name for name in {HEAVY!r} if name in sys.modules))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert completed.stdout.strip() == "[]"
