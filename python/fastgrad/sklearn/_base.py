"""The shared part of the estimators: parameters (skorch-style prefixes),
building module/criterion/optimizer, the training loop and batched forward."""

import contextlib
import copy
import inspect
import numbers

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

import fastgrad as fg

from .. import nn, optim
from ._module import MLPModule

_PREFIXES = ("module__", "criterion__", "optimizer__")
_PREDICT_CHUNK = 4096  # rows per forward pass at prediction time
_SEED_RANGE = 2**31 - 1


class NeuralNet(BaseEstimator):
    """Base of `NeuralNetClassifier` and `NeuralNetRegressor` (see their docs)."""

    _default_criterion = None  # set by the subclasses

    def __init__(self, module=None, *, criterion=None, optimizer=optim.Adam, lr=0.01,
                 max_epochs=10, batch_size=64, random_state=None, verbose=0, **kwargs):
        self.module = module
        self.criterion = criterion
        self.optimizer = optimizer
        self.lr = lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.random_state = random_state
        self.verbose = verbose
        self._extra_params = dict(kwargs)

    # ---- parameters -------------------------------------------------------------
    # Besides the signature's parameters, any keyword is kept (module__*,
    # criterion__* and optimizer__* are meant) in a private dict (scikit-learn
    # wants __init__ to set only its signature's attributes) and takes part in
    # get_params, set_params and clone; a name without one of those prefixes is
    # reported by fit, as scikit-learn wants __init__ and set_params never to raise.

    def get_params(self, deep=True):
        params = super().get_params(deep)
        params.update(sorted(self._extra_params.items()))
        return params

    def set_params(self, **params):
        own = set(self._get_param_names())
        self._extra_params.update({k: params.pop(k) for k in list(params) if k not in own})
        return super().set_params(**params) if params else self

    def _prefixed(self, prefix):
        return {k[len(prefix):]: v for k, v in sorted(self._extra_params.items())
                if k.startswith(prefix)}

    def _check_hyperparameters(self):
        name = type(self).__name__
        unknown = sorted(k for k in self._extra_params if not k.startswith(_PREFIXES))
        if unknown:
            raise TypeError(f"{name}: unknown parameter(s) {', '.join(map(repr, unknown))}; "
                            "extra parameters start with module__, criterion__ or optimizer__")
        if isinstance(self.lr, bool) or not isinstance(self.lr, numbers.Real) or not self.lr > 0:
            raise ValueError(f"{name}: lr must be a positive number, got {self.lr!r}")
        for key in ("max_epochs", "batch_size"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
                raise ValueError(f"{name}: {key} must be a positive int, got {v!r}")

    # ---- building the parts -----------------------------------------------------

    def _build_module(self, n_features_in, n_outputs):
        name = type(self).__name__
        module = MLPModule if self.module is None else self.module
        params = self._prefixed("module__")
        if isinstance(module, nn.Module):
            if params:
                raise ValueError(f"{name}: module__ parameters ({', '.join(sorted(params))}) "
                                 "need a module class or factory, not a module instance")
            return copy.deepcopy(module)  # fit never touches the given instance
        if not callable(module):
            raise TypeError(f"{name}: module must be an nn.Module, a module class or a factory "
                            f"returning one, got {type(module).__name__}")
        try:
            signature = inspect.signature(module).parameters
        except (TypeError, ValueError):
            signature = {}
        for key, value in (("n_features_in", n_features_in), ("n_outputs", n_outputs)):
            if key in signature and key not in params:
                params[key] = value
        built = module(**params)
        if not isinstance(built, nn.Module):
            raise TypeError(f"{name}: module {module!r} returned a {type(built).__name__}, "
                            "expected an nn.Module")
        return built

    def _build_criterion(self):
        criterion = self._default_criterion if self.criterion is None else self.criterion
        params = self._prefixed("criterion__")
        if isinstance(criterion, nn.Module):
            return copy.deepcopy(criterion)
        if not callable(criterion):
            raise TypeError(f"{type(self).__name__}: criterion must be a loss module, class or "
                            f"callable, got {type(criterion).__name__}")
        return criterion(**params)

    def _initialize(self, n_features_in, n_outputs):
        self._check_hyperparameters()
        # Every random draw of training (init, shuffles, dropout) comes from this
        # generator, so a fixed random_state gives the same model every fit.
        seed = check_random_state(self.random_state).randint(_SEED_RANGE)
        self._rng = np.random.RandomState(seed)
        with self._fastgrad_seed():
            self.module_ = self._build_module(n_features_in, n_outputs)
        self.criterion_ = self._build_criterion()
        self.optimizer_ = self.optimizer(self.module_.parameters(), lr=self.lr,
                                         **self._prefixed("optimizer__"))
        self.loss_curve_ = []
        self.n_iter_ = 0

    @contextlib.contextmanager
    def _fastgrad_seed(self):
        """Runs with fastgrad's global generator seeded from our own, and
        restores it afterwards: fitting leaves the user's random stream alone."""
        state = fg.get_rng_state()
        fg.manual_seed(int(self._rng.randint(_SEED_RANGE)))
        try:
            yield
        finally:
            fg.set_rng_state(state)

    # ---- training and inference ------------------------------------------------

    def _train(self, X, y, epochs):
        """`epochs` passes of minibatch training over float32 X and targets y."""
        self._check_hyperparameters()
        n = X.shape[0]
        self.module_.train()
        for _ in range(epochs):
            order = self._rng.permutation(n)
            total = 0.0
            with self._fastgrad_seed():  # dropout masks
                for start in range(0, n, self.batch_size):
                    idx = order[start:start + self.batch_size]
                    xb, yb = fg.from_numpy(X[idx]), fg.from_numpy(y[idx])
                    self.optimizer_.zero_grad()
                    loss = self.criterion_(self.module_(xb), yb)
                    loss.backward()
                    self.optimizer_.step()
                    total += loss.item() * len(idx)
            self.loss_curve_.append(total / n)
            self.n_iter_ += 1
            if self.verbose:
                print(f"epoch {self.n_iter_:4d}  train loss {total / n:.5f}")
        return self

    def _forward(self, X):
        """The module's outputs for X (eval mode, no graph), as float64 numpy."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float32, order="C")
        self.module_.eval()
        outs = []
        with fg.no_grad():
            for start in range(0, X.shape[0], _PREDICT_CHUNK):
                out = self.module_(fg.from_numpy(X[start:start + _PREDICT_CHUNK]))
                outs.append(out.numpy().astype(np.float64))
        return np.concatenate(outs)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False  # a fixed random_state gives the same model
        return tags
