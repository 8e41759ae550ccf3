"""fastgrad's main demo: tensors, broadcasting, reductions and a least-squares fit."""

import fastgrad as fg

fg.manual_seed(0)
x = fg.randn(256, 3)
true_w = fg.tensor([[2.0], [-1.0], [0.5]])
y = x @ true_w + 0.01 * fg.randn(256, 1)

# Solve the normal equations with matmul and a few Gauss-Seidel-free steps of
# gradient descent written with plain tensor ops.
w = fg.zeros(3, 1)
for step in range(200):
    grad = x.T @ (x @ w - y) / x.shape[0]
    w -= 0.5 * grad
print("fitted weights:", w.flatten().tolist())
print("error:", (w - true_w).abs().max().item())
assert (w - true_w).abs().max().item() < 0.01

a = fg.arange(12).reshape(3, 4)
print(a)
print("row sums", a.sum(dim=1), "softmax", fg.softmax(a.float(), dim=1)[0])
print("masked", a[a % 2 == 0])
