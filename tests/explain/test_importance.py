"""Known-answer tests of IF, contributions, rankings and Spearman."""

import numpy as np
import pytest

from keras_daam import explain


def test_importance_factor_global_minmax():
    maps = np.array([[0.2, 0.4, 0.6], [0.6, 1.0, 0.2]])
    out = explain.importance_factor(maps)
    expected = (maps - 0.2) / 0.8
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    assert out.dtype == np.float32
    assert out.min() == 0.0 and out.max() == 1.0


def test_importance_factor_per_layer():
    maps = np.array([[1.0, 3.0, 2.0], [10.0, 10.0, 30.0]])
    out = explain.importance_factor(maps, per_layer=True)
    np.testing.assert_allclose(out, [[0.0, 1.0, 0.5], [0.0, 0.0, 1.0]])
    # Global scaling differs: the first row is squeezed near 0.
    glob = explain.importance_factor(maps)
    assert glob[0].max() < 0.1


def test_importance_factor_higher_rank_per_layer():
    maps = np.arange(2 * 2 * 3, dtype=float).reshape(2, 2, 3)
    out = explain.importance_factor(maps, per_layer=True)
    np.testing.assert_allclose(out[0].ravel(), np.linspace(0, 1, 6))
    np.testing.assert_allclose(out[1].ravel(), np.linspace(0, 1, 6))


@pytest.mark.parametrize("per_layer", [False, True])
def test_constant_map_gives_zeros_not_nan(per_layer):
    out = explain.importance_factor(np.full((4, 5), 0.7), per_layer=per_layer)
    assert np.all(out == 0.0)
    contrib = explain.layer_contribution(out)
    np.testing.assert_allclose(contrib, np.full(4, 25.0))


def test_constant_row_per_layer_zero_other_rows_scaled():
    maps = np.array([[0.5, 0.5], [0.1, 0.3]])
    out = explain.importance_factor(maps, per_layer=True)
    np.testing.assert_allclose(out, [[0.0, 0.0], [0.0, 1.0]])


def test_nan_entries_ignored_and_kept():
    maps = np.array([[np.nan, 2.0], [4.0, 6.0]])
    out = explain.importance_factor(maps)
    assert np.isnan(out[0, 0])
    np.testing.assert_allclose(out[0, 1:], [0.0])
    np.testing.assert_allclose(out[1], [0.5, 1.0])
    # NaN counts as 0 in contributions.
    np.testing.assert_allclose(explain.layer_contribution(out), [0.0, 100.0])


def test_importance_factor_rejects_bad_input():
    with pytest.raises(ValueError, match="non-empty"):
        explain.importance_factor(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="Inf"):
        explain.importance_factor(np.array([[1.0, np.inf]]))
    with pytest.raises(ValueError, match="rank >= 2"):
        explain.importance_factor(np.ones(3), per_layer=True)


def test_layer_contribution_known_answer_and_sum():
    if_map = np.array([[1.0, 1.0], [0.0, 2.0], [3.0, 1.0]])
    out = explain.layer_contribution(if_map)
    np.testing.assert_allclose(out, [25.0, 25.0, 50.0])
    rng = np.random.default_rng(0)
    for shape in [(6, 384), (24, 10), (40, 7)]:
        c = explain.layer_contribution(
            explain.importance_factor(rng.random(shape))
        )
        assert c.shape == (shape[0],)
        np.testing.assert_allclose(c.sum(), 100.0)
    # Per-layer scores given directly.
    np.testing.assert_allclose(
        explain.layer_contribution([1.0, 3.0]), [25.0, 75.0]
    )


def test_layer_contribution_rejects_negative():
    with pytest.raises(ValueError, match="non-negative"):
        explain.layer_contribution(np.array([[1.0, -1.0], [1.0, 1.0]]))


def test_top_and_bottom_k():
    if_map = np.array(
        [[0.1, 0.1], [0.9, 0.8], [0.5, 0.5], [0.0, 0.05], [0.9, 0.8]]
    )
    # Row sums: 0.2, 1.7, 1.0, 0.05, 1.7 -> ties broken by lower index.
    np.testing.assert_array_equal(explain.top_k_layers(if_map, 3), [1, 4, 2])
    np.testing.assert_array_equal(explain.bottom_k_layers(if_map, 2), [3, 0])
    np.testing.assert_array_equal(
        explain.top_k_layers(np.array([3.0, 1.0, 2.0]), 1), [0]
    )
    full = explain.top_k_layers(if_map, 5)
    assert sorted(full.tolist()) == [0, 1, 2, 3, 4]
    for bad in (0, 6):
        with pytest.raises(ValueError, match="between 1 and"):
            explain.top_k_layers(if_map, bad)
    with pytest.raises(ValueError, match="integer"):
        explain.bottom_k_layers(if_map, 1.5)


def test_spearman_hand_computed():
    # No ties: d = rank differences (0, 2, 1, 1, 2) -> 1 - 6*10/(5*24)
    a = [10.0, 20.0, 30.0, 40.0, 50.0]
    b = [1.0, 5.0, 2.0, 3.0, 4.0]  # ranks 1, 5, 2, 3, 4
    d2 = 0 + 9 + 1 + 1 + 1
    expected = 1 - 6 * d2 / (5 * (25 - 1))
    assert explain.spearman_rank_correlation(a, b) == pytest.approx(expected)
    assert explain.spearman_rank_correlation(a, a) == pytest.approx(1.0)
    assert explain.spearman_rank_correlation(a, a[::-1]) == pytest.approx(-1)


def test_spearman_with_ties_matches_pearson_of_average_ranks():
    a = [1.0, 2.0, 2.0, 4.0]  # ranks 1, 2.5, 2.5, 4
    b = [3.0, 1.0, 2.0, 4.0]  # ranks 3, 1, 2, 4
    ra = np.array([1, 2.5, 2.5, 4]) - 2.5
    rb = np.array([3, 1, 2, 4]) - 2.5
    expected = (ra @ rb) / np.sqrt((ra @ ra) * (rb @ rb))
    assert explain.spearman_rank_correlation(a, b) == pytest.approx(expected)


def test_spearman_matches_scipy():
    from scipy import stats

    rng = np.random.default_rng(1)
    for _ in range(5):
        a = rng.integers(0, 5, 30).astype(float)  # many ties
        b = a + rng.normal(size=30)
        ref = stats.spearmanr(a, b).statistic
        assert explain.spearman_rank_correlation(a, b) == pytest.approx(ref)


def test_spearman_degenerate_inputs():
    assert np.isnan(explain.spearman_rank_correlation([1, 1, 1], [1, 2, 3]))
    assert np.isnan(explain.spearman_rank_correlation([1, 2, 3], [4, 4, 4]))
    assert np.isnan(explain.spearman_rank_correlation([1.0], [2.0]))
    with pytest.raises(ValueError, match="same length"):
        explain.spearman_rank_correlation([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="NaN"):
        explain.spearman_rank_correlation([1, np.nan], [1, 2])


def test_class_profiles_joint_scaling():
    maps = {0: np.zeros((3, 2)), 1: np.ones((3, 2)) * 2.0}
    maps[1][2] = 4.0
    classes, profiles = explain.class_profiles(maps)
    assert classes == [0, 1]
    # Global min 0, max 4 over both classes.
    np.testing.assert_allclose(profiles, [[0, 0, 0], [0.5, 0.5, 1.0]])
    _, separate = explain.class_profiles(maps, per_class=True)
    np.testing.assert_allclose(separate, [[0, 0, 0], [0, 0, 1.0]])
