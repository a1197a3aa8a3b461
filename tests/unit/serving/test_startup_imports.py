"""Start-up imports only what the first JSON request needs (issue 15).

Run in a fresh interpreter: the test process has long imported pyarrow.
"""

from __future__ import annotations

import json
import subprocess
import sys

_PROBE = """
import json, sys
import glmops.serving.app
from glmops._arrow import pa
before = sorted(m for m in sys.modules if m.split(".")[0] == "pyarrow")
pa.float64()
after = "pyarrow" in sys.modules
print(json.dumps({"before": before, "after": after}))
"""


def test_importing_the_serving_app_does_not_import_pyarrow():
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True, timeout=120
    )
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["before"] == []
    assert found["after"] is True  # the accessor imports it at the first use
