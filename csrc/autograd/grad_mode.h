// Grad mode: thread-local, like PyTorch. Ops record backward nodes only when
// it is on and an input requires grad.
#pragma once

namespace fastgrad::autograd {

bool grad_enabled();
void set_grad_enabled(bool on);

// Anomaly mode (detect_anomaly): nodes keep the full Python stack of their
// forward call and the engine checks every gradient for NaN/Inf.
bool anomaly_enabled();
void set_anomaly_enabled(bool on);

class GradModeGuard {
 public:
  explicit GradModeGuard(bool on) : prev_(grad_enabled()) { set_grad_enabled(on); }
  ~GradModeGuard() { set_grad_enabled(prev_); }
  GradModeGuard(const GradModeGuard&) = delete;
  GradModeGuard& operator=(const GradModeGuard&) = delete;

 private:
  bool prev_;
};

}  // namespace fastgrad::autograd
