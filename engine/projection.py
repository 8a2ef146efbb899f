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

Centred, projected passages no longer have equal norms, and an inner-product graph
over vectors of unequal norms navigates badly (at a million vectors: recall@10 0.91
against 0.998).  So each passage gets one more coordinate, sqrt(R² − |y|²), and each
query a 0 there: every passage then has norm R, and the Euclidean nearest neighbours
of the query are exactly its largest inner products (Bachrach et al., 2014, "Speeding
up the Xbox recommender system using a Euclidean transformation for inner-product
spaces").  The graph is built in that Euclidean space.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from engine.vectors import UnitRows, select_rows

# Vectors sampled to fit the projection: the covariance of a 384-d model is estimated
# well from far fewer, and the fit stays a fraction of a second.
FIT_SAMPLE = 50_000


def reduced_dim(dim: int) -> int:
    """How many principal components the graph keeps for a model of `dim` dimensions.

    Small models are not reduced; larger ones keep a sixth (64 of MiniLM's 384, 128 of
    a 768-d model), within the 4–6x reductions LeanVec reports as keeping recall.
    """
    return dim if dim <= 128 else max(64, dim // 6)


class Projection:
    """x ↦ [(x − mean)·basis, sqrt(R² − |·|²)] for passages, q ↦ [q·basis, 0] for
    queries; Euclidean distance between them ranks passages by inner product."""

    def __init__(self, mean: np.ndarray, basis: np.ndarray, radius: float) -> None:
        self.mean = np.ascontiguousarray(mean, dtype=np.float32)
        self.basis = np.ascontiguousarray(basis, dtype=np.float32)  # (dim, reduced)
        self.radius = float(radius)

    @property
    def dim(self) -> int:
        return int(self.basis.shape[0])

    @property
    def reduced(self) -> int:
        """Dimensions of the graph's vectors (the components plus the norm coordinate)."""
        return int(self.basis.shape[1]) + 1

    @classmethod
    def fit(cls, vectors: np.ndarray | UnitRows, components: int, seed: int = 0
            ) -> Projection:
        """Principal components of (a sample of) `vectors`, largest first."""
        if not isinstance(vectors, UnitRows):  # codes stay codes: read a block at a time
            vectors = np.asarray(vectors, dtype=np.float32)
        if len(vectors) > FIT_SAMPLE:
            pick = np.sort(np.random.default_rng(seed).choice(len(vectors), FIT_SAMPLE,
                                                              replace=False))
            vectors = select_rows(vectors, pick)
        mean = sum((block.sum(axis=0) for block in _blocks(vectors)),
                   np.zeros(vectors.shape[1])) / max(len(vectors), 1)
        # Block by block: a float64 copy of 50,000 rows would be 150 MB at the peak
        # of a first index (docs/performance.md, "Memory of a first index").
        cov = np.zeros((vectors.shape[1], vectors.shape[1]))
        for block in _blocks(vectors):
            centred = block - mean
            cov += centred.T @ centred
        cov /= max(len(vectors) - 1, 1)
        _, eigvecs = np.linalg.eigh(cov)  # ascending eigenvalues
        basis = eigvecs[:, ::-1][:, :components]
        largest = max((float(np.linalg.norm((block - mean) @ basis, axis=1).max())
                       for block in _blocks(vectors)), default=0.0)
        # Head-room for later passages; one beyond it gets 0 as its norm coordinate
        # (its distances are then slightly off, never wrong in sign).
        radius = 1.05 * largest if len(vectors) else 1.0
        return cls(mean.astype(np.float32), basis, radius)

    def passages(self, vectors: np.ndarray | UnitRows) -> np.ndarray:
        y = (np.asarray(vectors, dtype=np.float32) - self.mean) @ self.basis
        extra = np.sqrt(np.maximum(self.radius ** 2 - np.einsum("ij,ij->i", y, y), 0.0))
        return np.hstack([y, extra[:, None].astype(np.float32)])

    def query(self, vector: np.ndarray) -> np.ndarray:
        return np.append(np.asarray(vector, dtype=np.float32) @ self.basis,
                         np.float32(0.0)).astype(np.float32)

    def to_bytes(self) -> bytes:
        return (np.array([self.radius], np.float32).tobytes() + self.mean.tobytes()
                + self.basis.tobytes())

    @classmethod
    def from_bytes(cls, blob: bytes, dim: int, reduced: int) -> Projection:
        """Inverse of `to_bytes`; `reduced` counts the norm coordinate, as `.reduced` does."""
        components = reduced - 1
        if components < 1 or len(blob) != 4 * (1 + dim * (1 + components)):
            raise ValueError("projection size does not match its header")
        arr = np.frombuffer(blob, dtype=np.float32)
        mean = arr[1:dim + 1].copy()
        return cls(mean, arr[dim + 1:].reshape(dim, components).copy(), float(arr[0]))


def _blocks(vectors: np.ndarray | UnitRows, rows: int = 2048) -> Iterator[np.ndarray]:
    """`vectors` as float64 blocks of `rows` rows."""
    for start in range(0, len(vectors), rows):
        yield vectors[start:start + rows].astype(np.float64)
