"""ClusterOptions: the presets, every rule, and the one parser the API, the CLI and the
benchmark method names share."""

import dataclasses

import numpy as np
import pytest

import lnsnet
from lnsnet import PRESETS, ClusterOptions
from lnsnet.eval.methods import lnsnet_clustering

COMPACT = dict(features="learned", compactness=24.0, edge_scale=2.0, iterations=5, smoothing=6.0, feature_contrast=4.0,
               input_weight=2.5, blur=0.8, contour=4.0)
FAST = dict(COMPACT, features="input", compactness=32.0, contour=6.0)
PAPER = dict(features="learned", compactness=0.0, edge_scale=0.0, iterations=0, smoothing=0.0, feature_contrast=0.0,
             input_weight=0.0, blur=0.0, contour=0.0)


def _values(options: ClusterOptions, keys=COMPACT) -> dict:
    return {k: getattr(options, k) for k in keys}


def test_presets_hold_the_chosen_values():
    assert PRESETS == {"compact": COMPACT, "fast": FAST, "paper": PAPER}
    assert lnsnet.cluster.DEFAULT_PRESET == "fast"
    assert _values(ClusterOptions()) == FAST  # constructing directly: the default preset
    assert _values(ClusterOptions.resolve()) == FAST
    assert _values(ClusterOptions.resolve("compact")) == COMPACT
    assert _values(ClusterOptions.resolve("paper")) == PAPER
    # dense mode starts from the paper's clustering (it takes compactness only)
    dense = ClusterOptions.resolve(mode="dense")
    assert dense.mode == "dense" and _values(dense) == PAPER
    assert ClusterOptions.resolve(mode="dense", compactness=0.5).compactness == 0.5


def test_options_beside_a_preset_win():
    assert _values(ClusterOptions.resolve("paper", smoothing=2.0)) == {**PAPER, "smoothing": 2.0}
    assert _values(ClusterOptions.resolve(iterations=0)) == {**FAST, "iterations": 0}
    assert _values(ClusterOptions.resolve("compact", iterations=0)) == {**COMPACT, "iterations": 0}
    assert ClusterOptions.resolve("compact", iterations=None).iterations == 5  # None: left out
    # the preset's feature_contrast only weighs the smoothing: turning smoothing off drops it
    assert ClusterOptions.resolve(smoothing=0.0).feature_contrast == 0.0


@pytest.mark.parametrize("kw,match", [
    (dict(mode="dense", preset="compact"), "mode='local'"),
    (dict(mode="dense", iterations=2), "mode='local'"),
    (dict(mode="dense", smoothing=1.0), "mode='local'"),
    (dict(mode="dense", edge_scale=1.0), "mode='local'"),
    (dict(preset="paper", feature_contrast=4.0), "needs smoothing"),
    (dict(smoothing=0.0, feature_contrast=1.0), "needs smoothing"),
    (dict(preset="fancy"), "allowed: 'compact', 'fast', 'paper'"),
    (dict(mode="fast"), "unknown mode"),
    (dict(seeds="random"), "unknown seeds"),
    (dict(window=4), "window"), (dict(window=0), "window"), (dict(window=2.0), "window"),
    (dict(iterations=-1), "iterations"), (dict(iterations=1.5), "iterations"), (dict(iterations=True), "iterations"),
    (dict(compactness=float("nan")), "compactness"), (dict(compactness="1"), "compactness"),
    (dict(smoothing=float("inf")), "smoothing"), (dict(edge_scale=-1.0), "edge_scale"),
    (dict(min_size_factor=-0.1), "min_size_factor"), (dict(max_excess=-1.0), "max_excess"),
])
def test_every_rule_is_checked_once_with_a_message_naming_it(kw, match):
    with pytest.raises(ValueError, match=match):
        ClusterOptions.resolve(**kw)


def test_unknown_fields_are_a_type_error():
    with pytest.raises(TypeError, match="unknown clustering option"):
        ClusterOptions.resolve(windw=5)


def test_options_are_frozen_and_replace_checks_again():
    o = ClusterOptions()
    with pytest.raises(dataclasses.FrozenInstanceError):
        o.compactness = 1.0
    with pytest.raises(TypeError):  # the presets are read-only too
        PRESETS["compact"]["compactness"] = 9.0
    with pytest.raises(TypeError, match="unknown clustering option windw"):
        o.replace(windw=5)
    # as in resolve: smoothing off drops the preset's feature_contrast, unless given
    assert o.replace(smoothing=0.0) == ClusterOptions.resolve(smoothing=0.0)
    with pytest.raises(ValueError, match="needs smoothing"):
        o.replace(smoothing=0.0, feature_contrast=1.0)
    assert ClusterOptions(mode=np.str_("dense"), **PAPER).mode.__class__ is str
    assert o.replace(compactness=2.0).compactness == 2.0 and o.compactness == 32.0
    assert o.replace(compactness=None) is o
    with pytest.raises(ValueError, match="window"):
        o.replace(window=6)


def test_parse_reads_presets_and_typed_values():
    assert ClusterOptions.parse("") == ClusterOptions()
    assert ClusterOptions.parse("paper") == ClusterOptions.resolve("paper")
    assert ClusterOptions.parse("clustering=paper") == ClusterOptions.parse("paper")
    o = ClusterOptions.parse("paper:window=5:compactness=1.5:seeds=learned:max_excess=inf")
    assert (o.window, o.compactness, o.seeds, o.max_excess) == (5, 1.5, "learned", float("inf"))
    assert o.max_segments(100) is None
    assert isinstance(o.window, int)
    assert ClusterOptions.parse(ClusterOptions.resolve("paper", window=7).spec()) == ClusterOptions.resolve(
        "paper", window=7)


@pytest.mark.parametrize("spec,match", [("window=five", "not an integer"), ("compactness=x", "not a number"),
                                        ("windw=3", "unknown clustering option"), ("paper:paper", "twice"),
                                        ("iterations=2.5", "not an integer"), ("paper:feature_contrast=1", "smoothing"),
                                        ("compact:paper", "a preset given twice"), ("seeds", "needs a value: seeds=VALUE"),
                                        ("preset=paper", "unknown clustering option 'preset'"),
                                        ("max_excess=none", "not a number")])
def test_parse_refuses_bad_specs(spec, match):
    with pytest.raises(ValueError, match=match):
        ClusterOptions.parse(spec)


def test_api_cli_and_benchmark_names_resolve_alike():
    # one parser: the same spec gives the same options from every entry point
    for spec in ("", "paper", "paper:compactness=1", "compactness=3.35:feature_contrast=0", "mode=dense",
                 "smoothing=0", "iterations=2:window=5"):
        want = ClusterOptions.parse(spec)
        assert ClusterOptions.of(spec) == want
        assert lnsnet_clustering("lnsnet" + (":" + spec if spec else "")) == want
    assert lnsnet_clustering("slic") is None
    # segment's own compactness/min_size_factor keywords win over the spec's
    assert ClusterOptions.of("paper:compactness=1", compactness=2.0).compactness == 2.0
    assert ClusterOptions.of(ClusterOptions(), min_size_factor=0.5).min_size_factor == 0.5
    with pytest.raises(TypeError, match="clustering must be"):
        ClusterOptions.of(3)


def test_the_rules_that_decide_where_clustering_runs():
    compact, paper = ClusterOptions(), ClusterOptions.resolve("paper")
    assert compact.refines and not paper.refines
    assert compact.on_cpu("cpu") and not compact.on_cpu("cuda")  # the compact steps in torch on a GPU
    assert paper.on_cpu("cpu") and not paper.on_cpu("cuda")  # torch on a GPU
    assert not ClusterOptions.resolve(mode="dense").on_cpu("cpu")  # dense mode: torch
    assert compact.uses_feature_contrast and not paper.uses_feature_contrast
    assert compact.max_segments(100) == 110 and ClusterOptions(max_excess=float("inf")).max_segments(100) is None


def test_segment_takes_names_specs_and_objects_alike(blocks):
    a = lnsnet.segment(blocks, 12, clustering="paper")
    assert np.array_equal(a, lnsnet.segment(blocks, 12, clustering=ClusterOptions.resolve("paper")))
    assert np.array_equal(a, lnsnet.segment(blocks, 12, clustering="features=learned:compactness=0:edge_scale=0:"
                                                                  "iterations=0:smoothing=0:feature_contrast=0:"
                                                                  "input_weight=0:blur=0"))
    assert not np.array_equal(a, lnsnet.segment(blocks, 12))  # the default (fast) differs
