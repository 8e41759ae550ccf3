"""detect_anomaly: name the backward node that produced NaN/Inf and show where its
forward op was called (the full Python stack, captured while the mode is on)."""

from .. import _C
from .grad_mode import _GradModeContext


class detect_anomaly(_GradModeContext):
    _get = staticmethod(_C.is_anomaly_enabled)
    _set = staticmethod(_C._set_anomaly_enabled)

    def __init__(self, check_nan=True):
        self._mode = bool(check_nan)


class set_detect_anomaly(detect_anomaly):
    def __init__(self, mode, check_nan=True):
        self._mode = bool(mode) and check_nan
