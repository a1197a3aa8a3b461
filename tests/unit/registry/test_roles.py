"""One role vocabulary: what each role may do, the same for HTTP tokens and registry actors."""

from __future__ import annotations

import pytest

from glmops.errors import InvalidInputError, PermissionDenied
from glmops.registry.auth import OPERATIONS, ROLES, AccessPolicy, allowed, normalize_roles
from glmops.serving.auth import TokenTable, hash_token

EXPECTED = {
    # operation: roles that may (admin added where it applies)
    "predict": {"predict", "admin"},
    "read": {"read", "trainer", "approver", "breakglass", "admin"},
    "feedback": {"feedback", "admin"},
    "register": {"trainer", "admin"},
    "alias": {"trainer", "approver", "admin"},
    "approve": {"approver", "admin"},
    "promote": {"approver", "admin"},
    "rollback": {"approver", "admin"},
    "archive": {"admin"},
    "gc": {"admin"},
    "force": {"breakglass"},
}


@pytest.mark.parametrize("operation", sorted(EXPECTED))
@pytest.mark.parametrize("role", ROLES)
def test_each_role_may_do_exactly_its_operations(role, operation):
    assert allowed({role}, operation) == (role in EXPECTED[operation])


def test_the_table_covers_every_operation():
    assert set(OPERATIONS) == set(EXPECTED)


def test_admin_cannot_force_past_failed_gates():
    assert not allowed({"admin"}, "force")


def test_a_predict_token_cannot_touch_the_registry():
    token = "t-predict"
    table = TokenTable([(hash_token(token), "svc", ["predict"])])
    caller = table.caller(f"Bearer {token}")
    assert caller is not None
    assert caller.may("predict")
    for operation in ("read", "register", "alias", "promote", "approve", "archive", "force"):
        assert not caller.may(operation), operation


def test_legacy_reader_means_read_and_unknown_roles_are_refused():
    assert normalize_roles(["reader"], "x") == {"read"}
    policy = AccessPolicy.from_mapping({"dave": ["reader"]})
    policy.check("dave", "read")
    with pytest.raises(PermissionDenied, match="may not register"):
        policy.check("dave", "register")
    with pytest.raises(InvalidInputError, match=r"registry\.roles\.eve") as info:
        AccessPolicy.from_mapping({"eve": ["root"]})
    assert info.value.field == "registry.roles.eve"


def test_single_user_mode_may_do_everything():
    policy = AccessPolicy.from_mapping(None)
    assert policy.is_single_user
    for operation in OPERATIONS:
        policy.check("me", operation)
