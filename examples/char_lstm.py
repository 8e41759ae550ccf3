"""A character-level LSTM language model trained on a short text shipped in the
repo (examples/data/lighthouse.txt); it samples text after training.

    python examples/char_lstm.py              # about a minute on 2 cores
    python examples/char_lstm.py --quick      # a few steps (CI smoke run)
"""

import argparse
import pathlib
import time

from tqdm import tqdm

import fastgrad as fg
from fastgrad import nn

TEXT = pathlib.Path(__file__).with_name("data") / "lighthouse.txt"


class CharLM(nn.Module):
    def __init__(self, vocab, emb=32, hidden=128, layers=2, dropout=0.1):
        super().__init__()
        self.embed = nn.Embedding(vocab, emb)
        self.lstm = nn.LSTM(emb, hidden, num_layers=layers, dropout=dropout, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x, state=None):
        out, state = self.lstm(self.embed(x), state)
        return self.head(out), state


def batches(data, seq_len, batch_size, gen):
    """Random windows of the text: inputs and next-character targets."""
    starts = fg.randint(0, data.numel() - seq_len - 1, (batch_size,), generator=gen)
    idx = starts[:, None] + fg.arange(seq_len + 1)[None, :]
    chunk = data[idx]
    return chunk[:, :-1], chunk[:, 1:]


def sample(model, stoi, itos, prompt, length, temperature=0.8, gen=None):
    model.eval()
    with fg.no_grad():
        x = fg.tensor([[stoi[c] for c in prompt]])
        logits, state = model(x)
        out = list(prompt)
        for _ in range(length):
            probs = fg.softmax(logits[0, -1] / temperature, dim=0)
            # inverse-CDF sampling with fastgrad's RNG
            u = fg.rand(1, generator=gen)
            nxt = min(int((probs.cumsum(0) < u).sum().item()), len(itos) - 1)
            out.append(itos[nxt])
            logits, state = model(fg.tensor([[nxt]]), state)
    return "".join(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--quick", action="store_true", help="a few steps only (smoke test)")
    args = p.parse_args(argv)
    steps = 5 if args.quick else args.steps
    fg.manual_seed(0)
    gen = fg.Generator().manual_seed(0)
    text = TEXT.read_text()
    itos = sorted(set(text))
    stoi = {c: i for i, c in enumerate(itos)}
    data = fg.tensor([stoi[c] for c in text])
    model = CharLM(len(itos))
    opt = fg.optim.Adam(model.parameters(), lr=4e-3)
    sched = fg.optim.lr_scheduler.OneCycleLR(opt, max_lr=4e-3, total_steps=steps)
    loss_fn = nn.CrossEntropyLoss()
    start = time.perf_counter()
    for step in (bar := tqdm(range(steps), disable=args.quick)):
        model.train()
        x, y = batches(data, 48, 32, gen)
        logits, _ = model(x)
        loss = loss_fn(logits.reshape(-1, len(itos)), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        bar.set_postfix(loss=f"{loss.item():.3f}")
    print(f"final training loss {loss.item():.3f} after {steps} steps "
          f"({time.perf_counter() - start:.1f} s)")
    print("sample:", repr(sample(model, stoi, itos, "The ", 200, gen=gen)))
    return loss.item()


if __name__ == "__main__":
    main()
