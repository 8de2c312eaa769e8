"""Sparse and dense matrix helpers shared by the batch, the signals and MMR.

Pure numpy/scipy; imports only :mod:`digest.rank.budgets` from digest.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from . import budgets

Floats = npt.NDArray[np.float32]
Ints = npt.NDArray[np.intp]
Bools = npt.NDArray[np.bool_]


def csr(rows: Sequence[Sequence[tuple[int, float]]], n_cols: int) -> sp.csr_matrix:
    """A float32 CSR matrix from per-row (column, value) lists, columns kept in order."""
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(r) for r in rows], out=indptr[1:])
    nnz = int(indptr[-1])
    indices = np.fromiter((c for r in rows for c, _ in r), dtype=np.int64, count=nnz)
    data = np.fromiter((v for r in rows for _, v in r), dtype=np.float32, count=nnz)
    return sp.csr_matrix((data, indices, indptr), shape=(len(rows), n_cols))


def padded(lists: Sequence[Sequence[int]], pad: int) -> Ints:
    """A rows × longest matrix of the lists, padded with ``pad``."""
    width = max((len(x) for x in lists), default=0)
    out = np.full((len(lists), width), pad, dtype=np.intp)
    for i, x in enumerate(lists):
        out[i, : len(x)] = x
    return out


def dense_product(a: sp.csr_matrix, bt: sp.csr_matrix, *, extra_zero_row: bool = False) -> Floats:
    """``a @ bt`` as a dense float32 array, built in row blocks to bound sparse temporaries."""
    rows = a.shape[0]
    out = np.zeros((rows + int(extra_zero_row), bt.shape[1]), dtype=np.float32)
    step = max(1, budgets.CELL_BUDGET // max(bt.shape[1], 1))
    for start in range(0, rows, step):
        end = min(start + step, rows)
        out[start:end] = (a[start:end] @ bt).toarray()
    return out


def add_scaled(dense: Floats, m: sp.spmatrix, row_scale: Floats) -> None:
    """``dense += row_scale[:, None] * m`` for a sparse ``m`` without densifying it."""
    coo = sp.coo_matrix(m)  # from a CSR product: each (row, col) once
    dense[coo.row, coo.col] += row_scale[coo.row] * coo.data.astype(np.float32, copy=False)
