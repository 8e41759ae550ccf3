"""Variable-length sequence classification with packed sequences.

Each sequence is a random string of the tokens a/b/c of length 2..30; the label
says whether it holds more a's than b's. An Embedding + bidirectional GRU reads
the *packed* batch, so padding never enters the recurrence.

    python examples/packed_classifier.py            # full training
    python examples/packed_classifier.py --quick    # a few steps (CI smoke run)
"""

import argparse
import time

from tqdm import tqdm

import fastgrad as fg
from fastgrad import nn
from fastgrad.nn.utils.rnn import pack_padded_sequence, pad_sequence

PAD = 0  # token ids: 0 pad, 1 a, 2 b, 3 c


def make_data(n, gen):
    seqs, labels = [], []
    lengths = fg.randint(2, 31, (n,), generator=gen).tolist()
    for length in lengths:
        s = fg.randint(1, 4, (length,), generator=gen)
        seqs.append(s)
        labels.append(int((s == 1).sum().item() > (s == 2).sum().item()))
    return seqs, fg.tensor(labels)


class Classifier(nn.Module):
    def __init__(self, vocab=4, emb=16, hidden=32):
        super().__init__()
        self.embed = nn.Embedding(vocab, emb, padding_idx=PAD)
        self.rnn = nn.GRU(emb, hidden, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * hidden, 2)

    def forward(self, padded, lengths):
        packed = pack_padded_sequence(self.embed(padded), lengths, batch_first=True,
                                      enforce_sorted=False)
        _, h_n = self.rnn(packed)  # (2, N, hidden): last valid step of each direction
        return self.head(fg.cat([h_n[0], h_n[1]], dim=1))


def batch(seqs, labels, idx):
    chosen = [seqs[i] for i in idx]
    return pad_sequence(chosen, batch_first=True, padding_value=PAD), \
        fg.tensor([len(s) for s in chosen]), labels[fg.tensor(idx)]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--quick", action="store_true", help="a few steps only (smoke test)")
    args = p.parse_args(argv)
    fg.manual_seed(0)
    gen = fg.Generator().manual_seed(0)
    train_x, train_y = make_data(2000, gen)
    test_x, test_y = make_data(500, gen)
    model = Classifier()
    opt = fg.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = nn.CrossEntropyLoss()
    start, steps = time.perf_counter(), 0
    for epoch in (bar := tqdm(range(1 if args.quick else args.epochs), disable=args.quick)):
        model.train()
        order = fg.randperm(len(train_x), generator=gen).tolist()
        for i in range(0, len(order), 64):
            x, lengths, y = batch(train_x, train_y, order[i:i + 64])
            loss = loss_fn(model(x, lengths), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            steps += 1
            if args.quick and steps >= 3:
                break
        bar.set_postfix(loss=f"{loss.item():.3f}")
    model.eval()
    with fg.no_grad():
        x, lengths, y = batch(test_x, test_y, list(range(len(test_x))))
        acc = (model(x, lengths).argmax(1) == y).float().mean().item()
    print(f"test accuracy {acc:.4f} after {steps} steps ({time.perf_counter() - start:.1f} s)")
    return acc


if __name__ == "__main__":
    main()
