import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from engine.quantize import quantize

finite = st.floats(-10, 10, allow_nan=False, width=32)


@given(arrays(np.float32, st.tuples(st.integers(1, 8), st.integers(1, 16)), elements=finite))
def test_quantization_error_is_within_half_a_step(vectors):
    q = quantize(vectors)
    assert q.codes.dtype == np.int8 and q.codes.shape == vectors.shape
    assert np.all(np.abs(q.dequantize() - vectors) <= q.scales[:, None] * 0.5 + 1e-6)


def test_zero_and_subnormal_rows_quantize_to_zero():
    q = quantize(np.array([[0.0, 0.0], [1e-45, -1e-45]], dtype=np.float32))
    assert np.all(q.codes == 0) and np.all(q.scales > 0)


def test_unit_vectors_keep_their_cosines():
    rng = np.random.default_rng(1)
    v = rng.standard_normal((50, 384)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    d = quantize(v).dequantize()
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    assert np.abs(d @ d.T - v @ v.T).max() < 0.01
