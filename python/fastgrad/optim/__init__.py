"""fastgrad.optim: optimizers with fused C++ steps, and lr_scheduler."""
