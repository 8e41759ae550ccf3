"""The module an estimator trains when none is given."""

from .. import nn


class MLPModule(nn.Module):
    """Linear -> ReLU (-> Dropout) per hidden layer, then a Linear to `n_outputs`.

    The estimators fill in `n_features_in` and `n_outputs` from the data (they
    do so for any module factory whose signature has these names).
    """

    def __init__(self, n_features_in, n_outputs, hidden_units=(64,), dropout=0.0):
        super().__init__()
        widths = (hidden_units,) if isinstance(hidden_units, int) else tuple(hidden_units)
        layers, width = [], n_features_in
        for h in widths:
            layers += [nn.Linear(width, h), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, n_outputs))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)
