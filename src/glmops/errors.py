"""The glmops exception tree.

Every error glmops raises on purpose is a :class:`GlmopsError`; the ones about
bad input also subclass the builtin, so ``except ValueError`` keeps working::

    GlmopsError
      InvalidInputError(ValueError)   data / schema / payload: .field .expected .got
      ConfigError(ValueError)         .path like models[0].cv.n_folds
      SchemaValidationError(InvalidInputError)   .violations: every problem of a frame
        ScoreOverflowError            .rows: rows whose linear score is not finite
      ArtifactError                   .path: the artifact file at fault
        ChecksumMismatch              a file's SHA-256 differs from MANIFEST.json
        UnsupportedFormatVersion      written by an unknown artifact format
        DecryptionError               wrong or missing GLMOPS_ARTIFACT_KEY
        SignatureError                unsigned, untrusted or wrongly signed artifact
      RegistryError                   a registry operation cannot be done; nothing changed
        ModelNotFound(KeyError)       unknown model, version or alias
        AliasConflict                 alias to a version of another model, archived version ...
        GateFailed                    promotion blocked by its gates (.results)
        PermissionDenied              the actor lacks the role
        RegistryUnavailable           database unreachable or locked after retries
      MissingExtraError(ImportError)  a feature needs an optional extra: .extra .feature
    ConvergenceWarning(sklearn.exceptions.ConvergenceWarning)

Later layers (artifact, registry, serving) extend this tree here, in one place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "AliasConflict",
    "ArtifactError",
    "ChecksumMismatch",
    "ConfigError",
    "ConvergenceWarning",
    "DataLeakageWarning",
    "DecryptionError",
    "GateFailed",
    "GlmopsError",
    "InvalidInputError",
    "MissingExtraError",
    "ModelNotFound",
    "PermissionDenied",
    "RegistryError",
    "RegistryUnavailable",
    "SchemaValidationError",
    "ScoreOverflowError",
    "SignatureError",
    "UnsupportedFormatVersion",
]


class GlmopsError(Exception):
    """Base class of every error raised by glmops on purpose."""


class InvalidInputError(GlmopsError, ValueError):
    """Input data or parameters are not what the function accepts.

    Carries the offending ``field``, what was ``expected`` and what it ``got``,
    so services can turn it into one structured entry per field.
    """

    def __init__(self, message: str, *, field: str, expected: str, got: Any = None) -> None:
        super().__init__(message)
        self.field = field
        self.expected = expected
        self.got = got


class ConfigError(GlmopsError, ValueError):
    """A configuration value is invalid; ``path`` locates it (``models[0].cv``)."""

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.path = path


class SchemaValidationError(InvalidInputError):
    """A frame breaks its feature manifest; ``violations`` lists every problem.

    Each violation is a mapping with ``column``, ``kind``, ``expected``,
    ``n_rows`` and ``example``; the message summarises all of them.
    """

    def __init__(self, message: str, *, violations: list[dict[str, Any]]) -> None:
        first = violations[0] if violations else {}
        super().__init__(
            message,
            field=str(first.get("column", "")),
            expected=str(first.get("expected", "")),
            got=first.get("example"),
        )
        self.violations = violations


class ScoreOverflowError(SchemaValidationError):
    """Rows whose linear score is not finite: finite inputs far outside the training
    range (1e308 times a coefficient). ``rows`` numbers them; they are never scored."""

    def __init__(self, message: str, *, violations: list[dict[str, Any]], rows: list[int]) -> None:
        super().__init__(message, violations=violations)
        self.rows = rows


class ArtifactError(GlmopsError):
    """A model artifact cannot be written or read; ``path`` names the file at fault."""

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.path = path


class ChecksumMismatch(ArtifactError):  # noqa: N818 (name fixed by STYLE.md section 6)
    """A file of an artifact does not match the SHA-256 recorded in its manifest."""


class UnsupportedFormatVersion(ArtifactError):  # noqa: N818 (STYLE.md section 6)
    """The artifact was written in a format version this glmops cannot read."""


class DecryptionError(ArtifactError):
    """An encrypted artifact cannot be opened: the key is missing or wrong."""


class SignatureError(ArtifactError):
    """An artifact's signature is missing where required, untrusted, or does not match."""


class DataLeakageWarning(UserWarning):
    """A feature looks like the target (identical or a perfect predictor)."""


class RegistryError(GlmopsError):
    """A registry operation cannot be done; the registry is left unchanged."""


class ModelNotFound(RegistryError, KeyError):  # noqa: N818 (name fixed by STYLE.md section 6)
    """No such model, version or alias."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class AliasConflict(RegistryError):  # noqa: N818 (STYLE.md section 6)
    """The alias or state change conflicts with the registry's rules."""


class GateFailed(RegistryError):  # noqa: N818 (STYLE.md section 6)
    """A promotion failed its gates; ``results`` holds one row per rule."""

    def __init__(self, message: str, *, results: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.results = results


class PermissionDenied(RegistryError):  # noqa: N818 (STYLE.md section 6)
    """The actor does not hold the role the operation needs."""


class RegistryUnavailable(RegistryError):  # noqa: N818 (STYLE.md section 6)
    """The registry database or artifact store could not be reached (or stayed
    locked) after retries."""


class MissingExtraError(GlmopsError, ImportError):
    """A feature needs an optional extra that is not installed.

    ``extra`` names it (``serve``, ``postgres``, ``report``, ``s3``) and
    ``feature`` says what asked for it; the message gives the pip command.
    """

    def __init__(self, message: str, *, extra: str, feature: str) -> None:
        super().__init__(message)
        self.extra = extra
        self.feature = feature


if TYPE_CHECKING:
    from sklearn.exceptions import ConvergenceWarning as _SklearnConvergenceWarning

    class ConvergenceWarning(_SklearnConvergenceWarning):  # type: ignore[misc]
        """A solver stopped before its certificate (duality gap) reached ``tol``."""


def __getattr__(name: str) -> Any:
    # ConvergenceWarning subclasses scikit-learn's (so ``except`` clauses written for
    # scikit-learn keep working), but importing scikit-learn costs ~1-2 s: the class
    # is created on first use, so ``import glmops`` and model loading stay light.
    if name == "ConvergenceWarning":
        from sklearn.exceptions import ConvergenceWarning as _SklearnConvergenceWarning

        class ConvergenceWarning(_SklearnConvergenceWarning):  # type: ignore[misc]
            """A solver stopped before its certificate (duality gap) reached ``tol``."""

        ConvergenceWarning.__module__ = __name__
        ConvergenceWarning.__qualname__ = "ConvergenceWarning"
        globals()["ConvergenceWarning"] = ConvergenceWarning
        return ConvergenceWarning
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
