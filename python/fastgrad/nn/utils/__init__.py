"""nn.utils: sequence packing and gradient clipping."""

from . import rnn  # noqa: F401
from .clip_grad import *  # noqa: F401,F403
