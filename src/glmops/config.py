"""The one ``glmops.yaml``: validated once, with errors that name the field path.

Load it with :func:`load_config`; ``GLMOPS_*`` environment variables override
any value, nested keys joined by ``__`` (``GLMOPS_MODELS__CREDIT__SEED=7``).
Errors become :class:`~glmops.errors.ConfigError` with a path such as
``models.churn.cv.l1_ratio[2]`` and, for unknown keys, the closest valid name.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from types import UnionType
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from glmops._redact import redact, redact_text, redact_url, summarize
from glmops.data.spec import FeatureSpec, PreprocessingDefaults
from glmops.errors import ConfigError
from glmops.registry.gates import GateRule

if TYPE_CHECKING:
    from glmops.registry.registry import Registry

__all__ = [
    "CVConfig",
    "DataSource",
    "GlmopsConfig",
    "ModelConfig",
    "PredictionLogConfig",
    "RegistryConfig",
    "RouteConfig",
    "ServingConfig",
    "SplitConfig",
    "ThresholdConfig",
    "TokenConfig",
    "config_hash",
    "load_config",
    "open_registry",
    "parse_config",
    "registry_env_overrides",
    "registry_url",
]

logger = logging.getLogger(__name__)

ENV_PREFIX = "GLMOPS_"
_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$"


def _unit_interval(value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"must be in [0, 1], got {value!r}")
    return value


UnitFloat = Annotated[float, AfterValidator(_unit_interval)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataSource(_Strict):
    """Where the training rows are: a file, or a SQL query on a database URL."""

    path: str | None = None
    url: str | None = None
    query: str | None = None
    weight: str | None = Field(None, description="column of sample weights")

    @model_validator(mode="after")
    def _one_source(self) -> DataSource:
        if (self.path is None) == (self.url is None):
            raise ValueError("give exactly one of 'path' (CSV/Parquet file) or 'url' (database)")
        if self.url is not None and not self.query:
            raise ValueError("a database 'url' needs a 'query'")
        return self


class SplitConfig(_Strict):
    """How the holdout set is cut from the data."""

    # None: stratified for classification, random for regression
    method: Literal["random", "stratified", "time", "group"] | None = None
    test_size: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.2
    time_column: str | None = None
    group_column: str | None = None

    @model_validator(mode="after")
    def _columns(self) -> SplitConfig:
        if self.method == "time" and not self.time_column:
            raise ValueError("method 'time' needs a 'time_column'")
        if self.method == "group" and not self.group_column:
            raise ValueError("method 'group' needs a 'group_column'")
        return self


class CVConfig(_Strict):
    """The cross-validation grid over alpha x l1_ratio."""

    n_folds: Annotated[int, Field(ge=2, le=100)] = 5
    l1_ratio: list[UnitFloat] = Field(default_factory=lambda: [0.1, 0.5, 0.9, 1.0], min_length=1)
    n_alphas: Annotated[int, Field(ge=1, le=1000)] = 50
    eps: Annotated[float, Field(gt=0.0, lt=1.0)] = 1e-3
    alphas: list[Annotated[float, Field(gt=0.0)]] | None = None
    selection: Literal["min", "1se"] = "min"
    scoring: str | None = None
    # None: the estimator's own default (its certified relative precision)
    tol: Annotated[float, Field(gt=0.0)] | None = None


class ThresholdConfig(_Strict):
    """How the decision threshold of a binary model is chosen."""

    policy: Literal["fixed", "max_f1", "target_precision", "target_recall", "min_cost"] = "max_f1"
    value: UnitFloat = 0.5
    target: Annotated[float, Field(gt=0.0)] | None = None

    @model_validator(mode="after")
    def _target(self) -> ThresholdConfig:
        needs = self.policy in ("target_precision", "target_recall", "min_cost")
        if needs and self.target is None:
            raise ValueError(f"policy {self.policy!r} needs a 'target'")
        if self.policy in ("target_precision", "target_recall") and self.target is not None:
            _unit_interval(self.target)
        return self


class ModelConfig(_Strict):
    """One model to train: data, target, task, features, and how to fit and judge it."""

    data: DataSource
    target: str
    task: Literal["regression", "binary", "multinomial"]
    positive_class: str | int | bool | None = None
    features: dict[str, FeatureSpec] | None = None
    exclude: list[str] = Field(default_factory=list)
    preprocessing: PreprocessingDefaults = PreprocessingDefaults()
    split: SplitConfig = SplitConfig()
    cv: CVConfig = CVConfig()
    class_weight: Literal["balanced"] | dict[str, Annotated[float, Field(gt=0.0)]] | None = None
    threshold: ThresholdConfig = ThresholdConfig()
    calibration: Literal["platt", "isotonic"] | None = None
    metrics: list[str] = Field(default_factory=list)
    gates: list[GateRule] = Field(default_factory=list)
    bootstrap: Annotated[int, Field(ge=0, le=1000)] = 0
    seed: Annotated[int, Field(ge=0)] = 0
    n_jobs: Annotated[int, Field(ge=1)] | None = None
    description: str = ""
    intended_use: str = ""

    @field_validator("features", mode="before")
    @classmethod
    def _none_specs(cls, value: Any) -> Any:
        # ``Income:`` with nothing after it in YAML means "defaults"
        if isinstance(value, Mapping):
            return {k: ({} if v is None else v) for k, v in value.items()}
        if isinstance(value, list):
            return {str(k): {} for k in value}
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ModelConfig:
        if self.task == "regression" and self.split.method == "stratified":
            raise ValueError("split.method 'stratified' needs a classification task")
        if self.features and self.target in self.features:
            raise ValueError(f"the target {self.target!r} cannot also be a feature")
        if self.calibration is not None and self.task == "regression":
            raise ValueError("calibration applies to classification tasks only")
        return self


RoleName = Literal[
    "predict", "read", "feedback", "trainer", "approver", "breakglass", "admin", "reader"
]


class RegistryConfig(_Strict):
    """Where versions are recorded and artifacts stored, and who may do what.

    ``url`` and ``artifact_root`` are overridden by ``GLMOPS_REGISTRY_URL`` and
    ``GLMOPS_ARTIFACT_ROOT`` (precedence: explicit argument > environment >
    this file > default; a disagreement is warned about, see
    :func:`registry_env_overrides`).
    """

    url: str = "sqlite:///./glmops.db"
    artifact_root: str = "glmops-artifacts"  # a directory, or any fsspec URL (s3://...)
    artifact_options: dict[str, Any] = Field(default_factory=dict)  # fsspec storage options
    # actor -> roles (glmops.registry.auth.ROLES; "reader" is the old name of "read");
    # None: single-user mode, the local user may do everything
    roles: dict[str, list[RoleName]] | None = None
    # live aliases (champion, canary > 0) need a second person's approval;
    # None: on whenever roles are configured, off in single-user mode
    require_approval: bool | None = None
    # apply pending schema migrations on start; off: an old schema is refused with a message
    migrate: bool = False
    # register only artifacts signed by a trusted key (GLMOPS_TRUSTED_KEYS or trusted_keys)
    require_signature: bool = False
    trusted_keys: list[str] = Field(default_factory=list)  # ed25519:<public key>, not secret


class TokenConfig(_Strict):
    """One bearer token of the serving API: its SHA-256, who it is, what it may do."""

    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    actor: Annotated[str, Field(min_length=1, max_length=128)]
    roles: list[RoleName] = Field(min_length=1)


class PredictionLogConfig(_Strict):
    """The prediction log: Parquet files by model, version and day (see glmops.monitoring.logstore),
    written by a background thread off the request path.

    ``policy`` says what happens when the log cannot keep up: ``block`` (default)
    makes the request wait up to ``max_wait_s`` for room, then answers 503 with
    ``Retry-After`` without answering it, so every answered prediction is logged;
    ``drop`` answers anyway and counts the rows it could not keep; ``sample``
    logs the requests a keyed hash of the request id picks at ``sample_rate``
    (each row records the rate) and backpressures those like ``block``.
    """

    enabled: bool = True
    path: str = "prediction-log"  # a directory (relative to the config file) or fsspec URL
    storage_options: dict[str, Any] = Field(default_factory=dict)  # fsspec options
    policy: Literal["block", "drop", "sample"] = "block"
    max_wait_s: float = Field(default=1.0, ge=0, le=60)  # block: longest wait for room
    sample_rate: float = Field(default=1.0, gt=0, le=1)  # sample: share of requests logged
    queue_size: int = Field(default=200_000, ge=1)  # rows held in memory at most
    queue_bytes: int = Field(default=256 * 1024**2, ge=1)  # bytes held in memory at most
    rows_per_file: int = Field(default=100_000, ge=1)
    flush_interval_s: float = Field(default=10.0, gt=0)  # a version's rows reach a file
    hash_fields: list[str] = Field(default_factory=list)  # PII: stored as a keyed hash
    drop_fields: list[str] = Field(default_factory=list)  # PII: never stored

    @model_validator(mode="after")
    def _file_fits_queue(self) -> PredictionLogConfig:
        if self.rows_per_file > self.queue_size:
            raise ValueError(
                f"rows_per_file ({self.rows_per_file}) must be at most queue_size "
                f"({self.queue_size}): a file's rows wait in memory"
            )
        if self.sample_rate < 1.0 and self.policy != "sample":
            raise ValueError(
                f"sample_rate ({self.sample_rate}) applies to policy 'sample' only: set "
                f"policy: sample, or remove sample_rate (policy is {self.policy!r})"
            )
        return self


class RouteConfig(_Strict):
    """Per served model: the field whose value keeps an entity on one canary arm."""

    entity_key: str | None = None


class ServingConfig(_Strict):
    """``glmops serve``: which models, limits, validation policy, auth, prediction log.

    Deny by default: ``auth: tokens`` needs at least one token; ``auth: disabled``
    must be said explicitly and binds only to loopback (``glmops serve --insecure``
    overrides that). ``metrics_auth: none`` lets a Prometheus scrape on a private
    network read ``/metrics`` without a token (default: a token with ``read``).
    """

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    models: list[str] = Field(default_factory=list)  # empty: every model with a champion
    routes: dict[str, RouteConfig] = Field(default_factory=dict)
    entity_key_header: str = "X-Entity-Key"
    auth: Literal["tokens", "disabled"] = "tokens"
    tokens: list[TokenConfig] = Field(default_factory=list)
    metrics_auth: Literal["token", "none"] = "token"
    max_body_bytes: int = Field(default=8 * 1024**2, ge=1024)
    max_upload_bytes: int = Field(default=256 * 1024**2, ge=1024)  # POST .../versions (zip)
    max_rows: int = Field(default=10_000, ge=1)
    max_string_chars: int = Field(default=1_024, ge=16)  # per text value and field name
    pinned_cache_size: int = Field(default=8, ge=1)  # explicit versions kept loaded (LRU)
    unexpected_fields: Literal["reject", "count"] = "reject"
    out_of_range: Literal["accept", "reject"] = "accept"
    reload_interval_s: float = Field(default=2.0, gt=0)
    prediction_log: PredictionLogConfig = PredictionLogConfig()

    @model_validator(mode="after")
    def _auth_needs_tokens(self) -> ServingConfig:
        if self.auth == "tokens" and not self.tokens:
            raise ValueError(
                "auth is 'tokens' but no tokens are configured: add serving.tokens "
                "(sha256, actor, roles) or set serving.auth: disabled explicitly"
            )
        return self


class GlmopsConfig(_Strict):
    """The whole ``glmops.yaml``."""

    version: Literal[1] = 1
    output_dir: str = "artifacts"
    registry: RegistryConfig = RegistryConfig()
    serving: ServingConfig | None = None  # required by `glmops serve` only
    models: dict[str, ModelConfig] = Field(min_length=1)
    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)

    @property
    def base_dir(self) -> Path:
        """Return the directory relative paths in this config are resolved against."""
        return self._base_dir

    def resolve(self, path: str) -> Path:
        """Return ``path`` resolved against :attr:`base_dir` (absolute paths unchanged)."""
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else (self._base_dir / candidate).resolve()

    def serving_config(self) -> ServingConfig:
        """Return the ``serving`` section, its prediction-log path resolved against
        :attr:`base_dir` like every path here.

        Raises ConfigError without a section: auth is on by default and there
        is no token to check against (deny by default, never silently open).
        """
        if self.serving is None:
            raise ConfigError(
                "The config has no serving section: serving needs bearer tokens by default. "
                "Add serving.tokens (sha256, actor, roles), or set serving.auth: disabled "
                "explicitly for local use.",
                path="serving",
            )
        serving = self.serving
        log = serving.prediction_log
        if "://" in log.path:
            return serving
        resolved = log.model_copy(update={"path": str(self.resolve(log.path))})
        return serving.model_copy(update={"prediction_log": resolved})

    @field_validator("models")
    @classmethod
    def _names(cls, value: dict[str, ModelConfig]) -> dict[str, ModelConfig]:
        import re

        for name in value:
            if not re.fullmatch(_NAME_PATTERN, name):
                raise ValueError(
                    f"model name {name!r} must start with a letter and use letters, digits, "
                    "'_', '-', '.' (at most 64)"
                )
        return value

    def model(self, name: str | None = None) -> tuple[str, ModelConfig]:
        """Return the named model's config (the only one when ``name`` is None)."""
        if name is None:
            if len(self.models) != 1:
                raise ConfigError(
                    f"The config defines {len(self.models)} models "
                    f"({', '.join(self.models)}); choose one with --model.",
                    path="models",
                )
            name = next(iter(self.models))
        if name not in self.models:
            hint = _suggest(name, list(self.models))
            raise ConfigError(
                f"models.{name}: no such model{hint}; defined: {', '.join(self.models)}.",
                path=f"models.{name}",
            )
        return name, self.models[name]


def _suggest(name: str, options: list[str]) -> str:
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _candidates(annotation: Any) -> list[Any]:
    """Return the types an annotation allows (through Optional, Union and Annotated)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _candidates(get_args(annotation)[0])
    if origin is Union or origin is UnionType:
        return [c for arg in get_args(annotation) for c in _candidates(arg)]
    return [annotation]


def _child(annotation: Any, part: Any) -> Any:
    """Return the annotation of ``part`` inside a value of type ``annotation``."""
    for cand in _candidates(annotation):
        if isinstance(cand, type) and issubclass(cand, BaseModel) and isinstance(part, str):
            field = cand.model_fields.get(part)
            if field is not None:
                return field.annotation
        origin, args = get_origin(cand), get_args(cand)
        if origin is dict and len(args) == 2:
            return args[1]
        if origin is list and args and isinstance(part, int):
            return args[0]
    return None


def _fields_at(loc: tuple[Any, ...]) -> list[str]:
    """Return the valid keys of the model that owns the last element of ``loc``."""
    annotation: Any = GlmopsConfig
    for part in loc[:-1]:
        annotation = _child(annotation, part)
        if annotation is None:
            return []
    for cand in _candidates(annotation):
        if isinstance(cand, type) and issubclass(cand, BaseModel):
            return list(cand.model_fields)
    return []


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _config_error(exc: ValidationError, source: str) -> ConfigError:
    lines = []
    first_path = ""
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        # drop pydantic's union-branch markers such as 'literal['balanced']'
        loc = tuple(p for p in loc if not (isinstance(p, str) and "[" in p and "]" in p))
        path = _format_loc(loc)
        first_path = first_path or path
        if err["type"] == "extra_forbidden":
            hint = _suggest(str(loc[-1]), _fields_at(loc))
            lines.append(f"{path}: unknown key{hint}")
            continue
        msg = str(err["msg"])
        for prefix in ("Value error, ", "Assertion failed, "):
            msg = msg.removeprefix(prefix)
        got = err.get("input")
        # the input may be a whole section holding a password: keys only, redacted
        got_text = "" if err["type"] == "missing" or "got" in msg else f", got {summarize(got)}"
        lines.append(f"{path}: {redact_text(msg)}{got_text}")
    unique = list(dict.fromkeys(lines))
    body = "\n  ".join(unique)
    where = f" {source}" if source else ""
    return ConfigError(f"Invalid config{where}:\n  {body}", path=first_path)


def _apply_env(raw: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """Return ``raw`` with ``GLMOPS_A__B__C=value`` overrides applied (values parsed as YAML)."""
    # only GLMOPS_<top-level key>__...: other GLMOPS_* variables (GLMOPS_ARTIFACT_KEY,
    # GLMOPS_REGISTRY_URL, GLMOPS_ACTOR, ...) configure other things
    top_level = set(GlmopsConfig.model_fields)
    for key, text in sorted(environ.items()):
        if not key.startswith(ENV_PREFIX):
            continue
        parts = [p for p in key[len(ENV_PREFIX) :].split("__") if p]
        if not parts or parts[0].lower() not in top_level:
            continue
        node: Any = raw
        for depth, part in enumerate(parts):
            match = _match_key(node, part)
            last = depth == len(parts) - 1
            if last:
                node[match] = yaml.safe_load(text) if text.strip() else text
            else:
                if not isinstance(node.get(match), dict):
                    node[match] = {}
                node = node[match]
    return raw


def _match_key(node: dict[str, Any], part: str) -> str:
    """Return the existing key of ``node`` equal to ``part`` ignoring case, else lower-case."""
    for existing in node:
        if str(existing).lower() == part.lower():
            return str(existing)
    return part.lower()


def parse_config(
    raw: Mapping[str, Any], *, source: str = "", environ: Mapping[str, str] | None = None
) -> GlmopsConfig:
    """Validate a config mapping (after ``GLMOPS_*`` overrides) into a :class:`GlmopsConfig`."""
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"Invalid config {source or ''}: expected a mapping at the top level, "
            f"got {type(raw).__name__}.",
            path="",
        )
    data = _apply_env(json.loads(json.dumps(raw, default=str)), environ or {})
    try:
        return GlmopsConfig.model_validate(data)
    except ValidationError as exc:
        raise _config_error(exc, source) from None


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses a key written twice in one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_config(path: str | Path, *, environ: Mapping[str, str] | None = None) -> GlmopsConfig:
    """Read, override from the environment, and validate ``glmops.yaml``.

    Relative paths in it (data, output) are resolved against the file's
    directory (:meth:`GlmopsConfig.resolve`); the config itself keeps them as
    written, so its hash does not depend on where the project lives.

    Parameters
    ----------
    path : str or Path
        The YAML file.
    environ : mapping, optional
        Environment to read ``GLMOPS_*`` overrides from (default ``os.environ``).

    Returns
    -------
    GlmopsConfig
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Config file {str(path)!r} does not exist.", path="")
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(
            f"Cannot parse {str(path)!r}{where}: {problem}",
            path=f"line {mark.line + 1}" if mark else "",
        ) from None
    if raw is None:
        raise ConfigError(f"Config file {str(path)!r} is empty.", path="")
    config = parse_config(
        raw, source=repr(str(path)), environ=os.environ if environ is None else environ
    )
    config._base_dir = path.resolve().parent
    return config


def registry_url(config: GlmopsConfig) -> str:
    """Return the registry URL with a relative SQLite path resolved against the config's dir."""
    url = config.registry.url
    prefix = "sqlite:///"
    if url.startswith(prefix):
        path = url[len(prefix) :].split("?", 1)
        if path[0] and path[0] != ":memory:" and not Path(path[0]).is_absolute():
            resolved = str(config.resolve(path[0]))
            return prefix + resolved + (f"?{path[1]}" if len(path) > 1 else "")
    return url


_REGISTRY_ENV = {"url": "GLMOPS_REGISTRY_URL", "artifact_root": "GLMOPS_ARTIFACT_ROOT"}


def registry_env_overrides(
    config: GlmopsConfig, environ: Mapping[str, str] | None = None
) -> tuple[dict[str, str], list[str]]:
    """Return the registry location after the environment, and a warning per disagreement.

    Precedence: ``GLMOPS_REGISTRY_URL`` / ``GLMOPS_ARTIFACT_ROOT`` > the
    config file (``registry.url`` / ``registry.artifact_root``, relative
    paths against the file's directory) > the defaults. An environment value
    that differs from one the file sets is used, and warned about (URLs
    redacted) rather than silently winning or losing.
    """
    environ = os.environ if environ is None else environ
    reg = config.registry
    root = reg.artifact_root
    chosen = {
        "url": registry_url(config),
        "artifact_root": root if "://" in root else str(config.resolve(root)),
    }
    warnings = []
    for key, variable in _REGISTRY_ENV.items():
        value = environ.get(variable)
        if not value:
            continue
        written = str(getattr(reg, key))
        if key in reg.model_fields_set and value not in (written, chosen[key]):
            warnings.append(
                f"{variable}={redact_url(value)} overrides registry.{key}: "
                f"{redact_url(written)} of the config file (the environment wins; unset "
                f"{variable} to use the file)."
            )
        chosen[key] = value
    return chosen, warnings


def open_registry(config: GlmopsConfig, *, actor: str | None = None) -> Registry:
    """Return the :class:`~glmops.registry.Registry` the config's ``registry`` section names.

    The location follows :func:`registry_env_overrides` (each disagreement
    is logged as a warning); migrations, signatures and approval come from
    the section, gates from each model.
    """
    from glmops.registry import Registry

    reg = config.registry
    where, warnings = registry_env_overrides(config)
    for warning in warnings:
        logger.warning("%s", warning)
    return Registry(
        where["url"],
        where["artifact_root"],
        actor=actor,
        roles=reg.roles,
        gates={name: m.gates for name, m in config.models.items()},
        require_approval=reg.require_approval,
        artifact_options=reg.artifact_options,
        migrate=reg.migrate,
        require_signature=reg.require_signature,
        trusted_keys=reg.trusted_keys,
    )


def config_hash(model: ModelConfig) -> str:
    """Return the SHA-256 of a model config's canonical JSON (paths as given, secrets masked).

    The hash is recorded in the artifact: hashing a password would let anyone
    holding the artifact test guesses offline, so secrets are masked first.
    """
    text = json.dumps(redact(model.model_dump(mode="json")), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
