"""Long calls release the GIL: other Python threads run meanwhile, and concurrent run() calls on
one model give the single-threaded answer."""

import threading
import time

import numpy as np

import dnnfi
from conftest import DEMO, needs_fmnist


class Spinner:
    """A Python thread counting as fast as it can; it advances only while it holds the GIL."""

    def __init__(self):
        self.count = 0
        self.stop = False
        self.thread = threading.Thread(target=self._spin)

    def _spin(self):
        while not self.stop:
            self.count += 1

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop = True
        self.thread.join()


def progress_during(call):
    """How far the spinner got while `call` ran (0 if the call held the GIL throughout). The
    spinner is counting before the call starts: on a loaded machine a new thread can take longer
    to be scheduled than a short call takes."""
    with Spinner() as s:
        while s.count == 0:
            time.sleep(0.001)
        before = s.count
        call()
        return s.count - before


def test_run_releases_the_gil(model, sample):
    batch = np.repeat(sample, 256, axis=0)
    model.run(batch)  # session for this batch size made outside the measurement
    assert progress_during(lambda: model.run(batch)) > 1000


def test_inject_releases_the_gil(model, sample):
    g = model.golden(sample)
    fault = dnnfi.Fault.bitflip("/stem/stem.0/Conv", 0, 30)
    assert progress_during(lambda: [model.inject(g, fault, strategy="full")
                                    for _ in range(200)]) > 1000


def test_concurrent_runs(model, sample):
    inputs = [sample * s for s in (1.0, -1.0, 0.5, 2.0)]
    want = [model.run(x).tobytes() for x in inputs]
    got = {}

    def worker(k):
        for _ in range(25):
            for i, x in enumerate(inputs):
                y = model.run(x).tobytes()
                if y != want[i]:
                    got[k] = f"input {i} differs"
                    return
        got.setdefault(k, "ok")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == {k: "ok" for k in range(4)}


@needs_fmnist
def test_campaign_releases_the_gil(tmp_path):
    c = dnnfi.Campaign(DEMO, output=str(tmp_path / "py"), trials=5000, samples=200, threads=2)
    assert progress_during(lambda: c.run(progress=False)) > 1000


@needs_fmnist
def test_campaign_in_a_thread(tmp_path):
    """A campaign on a worker thread (no signal checks there) while this thread works."""
    c = dnnfi.Campaign(DEMO, output=str(tmp_path / "py"), trials=3000, samples=100, threads=2)
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("r", c.run(progress=False)))
    t.start()
    n = 0
    while t.is_alive():
        n += 1
    t.join()
    assert result["r"].complete and n > 1000
