"""The HTML report: every section renders, self-contained, escaped and deterministic."""

from __future__ import annotations

import base64
import functools
import subprocess
import sys
from dataclasses import replace
from html.parser import HTMLParser

import numpy as np
import pytest

from glmops.errors import InvalidInputError
from glmops.evaluation import (
    CoefData,
    CVData,
    PathData,
    ReportData,
    classification_metrics,
    coefficient_stability,
    regression_metrics,
    render_html_report,
    render_model_card,
    write_report,
)
from glmops.evaluation.report import _markdown_to_html

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
NASTY = "a<b&c"
N_FEATURES = 12
CLASSIFICATION_FIGURES = {
    "fig-path",
    "fig-cv",
    "fig-coefficients",
    "fig-calibration",
    "fig-roc",
    "fig-pr",
    "fig-score-distribution",
}
REGRESSION_FIGURES = {
    "fig-path",
    "fig-cv",
    "fig-coefficients",
    "fig-residuals",
    "fig-residual-histogram",
}


class _Page(HTMLParser):
    """Collect images, element ids and text of a page."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.images: list[dict[str, str | None]] = []
        self.ids: set[str] = set()
        self.text: list[str] = []
        self.tags: list[str] = []
        self.feed(page)
        self.close()

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append(tag)
        if attributes.get("id"):
            self.ids.add(str(attributes["id"]))
        if tag == "img":
            self.images.append(attributes)

    def handle_data(self, data):
        self.text.append(data)


def _names() -> list[str]:
    names = [f"x{j}" for j in range(N_FEATURES)]
    names[0] = NASTY
    names[1] = "price $ per m²"
    return names


def _path(n_classes: int | None, seed: int) -> PathData:
    rng = np.random.default_rng(seed)
    alphas = np.logspace(0, -3, 20)
    shape = (N_FEATURES,) if n_classes is None else (n_classes, N_FEATURES)
    end = rng.normal(size=shape) * (rng.uniform(size=shape) < 0.7)
    ramp = np.linspace(0.0, 1.0, 20).reshape((20,) + (1,) * len(shape))
    return PathData(alphas, ramp * end, _names(), chosen_alpha=0.01)


def _cv() -> CVData:
    alphas = np.logspace(0, -3, 20)
    curve = (np.log10(alphas) + 1.5) ** 2
    return CVData(
        alphas=alphas,
        l1_ratios=[0.5, 1.0],
        mean=np.stack([curve, curve + 0.1]),
        std_error=np.full((2, 20), 0.05),
        score_name="deviance",
        greater_is_better=False,
        chosen_alpha=float(alphas[10]),
        chosen_l1_ratio=0.5,
        alpha_1se=float(alphas[8]),
    )


def _coefficients(path: PathData) -> CoefData:
    coefs = np.asarray(path.coefs)
    rng = np.random.default_rng(1)
    stack = coefs[-1] + rng.normal(scale=0.3, size=(10, *coefs.shape[1:]))
    stack[np.abs(stack) < 0.4] = 0.0
    stab = coefficient_stability(stack, _names(), reference=coefs[-1])
    return CoefData(
        feature_names=_names(),
        values=coefs[-1],
        selection_frequency=np.asarray(stab["selection_frequency"]),
        sign_flips=np.asarray(stab["sign_flips"]),
    )


def _card() -> str:
    return render_model_card(
        model_name="churn <v1>",
        task="binary",
        intended_use="Rank accounts; see https://intranet.example/doc",
        data_summary={"rows": 300},
        metrics={"holdout": {"roc_auc": 0.8}},
        limitations=["Trained on 2023 data only"],
        features=_names(),
        hyperparameters={"alpha": 0.01, "l1_ratio": 0.5},
        lineage={"data_sha256": "ab12"},
    )


def _binary_data() -> ReportData:
    rng = np.random.default_rng(0)
    p = rng.uniform(0.02, 0.98, 300)
    y = np.where(rng.uniform(size=300) < p, "churn", "stay")
    P = np.column_stack([1 - p, p])
    classes = ["stay", "churn"]
    holdout = classification_metrics(y, P, classes, threshold=0.4)
    path = _path(None, seed=2)
    return ReportData(
        title="Churn <model> & co",
        task="binary",
        model_name="churn-enet",
        created="2024-05-01",
        summary={"alpha": 0.01, "l1_ratio": 0.5, "n_features": N_FEATURES, "rows": 300},
        metrics={"train": holdout, "holdout": holdout},
        path=path,
        cv=_cv(),
        coefficients=_coefficients(path),
        y_true=y,
        proba=P,
        classes=classes,
        threshold=0.4,
        model_card_markdown=_card(),
        notes=["Feature x3 looks like a leak <see http://leak.example>"],
    )


def _multinomial_data() -> ReportData:
    rng = np.random.default_rng(3)
    eta = rng.normal(size=(300, 3))
    P = np.exp(eta) / np.exp(eta).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(3, p=row) for row in P])
    classes = ["low", "mid", NASTY]
    labels = np.asarray(classes)[y]
    metrics = classification_metrics(labels, P, classes)
    path = _path(3, seed=4)
    return ReportData(
        title="Tiers",
        task="multinomial",
        model_name="tier-enet",
        created="2024-05-01",
        summary={"alpha": 0.1},
        metrics={"holdout": metrics},
        path=path,
        cv=_cv(),
        coefficients=_coefficients(path),
        y_true=labels,
        proba=P,
        classes=classes,
        sample_weight=rng.uniform(0.5, 2.0, 300),
        model_card_markdown=_card(),
    )


def _regression_data() -> ReportData:
    rng = np.random.default_rng(5)
    y = rng.normal(size=6000)
    pred = y + rng.normal(scale=0.5, size=6000)
    path = _path(None, seed=6)
    return ReportData(
        title="Price",
        task="regression",
        model_name="price-enet",
        created="2024-05-01",
        summary={"alpha": 0.1},
        metrics={"holdout": regression_metrics(y, pred)},
        path=path,
        cv=_cv(),
        coefficients=_coefficients(path),
        y_true=y,
        y_pred=pred,
        model_card_markdown=_card(),
    )


BUILDERS = {
    "binary": (_binary_data, CLASSIFICATION_FIGURES),
    "multinomial": (_multinomial_data, CLASSIFICATION_FIGURES),
    "regression": (_regression_data, REGRESSION_FIGURES),
}


@functools.cache
def _page(task: str) -> str:
    """Render each task's full report once per test session."""
    return render_html_report(BUILDERS[task][0]())


@pytest.fixture(params=sorted(BUILDERS))
def rendered(request):
    return request.param, _page(request.param), BUILDERS[request.param][1]


def test_every_figure_is_an_inline_png(rendered):
    _, page, figures = rendered
    parsed = _Page(page)
    ids = {img["id"] for img in parsed.images}
    assert ids == figures
    for img in parsed.images:
        src = img["src"] or ""
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1], validate=True).startswith(PNG_MAGIC)
        assert img["alt"]
    assert page.count("<figure>") == page.count("<figcaption>") == len(figures)
    assert {"section-summary", "section-metrics", "section-model-card"} <= parsed.ids


def test_page_has_no_external_reference(rendered):
    _, page, _ = rendered
    lowered = page.lower()
    for needle in ("http:", "https:", 'src="//', "src='//", "<script", "<link", "@import", "url("):
        assert needle not in lowered, needle


def test_user_strings_are_escaped(rendered):
    task, page, _ = rendered
    assert NASTY not in page
    assert "a&lt;b&amp;c" in page
    assert "churn &lt;v1&gt;" in page  # model card title
    if task == "binary":
        assert "Churn &lt;model&gt; &amp; co" in page
        assert _Page(page).ids >= {"section-notes", "table-confusion_matrix-holdout"}
        assert "leak &lt;see http&#58;//leak.example&gt;" in page


def test_render_is_byte_identical():
    assert render_html_report(_binary_data()) == _page("binary")


def test_metrics_tables(rendered):
    task, page, _ = rendered
    parsed = _Page(page)
    assert "table-metrics" in parsed.ids
    if task == "multinomial":
        assert {"table-per_class-holdout", "table-confusion_matrix-holdout"} <= parsed.ids
    if task == "regression":
        assert "residuals.q99" in page


def test_sections_are_omitted_without_data():
    page = render_html_report(ReportData(title="Bare", task="binary"))
    parsed = _Page(page)
    assert not parsed.images
    assert not any(i.startswith("section-") for i in parsed.ids)
    assert "<figure>" not in page
    # classification holdout needs y_true, proba and classes together
    partial = replace(_binary_data(), proba=None, path=None, cv=None, coefficients=None)
    assert not _Page(render_html_report(partial)).images
    # regression without holdout predictions keeps the other figures
    no_holdout = replace(_regression_data(), y_pred=None, cv=None)
    ids = {img["id"] for img in _Page(render_html_report(no_holdout)).images}
    assert ids == {"fig-path", "fig-coefficients"}


def test_cv_takes_one_alpha_grid_per_l1_ratio():
    cv = _cv()
    grids = np.stack([np.logspace(0, -3, 20), np.logspace(1, -2, 20)])
    page = render_html_report(
        ReportData(title="cv", task="regression", cv=replace(cv, alphas=grids))
    )
    assert 'id="fig-cv"' in page
    with pytest.raises(InvalidInputError, match=r"cv\.alphas"):
        render_html_report(
            ReportData(title="cv", task="regression", cv=replace(cv, alphas=grids[:, :5]))
        )


def test_all_zero_coefficients_render_a_note():
    data = ReportData(
        title="Null", task="regression", coefficients=CoefData(["a", "b"], np.zeros(2))
    )
    page = render_html_report(data)
    assert "All coefficients are zero." in page
    assert "fig-coefficients" not in page


def test_single_class_holdout_renders_without_warning():
    p = np.array([0.1, 0.3, 0.8])
    data = ReportData(
        title="One class",
        task="binary",
        y_true=[0, 0, 0],
        proba=np.column_stack([1 - p, p]),
        classes=[0, 1],
    )
    page = render_html_report(data)
    assert {img["id"] for img in _Page(page).images} == {
        "fig-calibration",
        "fig-roc",
        "fig-pr",
        "fig-score-distribution",
    }


def test_report_rejects_bad_input():
    with pytest.raises(InvalidInputError, match="task"):
        render_html_report(ReportData(title="x", task="ranking"))
    data = replace(_binary_data(), task="multinomial")
    with pytest.raises(InvalidInputError, match="classes"):
        render_html_report(data)
    bad_path = PathData(np.ones(3), np.ones((4, 2)), ["a", "b"])
    with pytest.raises(InvalidInputError, match=r"path\.coefs"):
        render_html_report(ReportData(title="x", task="regression", path=bad_path))


def test_write_report(tmp_path):
    data = ReportData(title="Bare", task="regression", notes=["n"])
    out = write_report(data, tmp_path / "sub" / "report.html")
    assert out.read_text(encoding="utf-8") == render_html_report(data)


def test_large_report_stays_small():
    rng = np.random.default_rng(0)
    names = [f"feature_{j}" for j in range(1000)]
    alphas = np.logspace(0, -3, 50)
    end = rng.normal(size=1000)
    coefs = np.linspace(0, 1, 50)[:, None] * end
    data = ReportData(
        title="Wide",
        task="regression",
        path=PathData(alphas, coefs, names, chosen_alpha=0.01),
        coefficients=CoefData(names, end, rng.uniform(size=1000), rng.uniform(size=1000) < 0.1),
    )
    page = render_html_report(data)
    assert len(page.encode("utf-8")) < 3_000_000
    assert page.count("<tr>") == 1001  # header + every nonzero coefficient


def test_markdown_subset():
    html = _markdown_to_html(
        "# Title <x>\n\nSome *text* & `code`\nmore **bold**\n\n"
        "- one\n  - nested\n- two\n\n1. first\n2. second\n\n"
        "| a | b |\n|---|---|\n| 1 | <2> |\n\n```\nraw <tag>\n```\n"
    )
    assert "<h3>Title &lt;x&gt;</h3>" in html
    assert "<p>Some *text* &amp; <code>code</code> more <strong>bold</strong></p>" in html
    assert "<ul>\n<li>one\n<ul>\n<li>nested\n</li></ul>\n</li>\n<li>two\n</li></ul>" in html
    assert "<ol>\n<li>first\n</li>\n<li>second\n</li></ol>" in html
    assert "<td>1</td><td>&lt;2&gt;</td>" in html
    assert "<pre><code>raw &lt;tag&gt;</code></pre>" in html


def test_importing_evaluation_does_not_import_matplotlib():
    code = "import sys, glmops.evaluation; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
