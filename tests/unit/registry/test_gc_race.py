"""gc never removes an artifact that a registration reused after gc listed it."""

from __future__ import annotations

import os
import time

from glmops.registry import Registry


def test_a_reregistration_between_listing_and_removal_keeps_its_artifact(
    db_url, tmp_path, artifacts
):
    reg = Registry(db_url, tmp_path / "store", actor="alice")
    try:
        # an interrupted registration long ago: stored, no version row
        digest, path = reg.store.put(artifacts[0])
        old = time.time() - 7200
        os.utime(path, (old, old))
        listed = reg.store.digests

        def listing_then_a_registration():
            yield from listed()
            # gc has its list of orphans; now someone registers the same artifact
            reg.register("churn", artifacts[0])

        reg.store.digests = listing_then_a_registration  # type: ignore[method-assign]
        reg.gc()
        assert reg.resolve("churn@1").digest == digest
        assert reg.verify() == []
        assert reg.load("churn@1").digest == digest
    finally:
        reg.close()


def test_an_old_orphan_is_still_collected(db_url, tmp_path, artifacts):
    with Registry(db_url, tmp_path / "store", actor="alice") as reg:
        digest, path = reg.store.put(artifacts[0])
        old = time.time() - 7200
        os.utime(path, (old, old))
        assert reg.gc(dry_run=True) == [digest]
        assert reg.gc() == [digest]
        assert list(reg.store.digests()) == []
