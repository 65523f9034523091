"""The vocabulary is the one definition of every name, and the book has one sign convention.

The source scan (the package, the benchmarks and the notebooks' code cells) fails, naming file
and line, on a second definition outside ``dreg_utils/vocabulary.py``: a literal list of three or
more method names, a method- or family-keyed label table, a literal families, activations,
projections or dataset list, or a run table's ``["diverged"]`` read in place of the finished rule.
The sign tests check that each signed column's label says which way is good and that one quantity
keeps its sign from the chapter's table to the scorecard of the front and findings pages and to
the ablation chapter.
"""
import ast
import math
import re
from collections.abc import Callable
from pathlib import Path

import jupytext
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from dreg_utils import published, vocabulary as v
from dreg_utils.book import synthetic_text
from dreg_utils.book.labels import book_labels
from dreg_utils.regulariser import Regulariser
from dreg_utils.studies import synthetic, synthetic_ablation

LABELS = book_labels()  # every chapter's labels: one per column across the book

ROOT = Path(__file__).resolve().parents[1]
NAMED_LISTS = {"families": v.FAMILIES, "activations": v.ACTIVATIONS, "paper activations": v.PAPER_ACTIVATIONS,
               "projections": v.PROJECTIONS, "image datasets": v.IMAGE_DATASETS,
               "regression datasets": v.REGRESSION_DATASETS, "real datasets": v.REAL_DATASETS,
               "Feynman datasets": v.FEYNMAN_DATASETS}


def _strings(nodes: list) -> list[str] | None:
    """The values of ``nodes`` when every one is a string literal, else None."""
    if nodes and all(isinstance(n, ast.Constant) and isinstance(n.value, str) for n in nodes):
        return [n.value for n in nodes]
    return None


def second_definitions(source: str) -> list[tuple[int, str]]:
    """(line, what) for every copy of a vocabulary definition in ``source``."""
    names, found = set(v.method_names()), []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)) and (items := _strings(node.elts)):
            if len(items) >= 3 and set(items) <= names:
                found.append((node.lineno, f"a method list {items}"))
            found += [(node.lineno, f"the {name} list {items}") for name, ref in NAMED_LISTS.items()
                      if len(items) >= 2 and set(items) == set(ref)]
        elif isinstance(node, ast.Dict) and None not in node.keys and _strings(node.values):
            keys = _strings(node.keys) or []
            if (len(keys) >= 3 and set(keys) <= names) or set(keys) == set(v.FAMILIES):
                found.append((node.lineno, f"a label table keyed by {keys}"))
        elif (isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant)
              and node.slice.value == v.DIVERGED):
            found.append((node.lineno, 'a run table\'s ["diverged"] (use vocabulary.finished / diverged)'))
    return sorted(found)


def notebook_code(path: Path) -> list[tuple[int, str]]:
    """(first line in the file, source) of each code cell of the MyST notebook at ``path``."""
    text, cells, start = path.read_text(), [], 0
    for cell in jupytext.reads(text, fmt="md:myst").cells:
        if cell.cell_type == "code" and cell.source.strip():
            start = text.index(cell.source, start)
            cells.append((text.count("\n", 0, start), cell.source))
    return cells


def scan(finder: Callable[[str], list[tuple[int, str]]]) -> list[str]:
    """"file:line: what" for everything ``finder`` finds in the package (but the vocabulary), the
    benchmarks and the notebooks' code cells."""
    sources = sorted([*ROOT.glob("dreg_utils/**/*.py"), *ROOT.glob("benchmarks/**/*.py")])
    found = [f"{path.relative_to(ROOT)}:{line}: {what}" for path in sources if path.name != "vocabulary.py"
             for line, what in finder(path.read_text())]
    return found + [f"{path.relative_to(ROOT)}:{offset + line}: {what}" for path in sorted(ROOT.glob("notebooks/*.md"))
                    for offset, code in notebook_code(path) for line, what in finder(code)]


def test_every_name_is_defined_once():
    found = scan(second_definitions)
    assert not found, "import these from dreg_utils.vocabulary instead:\n" + "\n".join(found)


def test_the_scan_reads_the_notebooks_code_cells(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("---\njupytext:\n  text_representation:\n    format_name: myst\n---\n# A page\n\n"
                    "Prose with runs[\"diverged\"] is not code.\n\n```{code-cell} ipython3\nx = 1\n"
                    "ok = runs[~runs[\"diverged\"]]\n```\n")
    found = [(offset + line, what) for offset, code in notebook_code(page) for line, what in second_definitions(code)]
    assert [line for line, _ in found] == [12]  # the file's line, counted from 1
    assert page.read_text().splitlines()[11] == 'ok = runs[~runs["diverged"]]'


def test_the_scan_finds_each_kind_of_copy():
    source = '''METHODS = ("base", "dreg", "igp", "sn")
REGULARISERS = ["none", "dreg", "jacobian"]
NAMES = {"base": "BASE", "dreg": "DREG", "igp": "IGPEN"}
FAMILY_WORDS = {"smooth": "a", "piecewise": "b", "sparse": "c", "oscillatory": "d", "entangled": "e"}
ROWS = ("smooth", "piecewise", "sparse", "oscillatory", "entangled")
ok = runs[~runs["diverged"]]
for activation in ("relu", "poly"):
    pass
pair = ("base", "dreg")  # two methods: a choice, not a list
'''
    assert [line for line, _ in second_definitions(source)] == [1, 2, 3, 4, 5, 6, 7]


# Data names a method by its key and the book maps the key to a label through the vocabulary. A
# string literal that is a method's label, or a shortening of one ("IGP", "JAC"), alone or with an
# activation ("BASE-poly"), is a label used as data; prose (the text of an f-string) is not scanned.
LABEL_WORDS = {*v.PAPER_LABELS.values(), *(key.upper() for key in v.METHODS)}
LABEL = re.compile(r"([A-Z][A-Z0-9]+(?:-[A-Z]+)*)(?:-(?:%s))?" % "|".join(v.ACTIVATIONS))


def literal_names(source: str) -> list[tuple[int, str]]:
    """(line, what) for every method label used as data in ``source``, and every projection
    passed by a literal name (``distribution="..."``) instead of the vocabulary's."""
    tree = ast.parse(source)
    prose = {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for part in ast.walk(node)}
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose
                and (match := LABEL.fullmatch(node.value))
                and any(word.startswith(match.group(1)) for word in LABEL_WORDS)):
            found.append((node.lineno, f"the method label {node.value!r} used as data"))
        elif isinstance(node, ast.keyword) and node.arg == "distribution" and isinstance(node.value, ast.Constant):
            found.append((node.value.lineno, f"the projection {node.value.value!r} named by a literal"))
    return sorted(found)


def test_data_names_methods_by_key_and_projections_by_the_vocabulary():
    found = scan(literal_names)
    assert not found, ("name methods by their keys and map them to labels with dreg_utils.vocabulary "
                       "(PAPER_LABELS, METHOD_LABELS); name projections by its constants:\n" + "\n".join(found))


def test_the_label_scan_finds_labels_used_as_data():
    source = '''TABLE_LABELS = {"igp": "IGP", "jacobian": "JAC"}
base = penalties["method"].isin(["BASE", "BASE-poly"])
ratio = r["DREG-poly"]
claims = {"JAC-RP": "random projections"}
order = [m for m in ("SN", "IGPEN-OUT") if m]
sq = projected_jacobian_sq(model, x, 1, generator, distribution="gaussian")
note = f"DREG costs {ratio} a BASE step"  # prose
words = ("a BASE step", "base", "igp", "POLY_DREG", "MSE", "SNR", "L-BFGS")
'''
    found = [(line, re.search(r"'(.+)'", what).group(1)) for line, what in literal_names(source)]
    assert found == [(1, "IGP"), (1, "JAC"), (2, "BASE"), (2, "BASE-poly"), (3, "DREG-poly"), (4, "JAC-RP"),
                     (5, "IGPEN-OUT"), (5, "SN"), (6, "gaussian")]


def test_fit_draws_the_vocabularys_projection(monkeypatch):
    from dreg_utils import train
    from dreg_utils.models import CompactMLP

    drawn, projected = [], train.projected_jacobian_sq

    def spy(*args, distribution, **kwargs):
        drawn.append(distribution)
        return projected(*args, distribution=distribution, **kwargs)

    monkeypatch.setattr(train, "projected_jacobian_sq", spy)
    model = CompactMLP.seeded(0, 3, (4,), 2)
    train.fit(model, torch.randn(8, 3), torch.randn(8, 2), method="jacobian_rp", lam=0.1, epochs=1,
              batch_size=4, device="cpu")
    assert drawn == [v.FIT_PROJECTION] * 2 and v.FIT_PROJECTION in v.PROJECTIONS


def test_paper_cell_labels_are_the_papers_table3_rows():
    assert {v.paper_cell_label(a, m) for block in published.TABLE3.values() for a in v.PAPER_ACTIVATIONS
            for m in v.TABLE3_METHODS} == {label for block in published.TABLE3.values() for label in block}
    with pytest.raises(ValueError, match="method='IGP' is not valid"):
        v.paper_cell_label("relu", "IGP")


def test_methods_are_consistent():
    for key, method in v.METHODS.items():
        assert method.key == key and method.trainers and set(method.trainers) <= set(v.TRAINERS), key
        assert re.fullmatch(r"#[0-9a-f]{6}", method.colour), key
    names = v.method_names()
    assert len(names) == len(set(names)), f"a name is given twice: {names}"
    for field in ("paper", "label", "colour"):
        values = [getattr(m, field) for m in v.METHODS.values()]
        assert len(values) == len(set(values)), f"two methods share a {field}: {values}"
    assert not v.METHODS["base"].takes_lambda and not v.METHODS["sn"].takes_lambda
    assert all(t in v.TRAINERS for t in v.METHODS["base"].trainers) and v.methods_for("fit") == tuple(v.METHODS)


def test_table3_methods_carry_the_papers_labels():
    printed = {label.split("_", 1)[1] for block in published.TABLE3.values() for label in block}
    assert printed == {v.PAPER_LABELS[m] for m in v.TABLE3_METHODS} == {"BASE", "DREG", "IGPEN", "SN"}


def test_method_key_resolves_aliases_and_refuses_the_rest():
    assert v.method_key("none") == v.method_key("base") == "base"
    assert [v.method_key(n, "regulariser") for n in v.REGULARISER_METHODS] == ["base", "dreg", "jacobian", "igp"]
    assert set(map(v.method_key, v.REGULARISER_METHODS)) == set(v.methods_for("regulariser"))
    with pytest.raises(ValueError, match=r"^method='sn' is not valid; choose one of \['base', 'none', 'dreg'"):
        v.method_key("sn", "regulariser")
    with pytest.raises(ValueError, match="trainer='gpu' is not valid"):
        v.methods_for("gpu")


def test_regulariser_accepts_none_and_base_alike():
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    x, y = torch.randn(5, 3), torch.randn(5, 2)
    for name in v.method_names("regulariser"):
        output, penalty = Regulariser(name)(model, x, y)
        assert torch.allclose(output, model(x)) and torch.isfinite(penalty), name
    assert Regulariser("none").method == "base" and float(Regulariser("none")(model, x)[1]) == 0.0
    with pytest.raises(ValueError, match=r"method='sn' is not valid"):
        Regulariser("sn")


def test_finished_runs_are_those_not_diverged():
    runs = pd.DataFrame({"k": [0, 1, 2, 3], "diverged": [False, True, np.nan, None]})
    assert list(v.finished(runs)["k"]) == [0, 2, 3]  # a missing flag (a run without training) did not diverge
    assert list(v.diverged(runs)) == [False, True, False, False]
    assert list(v.finished(runs.drop(columns="diverged"))["k"]) == [0, 1, 2, 3]


# ----------------------------------------------------------------------------- one sign convention

SIGNED = re.compile(r"(reduction|change|improvement|gain|diff)")


def study_columns() -> set[str]:
    """The signed columns the studies compute: keys of their row dicts (dict literals whose values
    are not all words) and names of their aggregations (keywords)."""
    columns = set()
    for path in (ROOT / "dreg_utils" / "studies").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Dict) and not _strings(node.values):
                columns |= {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
            elif isinstance(node, ast.Call):
                columns |= {k.arg for k in node.keywords if k.arg}
    return {c for c in columns if SIGNED.search(c) and "_" in c}


def test_every_signed_column_says_which_way_is_good():
    produced = study_columns()
    assert {"p90_reduction_pct", "test_mse_change_pct", "accuracy_change", "gd_regret_diff"} <= produced
    assert produced <= set(LABELS), f"signed columns without a label: {sorted(produced - set(LABELS))}"
    for key, label in LABELS.items():
        if not SIGNED.search(key):
            continue
        if key.endswith("reduction_pct"):
            assert "reduction" in label and "+ =" not in label, (key, label)
        else:
            assert re.search(r"\+ = (better|worse)\)$", label), (key, label)


@pytest.mark.parametrize("key, direction", [
    ("test_mse_change_pct", "worse"), ("paper_test_mse_change_pct", "worse"), ("mse_with_interval", "worse"),
    ("plateau_test_mse_change_pct", "worse"), ("p99_over_mean_change_pct", "worse"), ("gd_regret_diff", "worse"),
    ("lbfgs_exits_diff", "worse"), ("cos_p10_diff", "better"), ("accuracy_change", "better"),
    ("improvement_pct", "better"), ("paper_improvement_pct", "better"), ("gain_r2", "better")])
def test_a_rise_is_called_better_or_worse_as_the_metric_demands(key, direction):
    assert LABELS[key].endswith(f"+ = {direction})")


def test_paper_table2_in_the_books_signs():
    for family, printed in published.TABLE2_PERCENT.items():
        ours = published.table2_paper(family)
        assert ours["p90_reduction_pct"] == printed["p90"]  # printed as a reduction: same sign
        assert ours["test_mse_change_pct"] == -printed["test_mse"]  # printed as an improvement: negated
        assert f"{ours['test_mse_change_pct']:+.2f}" != "-0.00"


def _runs() -> pd.DataFrame:
    """Two seeds per (family, lambda) with equal values, and one diverged run: smooth's p90 falls
    by 25% while its MSE rises by 20%; sparse's p90 rises by 25% while its MSE falls by 20%."""
    values = {("smooth", 0.0): (4.0, 0.10), ("smooth", 1e-2): (3.0, 0.12),
              ("sparse", 0.0): (2.0, 0.50), ("sparse", 1e-2): (2.5, 0.40)}
    protocol = {"activation": "relu", "hidden": "64-64", "epochs": 60, "target_scale": 1.0, "noise": 0.1}
    rows = [{"family": f, "lam": lam, "seed": s, "diverged": False, "grad_p90": p90, "test_mse": mse, **protocol,
             **{m: 1.0 for m in synthetic.METRICS if m not in ("grad_p90", "test_mse")}}
            for (f, lam), (p90, mse) in values.items() for s in (0, 1)]
    rows.append({"family": "smooth", "lam": 1e-2, "seed": 2, "diverged": True, **protocol})
    return pd.DataFrame(rows)


def _number(pattern: str, text: str) -> float:
    return float(re.search(pattern, text).group(1))


def test_one_quantity_has_one_sign_on_every_page():
    runs = _runs()
    table2 = synthetic.table2(synthetic.summarize(runs), 1e-2).merge(synthetic.paired_effects(runs, 1e-2), on="family")
    table2["verdict"] = table2.apply(synthetic.verdict, axis=1)
    ablation = synthetic_ablation.reductions(runs, dict(
        families=["smooth", "sparse"], seeds=[0, 1], activations=[], widths=[], epoch_counts=[],
        target_scales=[], noises=[], lams=[])).set_index("family")
    for _, row in table2.iterrows():
        family = row["family"]
        expected_p90, expected_mse = (25.0, 20.0) if family == "smooth" else (-25.0, -20.0)
        # chapter 01's table and chapter 07's agree with each other and with the data
        assert row["p90_reduction_pct"] == pytest.approx(expected_p90)
        assert row["p90_reduction_paired_pct"] == pytest.approx(expected_p90)  # equal seeds: the same
        assert ablation.loc[family, "per_seed_p90_reduction_pct"] == pytest.approx(expected_p90)
        assert row["test_mse_change_pct"] == pytest.approx(expected_mse)
        assert ablation.loc[family, "per_seed_test_mse_change_pct"] == pytest.approx(expected_mse)
        assert ablation.loc[family, "paper_p90_reduction_pct"] == row["paper_p90_reduction_pct"]
        # the scorecard (front and findings pages) and the chapter's verdict lines sign them alike
        fields = synthetic_text.scorecard_fields(row, 1e-2, "smoke")
        for text in (fields["details"], synthetic_text.effects(row)):
            assert _number(r"p90 reduction ([+-]\d+\.\d)%", text) == expected_p90
            assert _number(r"test MSE change ([+-]\d+\.\d)%", text) == expected_mse
            paper_mse = _number(r"\(paper ([+-]\d+\.\d\d)%; \+ = worse\)", text)
            assert paper_mse == -published.TABLE2_PERCENT[family]["test_mse"]
        assert _number(r"p90 reduction ([+-]\d+\.\d)%", fields["ours"]) == expected_p90
        assert _number(r"p90 reduction ([+-]\d+\.\d)%", fields["paper"]) == published.TABLE2_PERCENT[family]["p90"]
    # smooth: p90 down 25%, wholly short of half the paper's reduction (MSE 20% worse); sparse: p90 up
    assert list(table2["verdict"]) == ["does not hold", "does not hold"]
    assert math.isclose(synthetic.stability_plateau(synthetic.summarize(runs)).set_index("family").loc[
        "sparse", "plateau_test_mse_change_pct"], -20.0)


def test_mean_sd_has_one_formatter_with_fixed_decimals_for_table3():
    from dreg_utils.book import tables

    nbsp = "\u00a0"
    assert tables.plus_minus(96.05, 0.17, decimals=2) == f"96.05{nbsp}±{nbsp}0.17"
    assert tables.plus_minus(1.0, 0.0, decimals=3) == f"1.000{nbsp}±{nbsp}0.000"  # Table 3 prints a zero sd
    assert tables.plus_minus(17.79, float("nan"), decimals=2) == "17.79"
    assert tables.plus_minus(np.nan, 1.0, decimals=2) == "-"
    with pytest.raises(ValueError, match="decimals=-1 is not valid"):
        tables.plus_minus(1.0, 0.1, decimals=-1)
