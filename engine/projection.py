"""Linear dimensionality reduction (PCA) for the graph's copy of the vectors.

The HNSW graph only has to find candidates; their scores are recomputed from the full
int8 vectors.  So the graph can hold a reduced copy (the idea of LeanVec: linear
reduction, then exact rescoring).  Sentence embeddings suit this: on MiniLM vectors of
Cranfield and Python documentation, 64 of 384 principal components carry 73 % of the
variance and the eigenvalues fall as a power law (exponent ≈ 1), and the top 100 by
the reduced inner product held 99.9 % of the true top 10.

Ranking by the inner product needs no centring of the query: for a passage x and the
mean m, q·x = q·m + q·(x − m), and q·m is the same for every passage; so passages are
centred and projected, queries only projected.
"""

from __future__ import annotations

import numpy as np

# Vectors sampled to fit the projection: the covariance of a 384-d model is estimated
# well from far fewer, and the fit stays a fraction of a second.
FIT_SAMPLE = 50_000


def reduced_dim(dim: int) -> int:
    """How many components the graph keeps for a model of `dim` dimensions.

    Small models are not reduced; larger ones keep a sixth (64 of MiniLM's 384, 128 of
    a 768-d model), within the 4–6x reductions LeanVec reports as keeping recall.
    """
    return dim if dim <= 128 else max(64, dim // 6)


class Projection:
    """x ↦ (x − mean) · basis for passages, q ↦ q · basis for queries."""

    def __init__(self, mean: np.ndarray, basis: np.ndarray) -> None:
        self.mean = np.ascontiguousarray(mean, dtype=np.float32)
        self.basis = np.ascontiguousarray(basis, dtype=np.float32)  # (dim, reduced)

    @property
    def dim(self) -> int:
        return int(self.basis.shape[0])

    @property
    def reduced(self) -> int:
        return int(self.basis.shape[1])

    @classmethod
    def fit(cls, vectors: np.ndarray, reduced: int, seed: int = 0) -> Projection:
        """Principal components of (a sample of) `vectors`, largest first."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if len(vectors) > FIT_SAMPLE:
            pick = np.random.default_rng(seed).choice(len(vectors), FIT_SAMPLE, replace=False)
            vectors = vectors[np.sort(pick)]
        mean = vectors.mean(axis=0)
        centred = (vectors - mean).astype(np.float64)
        cov = centred.T @ centred / max(len(vectors) - 1, 1)
        _, eigvecs = np.linalg.eigh(cov)  # ascending eigenvalues
        return cls(mean, eigvecs[:, ::-1][:, :reduced])

    @classmethod
    def identity(cls, dim: int) -> Projection:
        return cls(np.zeros(dim, np.float32), np.eye(dim, dtype=np.float32))

    def passages(self, vectors: np.ndarray) -> np.ndarray:
        return (np.asarray(vectors, dtype=np.float32) - self.mean) @ self.basis

    def query(self, vector: np.ndarray) -> np.ndarray:
        return np.asarray(vector, dtype=np.float32) @ self.basis

    def to_bytes(self) -> bytes:
        return self.mean.tobytes() + self.basis.tobytes()

    @classmethod
    def from_bytes(cls, blob: bytes, dim: int, reduced: int) -> Projection:
        if len(blob) != 4 * dim * (1 + reduced):
            raise ValueError("projection size does not match its header")
        arr = np.frombuffer(blob, dtype=np.float32)
        return cls(arr[:dim].copy(), arr[dim:].reshape(dim, reduced).copy())
