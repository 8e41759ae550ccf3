"""fastgrad's main demo: tensors, broadcasting, reductions and a least-squares fit."""

import fastgrad as fg

fg.manual_seed(0)
x = fg.randn(256, 3)
true_w = fg.tensor([[2.0], [-1.0], [0.5]])
y = x @ true_w + 0.01 * fg.randn(256, 1)

# Least squares by gradient descent; autograd computes the gradient.
w = fg.zeros(3, 1, requires_grad=True)
for step in range(200):
    loss = ((x @ w - y) ** 2).mean()
    loss.backward()
    with fg.no_grad():
        w -= 0.5 * w.grad
    w.grad = None
print("fitted weights:", w.detach().flatten().tolist(), "loss", loss.item())
print("error:", (w - true_w).abs().max().item())
assert (w - true_w).abs().max().item() < 0.01

a = fg.arange(12).reshape(3, 4)
print(a)
print("row sums", a.sum(dim=1), "softmax", fg.softmax(a.float(), dim=1)[0])
print("masked", a[a % 2 == 0])
