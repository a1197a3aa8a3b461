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


_SCORE_ONE = """
import json, sys
from glmops.model import load_model
from glmops.serving.host import example_record, warm
from glmops.serving.inference import Policy, parse_payload, score_rows
model = load_model(sys.argv[1])
warm(model)
record = example_record(model)
scored = score_rows(model, parse_payload({"instances": [record]}, Policy()), Policy())
print(json.dumps({"n": len(scored.decision), "pyarrow": "pyarrow" in sys.modules}))
"""


def test_loading_warming_and_scoring_a_record_do_not_import_pyarrow(tmp_path):
    from tests.unit.registry.conftest import train_artifact

    artifact = train_artifact(tmp_path, 1)
    out = subprocess.run(
        [sys.executable, "-c", _SCORE_ONE, str(artifact)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found == {"n": 1, "pyarrow": False}
