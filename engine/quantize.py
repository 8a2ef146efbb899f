"""Scalar int8 quantization of embedding vectors, one scale per vector."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class QuantizedVectors:
    """int8 codes with one float scale per row: value ≈ code * scale."""

    codes: np.ndarray  # (n, dim) int8
    scales: np.ndarray  # (n,) float32

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    def dequantize(self) -> np.ndarray:
        return self.codes.astype(np.float32) * self.scales[:, None]


def quantize(vectors: np.ndarray) -> QuantizedVectors:
    """Quantize rows symmetrically so each row's largest magnitude maps to 127."""
    vectors = np.asarray(vectors, dtype=np.float32)
    peak = np.abs(vectors).max(axis=1) if len(vectors) else np.zeros(0, np.float32)
    # A row whose peak is zero or subnormal would get a scale that underflows to 0.
    usable = peak >= np.finfo(np.float32).tiny * 127.0
    scales = np.where(usable, peak / 127.0, 1.0).astype(np.float32)
    codes = np.clip(np.rint(vectors / scales[:, None]), -127, 127).astype(np.int8)
    return QuantizedVectors(codes, scales)
