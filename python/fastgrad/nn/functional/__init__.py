"""Functional forms of neural-network ops (torch.nn.functional).

One file per family; each lists its public names in __all__.
"""

from ._activation import *  # noqa: F401,F403
from ._linear import *  # noqa: F401,F403
from ._conv import *  # noqa: F401,F403
from ._pooling import *  # noqa: F401,F403
from ._norm import *  # noqa: F401,F403
from ._dropout import *  # noqa: F401,F403
from ._embedding import *  # noqa: F401,F403
from ._loss import *  # noqa: F401,F403
from ._attention import *  # noqa: F401,F403
from ._onehot import *  # noqa: F401,F403
