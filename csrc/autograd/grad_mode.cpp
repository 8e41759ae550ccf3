#include "autograd/grad_mode.h"

namespace fastgrad::autograd {

namespace {
thread_local bool t_grad_enabled = true;
}

thread_local bool t_anomaly = false;
bool grad_enabled() { return t_grad_enabled; }
bool anomaly_enabled() { return t_anomaly; }
void set_anomaly_enabled(bool on) { t_anomaly = on; }
void set_grad_enabled(bool on) { t_grad_enabled = on; }

}  // namespace fastgrad::autograd
