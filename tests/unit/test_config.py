"""``glmops.yaml``: validation, error paths and hints, environment overrides, hashing."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from glmops.config import GlmopsConfig, config_hash, load_config, parse_config
from glmops.errors import ConfigError


def _model(**overrides: Any) -> dict[str, Any]:
    model: dict[str, Any] = {
        "data": {"path": "data/churn.csv"},
        "target": "churned",
        "task": "binary",
        "cv": {"n_folds": 3, "n_alphas": 10, "l1_ratio": [0.5, 1.0]},
    }
    model.update(overrides)
    return model


def _raw(**overrides: Any) -> dict[str, Any]:
    return {"version": 1, "models": {"churn": _model(**overrides)}}


def _error(raw: Any, **kwargs: Any) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(raw, **kwargs)
    return info.value


def _write(path: Path, raw: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


# -- valid configs ------------------------------------------------------------------------


def test_valid_config_parses_with_defaults() -> None:
    cfg = parse_config(_raw(positive_class="yes", split={"method": "stratified"}))
    assert isinstance(cfg, GlmopsConfig)
    name, model = cfg.model()
    assert name == "churn"
    assert model.task == "binary"
    assert model.positive_class == "yes"
    assert model.cv.l1_ratio == [0.5, 1.0]
    assert model.cv.n_folds == 3
    assert model.split.method == "stratified"
    assert model.split.test_size == 0.2
    assert model.threshold.policy == "max_f1"
    assert cfg.output_dir == "artifacts"


def test_features_as_list_or_bare_keys_mean_defaults() -> None:
    as_list = parse_config(_raw(features=["age", "income"])).models["churn"]
    as_none = parse_config(_raw(features={"age": None, "income": None})).models["churn"]
    assert as_list.features is not None and list(as_list.features) == ["age", "income"]
    assert as_list.features == as_none.features


def test_model_lookup_by_name_suggests_close_names() -> None:
    cfg = parse_config({"models": {"churn": _model(), "upsell": _model()}})
    with pytest.raises(ConfigError, match="choose one with --model"):
        cfg.model()
    with pytest.raises(
        ConfigError, match=r"models\.chrun: no such model \(did you mean 'churn'\?\)"
    ):
        cfg.model("chrun")
    assert cfg.model("upsell")[0] == "upsell"


# -- error paths --------------------------------------------------------------------------


def test_out_of_range_list_item_names_index() -> None:
    err = _error(_raw(cv={"l1_ratio": [0.1, 0.5, 1.5]}))
    assert "models.churn.cv.l1_ratio[2]: must be in [0, 1], got 1.5" in str(err)
    assert err.path == "models.churn.cv.l1_ratio[2]"


@pytest.mark.parametrize(
    ("raw", "path", "hint"),
    [
        ({**_raw(), "modles": {}}, "modles", "models"),
        (_raw(cvv={"n_folds": 3}), "models.churn.cvv", "cv"),
        (_raw(cv={"n_fold": 3}), "models.churn.cv.n_fold", "n_folds"),
        (_raw(split={"methd": "random"}), "models.churn.split.methd", "method"),
        (_raw(features={"age": {"kindd": "numeric"}}), "models.churn.features.age.kindd", "kind"),
        (
            _raw(preprocessing={"numeric": {"inpute": "mean"}}),
            "models.churn.preprocessing.numeric.inpute",
            "impute",
        ),
    ],
    ids=["top", "model", "cv", "split", "feature", "preprocessing"],
)
def test_unknown_key_at_any_depth_suggests_the_close_name(raw: Any, path: str, hint: str) -> None:
    err = _error(raw)
    assert f"{path}: unknown key (did you mean {hint!r}?)" in str(err)
    assert err.path == path


def test_unknown_key_without_close_match_has_no_hint() -> None:
    err = _error(_raw(zzzzzz=1))
    assert "models.churn.zzzzzz: unknown key" in str(err)
    assert "did you mean" not in str(err)


def test_missing_required_keys_are_all_listed() -> None:
    err = _error({"models": {"churn": {"data": {"path": "x.csv"}}}})
    assert "models.churn.target: Field required" in str(err)
    assert "models.churn.task: Field required" in str(err)


def test_models_must_not_be_empty() -> None:
    assert _error({"models": {}}).path == "models"
    assert _error({"version": 1}).path == "models"


@pytest.mark.parametrize(
    "data",
    [{"path": "a.csv", "url": "sqlite:///x.db", "query": "SELECT 1"}, {}],
    ids=["both", "neither"],
)
def test_data_needs_exactly_one_source(data: dict[str, Any]) -> None:
    err = _error(_raw(data=data))
    assert err.path == "models.churn.data"
    assert "give exactly one of 'path'" in str(err)


def test_database_url_needs_query() -> None:
    err = _error(_raw(data={"url": "sqlite:///x.db"}))
    assert err.path == "models.churn.data"
    assert "needs a 'query'" in str(err)


def test_target_recall_policy_needs_a_target() -> None:
    err = _error(_raw(threshold={"policy": "target_recall"}))
    assert err.path == "models.churn.threshold"
    assert "policy 'target_recall' needs a 'target'" in str(err)


def test_target_recall_target_must_be_a_share() -> None:
    err = _error(_raw(threshold={"policy": "target_recall", "target": 1.5}))
    assert err.path.startswith("models.churn.threshold")
    assert "must be in [0, 1], got 1.5" in str(err)


def test_regression_with_stratified_split_is_rejected() -> None:
    err = _error(_raw(task="regression", split={"method": "stratified"}))
    assert err.path.startswith("models.churn")
    assert "stratified" in str(err)


def test_regression_with_stratified_split_never_stratifies() -> None:
    # whatever the fix (error or rewrite), a regression model must not keep 'stratified'
    try:
        cfg = parse_config(_raw(task="regression", split={"method": "stratified"}))
    except ConfigError:
        return
    assert cfg.models["churn"].split.method != "stratified"


def test_time_split_needs_time_column() -> None:
    err = _error(_raw(split={"method": "time"}))
    assert err.path == "models.churn.split"
    assert "'time_column'" in str(err)


def test_calibration_is_for_classifiers() -> None:
    err = _error(_raw(task="regression", calibration="platt"))
    assert "calibration applies to classification tasks only" in str(err)


def test_target_cannot_be_a_feature() -> None:
    err = _error(_raw(features={"churned": {}, "age": {}}))
    assert "'churned' cannot also be a feature" in str(err)


def test_invalid_literal_names_the_path() -> None:
    err = _error(_raw(task="classification"))
    assert err.path == "models.churn.task"
    assert "'classification'" in str(err)


def test_negative_class_weight_names_the_class() -> None:
    err = _error(_raw(class_weight={"yes": -1}))
    assert "models.churn.class_weight.yes: Input should be greater than 0" in str(err)


@pytest.mark.parametrize("name", ["1churn", "churn model", "", "x" * 65, "ch/urn"])
def test_invalid_model_names(name: str) -> None:
    err = _error({"models": {name: _model()}})
    assert err.path == "models"
    assert f"model name {name!r} must start with a letter" in str(err)


@pytest.mark.parametrize("name", ["churn", "Churn_v2", "churn-2024.q1", "c" * 64])
def test_valid_model_names(name: str) -> None:
    assert list(parse_config({"models": {name: _model()}}).models) == [name]


def test_top_level_must_be_a_mapping() -> None:
    err = _error(["models"])
    assert "expected a mapping at the top level, got list" in str(err)


# -- files --------------------------------------------------------------------------------


def test_load_config_resolves_relative_paths_against_its_directory(tmp_path: Path) -> None:
    path = _write(tmp_path / "proj" / "glmops.yaml", _raw())
    cfg = load_config(path, environ={})
    assert cfg.base_dir == (tmp_path / "proj").resolve()
    assert cfg.resolve("data/churn.csv") == (tmp_path / "proj" / "data" / "churn.csv").resolve()
    assert cfg.resolve("/abs/file.csv") == Path("/abs/file.csv")
    assert cfg.models["churn"].data.path == "data/churn.csv"  # kept as written


def test_the_prediction_log_path_is_relative_to_the_config_file(tmp_path: Path) -> None:
    serving = {"auth": "disabled", "prediction_log": {"path": "logs/predictions"}}
    cfg = load_config(_write(tmp_path / "proj" / "glmops.yaml", {**_raw(), "serving": serving}))
    log = cfg.serving_config().prediction_log
    assert log.path == str((tmp_path / "proj" / "logs" / "predictions").resolve())
    remote = {**serving, "prediction_log": {"path": "s3://bucket/log"}}
    cfg = load_config(_write(tmp_path / "other" / "glmops.yaml", {**_raw(), "serving": remote}))
    assert cfg.serving_config().prediction_log.path == "s3://bucket/log"


def test_no_serving_section_means_auth_on_and_says_what_to_configure(tmp_path: Path) -> None:
    """Issue 14: a config without a serving section served with auth disabled."""
    cfg = load_config(_write(tmp_path / "bare" / "glmops.yaml", _raw()))
    with pytest.raises(ConfigError, match=r"serving\.tokens.*serving\.auth: disabled") as err:
        cfg.serving_config()
    assert err.value.path == "serving"
    explicit = {"serving": {"auth": "disabled"}}
    cfg = load_config(_write(tmp_path / "open" / "glmops.yaml", {**_raw(), **explicit}))
    assert cfg.serving_config().auth == "disabled"
    assert cfg.serving_config().prediction_log.path.startswith(str((tmp_path / "open").resolve()))
    assert cfg.serving_config().metrics_auth == "token"  # /metrics needs a token by default


def test_a_tokens_section_needs_a_token() -> None:
    error = _error({**_raw(), "serving": {"auth": "tokens"}})
    assert "serving.tokens" in str(error) and "serving.auth: disabled" in str(error)


def test_a_file_larger_than_the_log_queue_is_refused() -> None:
    serving = {"auth": "disabled", "prediction_log": {"queue_size": 100, "rows_per_file": 1000}}
    error = _error({**_raw(), "serving": serving})
    assert "serving.prediction_log" in str(error) and "rows_per_file" in str(error)


def test_unparseable_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "glmops.yaml"
    path.write_text(
        "version: 1\nmodels:\n  churn:\n    data: {path: x.csv\n    target: y\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"at line \d+, column \d+") as info:
        load_config(path, environ={})
    assert "glmops.yaml" in str(info.value)
    assert info.value.path.startswith("line ")


def test_bad_indentation_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "glmops.yaml"
    path.write_text(
        "models:\n  churn:\n    target: y\n    task: binary\n   cv: {}\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="at line 5") as info:
        load_config(path, environ={})
    assert info.value.path == "line 5"


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "glmops.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="is empty"):
        load_config(path, environ={})


@pytest.mark.parametrize(("text", "kind"), [("- a\n- b\n", "list"), ("hello\n", "str")])
def test_top_level_list_or_scalar_in_file(tmp_path: Path, text: str, kind: str) -> None:
    path = tmp_path / "glmops.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=f"expected a mapping at the top level, got {kind}"):
        load_config(path, environ={})


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml", environ={})


def test_error_from_file_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "glmops.yaml", _raw(cv={"n_folds": 1}))
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert "glmops.yaml" in str(info.value)
    assert info.value.path == "models.churn.cv.n_folds"


def test_duplicate_yaml_key_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "glmops.yaml"
    path.write_text(
        "models:\n  churn:\n    data: {path: x.csv}\n    target: y\n    task: binary\n"
        "    seed: 1\n    seed: 2\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="seed"):
        load_config(path, environ={})


# -- environment overrides ----------------------------------------------------------------


def test_env_overrides_scalar_and_list() -> None:
    env = {
        "GLMOPS_MODELS__CHURN__SEED": "7",
        "GLMOPS_MODELS__CHURN__CV__L1_RATIO": "[0.5]",
        "HOME": "/nowhere",
    }
    model = parse_config(_raw(), environ=env).models["churn"]
    assert model.seed == 7
    assert model.cv.l1_ratio == [0.5]
    assert model.cv.n_folds == 3  # siblings untouched


def test_env_override_creates_missing_sections_and_matches_case() -> None:
    raw = {"models": {"Churn": _model()}}
    env = {"GLMOPS_MODELS__CHURN__SPLIT__TEST_SIZE": "0.3", "GLMOPS_OUTPUT_DIR": "out"}
    cfg = parse_config(raw, environ=env)
    assert cfg.models["Churn"].split.test_size == 0.3
    assert cfg.output_dir == "out"


def test_env_override_to_invalid_value_names_the_path() -> None:
    err = _error(_raw(), environ={"GLMOPS_MODELS__CHURN__CV__L1_RATIO": "[0.5, 2]"})
    assert "models.churn.cv.l1_ratio[1]: must be in [0, 1], got 2" in str(err)
    err = _error(_raw(), environ={"GLMOPS_MODELS__CHURN__SEED": "-3"})
    assert err.path == "models.churn.seed"


def test_env_override_with_unknown_key_is_reported() -> None:
    err = _error(_raw(), environ={"GLMOPS_MODELS__CHURN__CV__N_FOLD": "4"})
    assert "models.churn.cv.n_fold: unknown key (did you mean 'n_folds'?)" in str(err)


def test_reserved_env_vars_are_not_overrides() -> None:
    env = {"GLMOPS_ARTIFACT_KEY": "00" * 32, "GLMOPS_CONFIG": "x.yaml", "GLMOPS_TOKEN": "t"}
    assert parse_config(_raw(), environ=env).models["churn"].seed == 0


def test_parse_config_ignores_process_env_unless_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLMOPS_MODELS__CHURN__SEED", "11")
    assert parse_config(_raw()).models["churn"].seed == 0
    assert (
        parse_config(_raw(), environ={"GLMOPS_MODELS__CHURN__SEED": "12"}).models["churn"].seed
        == 12
    )


def test_load_config_reads_process_env_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path / "glmops.yaml", _raw())
    monkeypatch.setenv("GLMOPS_MODELS__CHURN__SEED", "5")
    assert load_config(path).models["churn"].seed == 5
    assert load_config(path, environ={}).models["churn"].seed == 0


def test_env_override_does_not_mutate_the_input() -> None:
    raw = _raw()
    parse_config(raw, environ={"GLMOPS_MODELS__CHURN__SEED": "7"})
    assert "seed" not in raw["models"]["churn"]


# -- hashing ------------------------------------------------------------------------------


def test_config_hash_is_independent_of_where_the_file_lives(tmp_path: Path) -> None:
    original = _write(tmp_path / "a" / "glmops.yaml", _raw(features={"age": {}, "city": {}}))
    copy = tmp_path / "b" / "deeper" / "glmops.yaml"
    copy.parent.mkdir(parents=True)
    shutil.copy(original, copy)
    one, two = load_config(original, environ={}), load_config(copy, environ={})
    assert one.base_dir != two.base_dir
    h1, h2 = config_hash(one.models["churn"]), config_hash(two.models["churn"])
    assert h1 == h2
    assert len(h1) == 64 and int(h1, 16) >= 0


def test_config_hash_is_stable_and_sensitive() -> None:
    base = parse_config(_raw()).models["churn"]
    # key order in the file does not matter; defaults written out do not matter
    reordered = dict(reversed(list(_model().items())))
    same = parse_config({"models": {"churn": reordered}}).models["churn"]
    explicit = parse_config(_raw(seed=0, bootstrap=0)).models["churn"]
    assert config_hash(base) == config_hash(same) == config_hash(explicit)
    assert config_hash(base) == config_hash(parse_config(_raw()).models["churn"])
    assert config_hash(base) != config_hash(parse_config(_raw(seed=1)).models["churn"])
    env = {"GLMOPS_MODELS__CHURN__SEED": "1"}
    assert config_hash(base) != config_hash(parse_config(_raw(), environ=env).models["churn"])


def test_the_readme_config_example_is_valid() -> None:
    """The glmops.yaml shown in the README must stay a valid config."""
    import re

    import yaml

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    match = re.search(r"### glmops.yaml\n\n```yaml\n(.*?)```", readme, re.S)
    assert match is not None, "README lost its glmops.yaml example"
    config = parse_config(yaml.safe_load(match.group(1)))
    assert config.models["credit"].features is not None
