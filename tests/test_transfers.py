"""The transfer ledger (fastgrad.cuda.transfers / strict_transfers). Real copies need
a CUDA build and a GPU (the `cuda` tests); on the CPU the ledger must stay silent and
harmless."""
import numpy as np
import pytest

import fastgrad as fg
from fastgrad.cuda import strict_transfers, transfers


def test_cpu_work_logs_nothing():
    with transfers() as log:
        x = fg.randn(4, 3, requires_grad=True)
        y = x.to("cpu").cpu() * 2
        y.sum().backward()
        assert y.sum().item() == pytest.approx(float(y.sum()))
        y.tolist()
    assert log.records == [] and log.count == 0 and log.nbytes == 0
    assert str(log) == "no copies between devices"


def test_strict_mode_allows_cpu_values_and_restores():
    x = fg.tensor([1.5])
    with strict_transfers():
        assert fg._C._strict_transfers()
        assert x.item() == 1.5 and bool(x) and x.tolist() == [1.5]
        with strict_transfers(False):
            assert not fg._C._strict_transfers()
        assert fg._C._strict_transfers()
    assert not fg._C._strict_transfers()


def test_logs_nest():
    with transfers() as outer:
        with transfers() as inner:
            pass
    assert outer.records == [] and inner.records == []


def test_summary_groups_records():
    log = fg.cuda.TransferLog()
    T = fg.cuda.Transfer
    log.records = [T("cpu", "cuda:0", 100, "", "a.py:1"), T("cpu", "cuda:0", 100, "", "a.py:1"),
                   T("cuda:0", "cpu", 4, "item()", "a.py:9")]
    assert log.summary() == [("cpu", "cuda:0", "a.py:1", "", 2, 200),
                             ("cuda:0", "cpu", "a.py:9", "item()", 1, 4)]
    text = str(log)
    assert "3 copies" in text and "a.py:9 [implicit: item()]" in text


@pytest.mark.cuda
def test_ledger_records_forward_backward_and_implicit_copies():
    emb = fg.nn.Embedding(10, 4)                         # CPU stage
    lin = fg.nn.Linear(4, 2).to("cuda")                  # GPU stage
    with transfers() as log:
        h = emb(fg.tensor([1, 2, 3])).to("cuda")         # 3*4 floats up
        loss = lin(h).sum()
        loss.backward()                                  # the gradient comes back down
        value = loss.item()                              # implicit: 4 bytes down
    assert isinstance(value, float)
    dirs = [(r.src.split(":")[0], r.dst.split(":")[0], r.nbytes, r.implicit) for r in log.records]
    assert ("cpu", "cuda", 48, "") in dirs
    assert ("cuda", "cpu", 48, "") in dirs
    assert ("cuda", "cpu", 4, "item()") in dirs
    assert all(r.where for r in log.records)


@pytest.mark.cuda
def test_strict_mode_rejects_implicit_copies():
    x = fg.ones(3, device="cuda")
    with strict_transfers():
        with pytest.raises(RuntimeError, match=r"item\(\): implicit copy of a 4-byte cuda"):
            x.sum().item()
        with pytest.raises(RuntimeError, match=r"tolist\(\)"):
            x.tolist()
        assert np.allclose(x.cpu().numpy(), 1)           # explicit copies are fine
