"""The same work in PyTorch / NumPy (OpenBLAS), for bench/index.ts to put lowrank's numbers beside.

    /usr/bin/python3 bench/reference.py svd M N RANK
    /usr/bin/python3 bench/reference.py train cnn|mlp THREADS

Prints one JSON object. Never run in CI or tests: only where Debian's python3-torch, python3-numpy
and libopenblas0-pthread are installed. The models are the factorized ones bench/train.ts trains
(the CNN at rank 16, the MLP at rank 24), on the same Fashion-MNIST images when installed, with Adam
(lr 1e-3) and batch 32; samples/s is that of the second epoch, as there.
"""
import gzip
import json
import os
import sys
import time

import numpy as np

FASHION = '/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz'
LABELS = '/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz'


def images(count):
    if os.path.exists(FASHION) and os.path.exists(LABELS):
        with gzip.open(FASHION) as f:
            pixels = np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 784)
        with gzip.open(LABELS) as f:
            classes = np.frombuffer(f.read(), dtype=np.uint8, offset=8)
        idx = np.arange(count) % len(pixels)
        return (pixels[idx] / 255.0).astype(np.float32), classes[idx].astype(np.int64)
    rng = np.random.default_rng(11)
    return rng.random((count, 784), dtype=np.float32), rng.integers(0, 10, count)


def svd(m, n, rank):
    import torch
    rng = np.random.default_rng(m + n)
    w = rng.standard_normal((m, n)).astype(np.float32)
    start = time.perf_counter()
    s = np.linalg.svd(w, compute_uv=True, full_matrices=False)[1]
    full = time.perf_counter() - start
    exact = float(np.sqrt(np.sum(s[rank:] ** 2) / np.sum(s ** 2)))
    t = torch.from_numpy(w)
    torch.manual_seed(42)
    start = time.perf_counter()
    u, sv, v = torch.svd_lowrank(t, q=rank + 10, niter=3)
    low = time.perf_counter() - start
    approx = u[:, :rank] @ torch.diag(sv[:rank]) @ v[:, :rank].T
    error = float(torch.linalg.norm(t - approx) / torch.linalg.norm(t))
    print(json.dumps({'numpyFullMs': full * 1000, 'torchLowrankMs': low * 1000, 'exactError': exact, 'torchLowrankError': error}))


def train(kind, threads):
    import torch
    import torch.nn as nn
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    if kind == 'cnn':
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.c1 = nn.Conv2d(1, 32, 3)
                self.c2a, self.c2b = nn.Conv2d(32, 16, 3, bias=False), nn.Conv2d(16, 64, 1)
                self.d1a, self.d1b = nn.Linear(1600, 16, bias=False), nn.Linear(16, 128)
                self.d2 = nn.Linear(128, 10)

            def forward(self, x):
                x = torch.max_pool2d(torch.relu(self.c1(x)), 2)
                x = torch.max_pool2d(torch.relu(self.c2b(self.c2a(x))), 2)
                return self.d2(torch.relu(self.d1b(self.d1a(x.flatten(1)))))
        count = 3200
    else:
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.a1, self.b1 = nn.Linear(784, 24, bias=False), nn.Linear(24, 512)
                self.a2, self.b2 = nn.Linear(512, 24, bias=False), nn.Linear(24, 256)
                self.d3 = nn.Linear(256, 10)

            def forward(self, x):
                x = torch.relu(self.b1(self.a1(x)))
                x = torch.relu(self.b2(self.a2(x)))
                return self.d3(x)
        count = 32000
    x, y = images(count)
    xs = torch.from_numpy(x).reshape(count, 1, 28, 28) if kind == 'cnn' else torch.from_numpy(x)
    ys = torch.from_numpy(y)
    model = Net()
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)

    def epoch():
        for i in range(0, count, 32):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(xs[i:i + 32]), ys[i:i + 32])
            loss.backward()
            optimizer.step()

    epoch()
    start = time.perf_counter()
    cpu = time.process_time()
    epoch()
    print(json.dumps({'samplesPerSecond': count / (time.perf_counter() - start), 'cpuSamplesPerSecond': count / (time.process_time() - cpu), 'threads': threads}))


if __name__ == '__main__':
    if sys.argv[1] == 'svd':
        svd(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    else:
        train(sys.argv[2], int(sys.argv[3]))
