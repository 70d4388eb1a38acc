"""The `encoding` group of `ventral bench` in scikit-learn (called by baselines.py as the
`scikit-learn` implementation; `--only encoding`). Workload strings are ventral's, character for
character (src/bench.rs, `encoding_benchmarks`); sizes follow `--quick` the same way.

  sparse projection N × P → K (streamed)
      SparseRandomProjection(n_components=K, density='auto', random_state=0).fit on the first
      batch (it draws the K × P matrix; only the shape of X is used), then .transform of the
      N rows in batches of 16 float32 rows, each batch generated (seeded numpy, in one reused
      buffer) just before it is projected; the whole N × P input is never held. The time is fit +
      every transform; the generation is reported in the note, untimed. Output float32 (scikit-learn
      casts the matrix to X's dtype; ventral sums in f64).
  ridge loo n/m × P → V voxels, 7 alphas
      make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-1, 5, 7), alpha_per_target=True))
      (gcv_mode auto = the eigendecomposition of the Gram matrix when P > n; scoring None = the
      mean squared LOO error, as ventral's Select::R2) .fit on the even rows, .predict on the odd
      rows. X [2n, P] and Y [2n, V]: a latent L [2n, 16], X = L·Gx + E, Y = L·Gy + E', factors
      and noise uniform, signal and noise each of unit variance (ventral's design, numpy's draw).

Each workload runs once (as ventral's), wall clock; the projection runs first, so that
`ru_maxrss` (the process's lifetime peak, which cannot be reset) is the projection's. Where
/proc/self/clear_refs is writable, the peak (VmHWM) is also reset before each workload and read
after it: `peak_rss_bytes`, as ventral reports it.
"""
import resource
import sys
import time

import numpy as np

BATCH = 16


def sizes(quick):
    return {
        "projection": (100, 20_000, 1000) if quick else (1000, 802_816, 5920),
        "ridge": (200, 600, 500) if quick else (1000, 5920, 10_000),
    }


def _reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _status_bytes(field):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _ru_maxrss_bytes():
    # kB on Linux, bytes on macOS.
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r if sys.platform == "darwin" else r * 1024


def _threads(n):
    return f"{n} thread" + ("" if n == 1 else "s")


def _mib(b):
    return "?" if b is None else f"{b / 2 ** 20:.1f} MiB"


def _memory(result, reset, resident):
    peak = _status_bytes("VmHWM") if reset else None
    result["peak_rss_bytes"] = peak
    result["peak_rss_reset"] = reset
    result["ru_maxrss_bytes"] = _ru_maxrss_bytes()
    how = "VmHWM reset before the workload" if reset else "no reset"
    return (f"peak RSS {_mib(peak)} ({how}, {_mib(resident)} resident before); "
            f"ru_maxrss {_mib(result['ru_maxrss_bytes'])}")


def projection(summary, n, p, k, threads):
    from sklearn.random_projection import SparseRandomProjection
    reset = _reset_peak()
    resident = _status_bytes("VmRSS")
    rng = np.random.default_rng(8)
    batch = np.empty((BATCH, p), dtype=np.float32)
    z = np.empty((n, k), dtype=np.float32)
    generating = projecting = 0.0
    srp, drawn = None, 0.0
    for start in range(0, n, BATCH):
        rows = min(BATCH, n - start)
        t = time.perf_counter()
        f = batch[:rows]
        rng.random(out=f, dtype=np.float32)
        f *= 2
        f -= 1
        generating += time.perf_counter() - t
        if srp is None:
            t = time.perf_counter()
            srp = SparseRandomProjection(n_components=k, density="auto", random_state=0).fit(f)
            drawn = time.perf_counter() - t
        t = time.perf_counter()
        z[start:start + rows] = srp.transform(f)
        projecting += time.perf_counter() - t
    assert np.isfinite(z).all()
    nnz = srp.components_.nnz
    w = f"sparse projection {n} × {p} → {k} (streamed)"
    seconds = drawn + projecting
    matrix = srp.components_.data.nbytes + srp.components_.indices.nbytes + srp.components_.indptr.nbytes
    out = summary("encoding", w, w, 2.0 * n * nnz, 4.0 * n * p + 8.0 * n * k + matrix, seconds, [seconds])
    mem = _memory(out, reset, resident)
    out["note"] = (f"one run, {_threads(threads)}: fit (matrix drawn) {drawn:.3f} s (nnz {nnz}, {_mib(matrix)}), "
                   f"{-(-n // BATCH)} batches of {BATCH} rows transformed in {projecting:.3f} s; input generated "
                   f"per batch in {generating:.3f} s, not timed; {mem}")
    return out


def ridge_data(n, p, v):
    rank = 16
    rng = np.random.default_rng(9)
    latent = rng.uniform(-1, 1, (n, rank))
    scale = np.sqrt(9 / rank)

    def signal(cols):
        g = rng.uniform(-1, 1, (rank, cols))
        m = np.sqrt(3) * rng.uniform(-1, 1, (n, cols))
        m += scale * (latent @ g)
        return m

    x = signal(p)
    y = signal(v)
    return x, y


def ridge(summary, n, p, v, threads):
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    x, y = ridge_data(n, p, v)
    x_train, y_train = np.ascontiguousarray(x[0::2]), np.ascontiguousarray(y[0::2])
    x_test, y_test = np.ascontiguousarray(x[1::2]), np.ascontiguousarray(y[1::2])
    del x, y
    alphas = np.logspace(-1, 5, 7)
    reset = _reset_peak()
    resident = _status_bytes("VmRSS")
    t = time.perf_counter()
    model = make_pipeline(StandardScaler(), RidgeCV(alphas=alphas, alpha_per_target=True))
    model.fit(x_train, y_train)
    fitted = time.perf_counter() - t
    predicted = model.predict(x_test)
    seconds = time.perf_counter() - t
    a = y_test - y_test.mean(0)
    b = predicted - predicted.mean(0)
    r = (a * b).sum(0) / np.sqrt((a * a).sum(0) * (b * b).sum(0))
    chosen = model[-1].alpha_
    # As ventral prints them: 1e-1, 1e0, …, 1e5 (the grid is powers of ten).
    counts = ", ".join(f"1e{round(np.log10(al))}: {c}" for al in alphas if (c := int((chosen == al).sum())) > 0)
    m = x_test.shape[0]
    w = f"ridge loo {x_train.shape[0]}/{m} × {p} → {v} voxels, {len(alphas)} alphas"
    out = summary("encoding", w, w, 0.0, 0.0, seconds, [seconds])
    mem = _memory(out, reset, resident)
    out["note"] = (f"one run, {_threads(threads)}: fit {fitted:.3f} s + predict {seconds - fitted:.3f} s; median "
                   f"test r {np.median(r):.3f} over {v} voxels; alphas chosen {counts}; {mem}")
    return out


def results(summary, quick, threads):
    """Both workloads, the projection first (see the module's docstring)."""
    sz = sizes(quick)
    return [projection(summary, *sz["projection"], threads), ridge(summary, *sz["ridge"], threads)]


if __name__ == "__main__":
    sys.exit("run through baselines.py: python benches/baselines/baselines.py --only encoding --threads 2 --out DIR")
