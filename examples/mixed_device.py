"""Per-stage devices: the embedding table on the CPU, the recurrent network on
the GPU, trained end to end as one graph.

A large vocabulary's embedding table is mostly idle memory: each step reads only
the rows of its batch. Keeping it in host memory and sending just the looked-up
vectors to the GPU saves GPU memory; the copy between the stages is
differentiable, so the gradient flows back from the GPU network into the CPU
table. The transfer ledger (`fastgrad.cuda.transfers`) prints what that choice
costs per step, and `strict_transfers` guards the hot loop against hidden copies.

The task: sequences of 5..40 tokens from a 20000-word vocabulary; words
0..99 are "positive", 100..199 "negative", the rest neutral; the label says
whether a sequence holds more positive than negative words. Variable lengths go
through packed sequences.

    python examples/mixed_device.py                  # GPU if there is one
    python examples/mixed_device.py --device cpu     # everything on the CPU
    python examples/mixed_device.py --quick          # a few steps (CI smoke run)
"""

import argparse
import time

import fastgrad as fg
from fastgrad import nn
from fastgrad.nn.utils.rnn import pack_padded_sequence, pad_sequence

VOCAB, PAD = 20000, 0
POSITIVE, NEGATIVE = range(1, 100), range(100, 200)


def make_data(n, gen):
    """n token sequences (CPU tensors) and their labels."""
    seqs, labels = [], []
    for length in fg.randint(5, 41, (n,), generator=gen).tolist():
        # a third of the words carry sentiment, the rest are neutral
        kind = fg.randint(0, 3, (length,), generator=gen)
        words = fg.where(kind == 0, fg.randint(1, 100, (length,), generator=gen),
                         fg.where(kind == 1, fg.randint(100, 200, (length,), generator=gen),
                                  fg.randint(200, VOCAB, (length,), generator=gen)))
        seqs.append(words)
        labels.append(int((kind == 0).sum().item() > (kind == 1).sum().item()))
    return seqs, fg.tensor(labels)


class Recurrent(nn.Module):
    """The GPU stage: an LSTM over the packed embedded batch, and a classifier."""

    def __init__(self, emb, hidden):
        super().__init__()
        self.lstm = nn.LSTM(emb, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 2)

    def forward(self, embedded, lengths):
        packed = pack_padded_sequence(embedded, lengths, batch_first=True, enforce_sorted=False)
        _, (h_n, _) = self.lstm(packed)
        return self.head(h_n[-1])


def batch(seqs, labels, idx):
    chosen = [seqs[i] for i in idx]
    return (pad_sequence(chosen, batch_first=True, padding_value=PAD),
            fg.tensor([len(s) for s in chosen]), labels[fg.tensor(idx)])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda" if fg.cuda.is_available() else "cpu",
                   help="device of the recurrent stage (the embedding stays on the CPU)")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--quick", action="store_true", help="a few steps only (smoke test)")
    args = p.parse_args(argv)
    device = fg.device(args.device)
    fg.manual_seed(0)
    gen = fg.Generator().manual_seed(0)
    train_x, train_y = make_data(300 if args.quick else 4000, gen)
    test_x, test_y = make_data(100 if args.quick else 1000, gen)

    embed = nn.Embedding(VOCAB, 32, padding_idx=PAD)   # CPU: 20000 x 32 floats stay in host memory
    net = Recurrent(32, 64).to(device)                 # GPU stage
    # One optimizer over both stages: each parameter's Adam state lives on its device.
    opt = fg.optim.Adam(list(embed.parameters()) + list(net.parameters()), lr=5e-3)
    loss_fn = nn.CrossEntropyLoss()

    def step(x, lengths, y):
        logits = net(embed(x).to(device), lengths)     # the differentiable CPU -> GPU copy
        loss = loss_fn(logits, y.to(device))
        opt.zero_grad()
        loss.backward()                                 # ... and its GPU -> CPU gradient
        opt.step()
        return loss

    # What the per-stage choice costs: the copies of one training step.
    x, lengths, y = batch(train_x, train_y, list(range(64)))
    with fg.cuda.transfers() as log:
        step(x, lengths, y)
    print(f"transfers per step ({device}):\n{log}")

    start, steps, losses = time.perf_counter(), 0, []
    for _ in range(1 if args.quick else args.epochs):
        order = fg.randperm(len(train_x), generator=gen).tolist()
        for i in range(0, len(order), 64):
            x, lengths, y = batch(train_x, train_y, order[i:i + 64])
            with fg.cuda.strict_transfers():            # no hidden .item() syncs in here
                losses.append(step(x, lengths, y).detach())
            steps += 1
            if args.quick and steps >= 3:
                break
        print(f"loss {fg.stack(losses[-10:]).mean().item():.4f}")  # one copy per epoch
    with fg.no_grad():
        x, lengths, y = batch(test_x, test_y, list(range(len(test_x))))
        pred = net(embed(x).to(device), lengths).argmax(1).cpu()
        acc = (pred == y).float().mean().item()
    print(f"test accuracy {acc:.4f} after {steps} steps ({time.perf_counter() - start:.1f} s)")
    return acc, log


if __name__ == "__main__":
    main()
