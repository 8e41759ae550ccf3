"""fastgrad.nn: modules, parameters, functional ops, init and utils (torch.nn)."""

from .parameter import Parameter  # noqa: F401
from .modules import *  # noqa: F401,F403
from . import functional, init, parallel, utils  # noqa: F401
