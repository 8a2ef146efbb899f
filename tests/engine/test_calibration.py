"""The model's chance level of similarity, for the floor and the feedback rule."""

import numpy as np

from engine.calibration import Unrelated, measure_unrelated
from tests.helpers import RandomEmbedder


def test_random_vectors_are_unrelated_with_a_small_spread():
    unrelated = measure_unrelated(RandomEmbedder())
    assert abs(unrelated.mean) < 0.02
    assert 0.0 < unrelated.sd < 0.1
    assert unrelated.mean < unrelated.cosine < unrelated.mean + 4 * unrelated.sd


def test_the_best_of_many_unrelated_passages_stays_below_its_bound():
    rng = np.random.default_rng(0)
    dim, n = 384, 2000
    query = rng.standard_normal(dim)
    query /= np.linalg.norm(query)
    cosines = []
    for _ in range(100):
        rows = rng.standard_normal((n, dim))
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
        cosines.append(float((rows @ query).max()))
    unrelated = Unrelated(cosine=0.0, mean=0.0, sd=1 / np.sqrt(dim))
    bound = unrelated.best_of(n)
    assert np.mean(np.array(cosines) < bound) >= 0.95  # the bound is the 99th percentile
    assert bound - np.median(cosines) < 2 * unrelated.sd  # and not a loose one
    assert unrelated.best_of(10) < bound < unrelated.best_of(1_000_000)
