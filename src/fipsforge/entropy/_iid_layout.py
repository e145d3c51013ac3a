"""Where each SP 800-90B §5.1 permutation statistic sits in a row of results (numba-free, so the
IID track can name them without importing the compiled kernels' source module)."""

LAGS = (1, 2, 8, 16, 32)
STATISTICS = 19
