"""skorch 1.4 on the throughput benchmark's network and data; run with skorch's own venv:

    /tmp/skorch_venv/bin/python tests/bench/skorch_throughput.py ROWS EPOCHS

Prints the fit's wall seconds. No validation split, as in the other contenders.
"""

from __future__ import annotations

import sys
import time

import torch
from skorch import NeuralNetClassifier
from throughput_data import BATCH, LR, make_data, make_network
from torch import nn

rows, epochs = int(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(2)
X, y = make_data(rows)
torch.manual_seed(0)
net = NeuralNetClassifier(make_network(), criterion=nn.CrossEntropyLoss,
                          optimizer=torch.optim.Adam, lr=LR, batch_size=BATCH,
                          max_epochs=epochs, train_split=None, iterator_train__shuffle=True,
                          verbose=0)
started = time.perf_counter()
net.fit(X, y)
print(time.perf_counter() - started)
