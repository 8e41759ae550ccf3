"""NeuralNetClassifier and NeuralNetRegressor: target handling on top of NeuralNet."""

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from .. import nn
from ._base import NeuralNet

_COMMON_DOC = """
    Parameters
    ----------
    module : nn.Module instance, module class or factory, default=None
        What to train. A class or factory is called with the ``module__*``
        parameters, plus ``n_features_in`` and ``n_outputs`` taken from the data
        when its signature has those names and they are not given; an instance
        is deep-copied at each fit (the given one is never trained). None trains
        `MLPModule` (one hidden layer of 64 ReLU units; ``module__hidden_units``
        and ``module__dropout`` change it).
    criterion : loss module class or instance, default=None
        {criterion_doc} ``criterion__*`` parameters go to the class.
    optimizer : optimizer class, default=fastgrad.optim.Adam
        Called as ``optimizer(params, lr=lr, **optimizer__*)``.
    lr : float, default=0.01
    max_epochs : int, default=10
        Passes over the data in `fit`; `partial_fit` runs one.
    batch_size : int, default=64
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, shuffling and dropout. Fitting seeds fastgrad's
        global generator only temporarily and restores it.
    verbose : int, default=0
        Print the training loss after each epoch when > 0.
    **kwargs
        ``module__*``, ``criterion__*`` and ``optimizer__*`` parameters
        (skorch's convention); they take part in get_params/set_params, clone
        and grid searches.

    Attributes
    ----------
    module_, criterion_, optimizer_ : the trained module, the loss and the optimizer.
    n_features_in_ : int
    feature_names_in_ : ndarray of str, when X has string column names.
    loss_curve_ : list of float, the mean training loss of each epoch.
    n_iter_ : int, epochs run so far.
"""


_CHECKS_DOC = """
    Passes every check of scikit-learn's ``check_estimator``, none expected to
    fail (``tests/test_sklearn.py``). Two are skipped by scikit-learn itself in
    a plain run: ``check_array_api_input`` unless ``SCIPY_ARRAY_API=1`` is set
    before scipy is imported (the tests run it so, in a subprocess), and the
    ``*_data_not_an_array`` check when pandas is not installed.
"""


class NeuralNetClassifier(ClassifierMixin, NeuralNet):
    """A fastgrad module as a scikit-learn classifier.

    The module maps float32 features of shape (n_samples, n_features) to
    logits of shape (n_samples, n_classes); `predict_proba` is their softmax.
    Labels may be any sortable values; ``classes_`` holds them in sorted order.
    Multilabel targets are not supported.

    """

    __doc__ += _CHECKS_DOC + _COMMON_DOC.format(criterion_doc="None means nn.CrossEntropyLoss; it receives "
                                  "the logits and the\n        class indices (int64).")
    _default_criterion = nn.CrossEntropyLoss

    def _encode(self, X, y, reset):
        X, y = validate_data(self, X, y, reset=reset, dtype=np.float32, order="C")
        check_classification_targets(y)  # y is 1-d here: binary or multiclass
        return X, y

    def _indices(self, y):
        idx = np.searchsorted(self.classes_, y)
        idx = np.minimum(idx, len(self.classes_) - 1)
        unseen = self.classes_[idx] != y
        if unseen.any():
            raise ValueError(f"{type(self).__name__}: y contains labels not in classes_ "
                             f"{self.classes_.tolist()}: {np.unique(y[unseen]).tolist()}")
        return idx.astype(np.int64)

    def _set_classes(self, classes):
        classes = np.unique(classes)
        if len(classes) < 2:
            raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes in "
                             f"the data, but the data contains only one class: {classes.tolist()[0]!r}")
        self.classes_ = classes

    def fit(self, X, y):
        """Trains a freshly initialised module for ``max_epochs`` epochs."""
        X, y = self._encode(X, y, reset=True)
        self._set_classes(y)
        self._initialize(X.shape[1], len(self.classes_))
        return self._train(X, self._indices(y), self.max_epochs)

    def partial_fit(self, X, y, classes=None):
        """One epoch over (X, y); the first call initialises the module and
        needs ``classes`` (all labels that will ever be seen)."""
        first = not hasattr(self, "module_")
        if first and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        if not first and classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"`classes={np.unique(classes).tolist()}` is not the same as on the "
                             f"last call to partial_fit, was: {self.classes_.tolist()}")
        X, y = self._encode(X, y, reset=first)
        if first:
            self._set_classes(classes)
            self._initialize(X.shape[1], len(self.classes_))
        return self._train(X, self._indices(y), 1)

    def predict_proba(self, X):
        logits = self._forward(X)
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def predict_log_proba(self, X):
        logits = self._forward(X)
        shifted = logits - logits.max(axis=1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))

    def predict(self, X):
        logits = self._forward(X)  # first: raises NotFittedError before fit
        return self.classes_[logits.argmax(axis=1)]


class NeuralNetRegressor(RegressorMixin, NeuralNet):
    """A fastgrad module as a scikit-learn regressor.

    The module maps float32 features to outputs of shape (n_samples, n_targets);
    a 1-d y trains one output and `predict` returns a 1-d array, a 2-d y one
    output per column (multi-output regression).

    """

    __doc__ += _CHECKS_DOC + _COMMON_DOC.format(criterion_doc="None means nn.MSELoss; it receives the outputs "
                                  "and float32 targets\n        of shape (n_samples, n_targets).")
    _default_criterion = nn.MSELoss

    def _targets(self, X, y, reset):
        X, y = validate_data(self, X, y, reset=reset, dtype=np.float32, order="C",
                             multi_output=True, y_numeric=True)
        y = np.ascontiguousarray(y, dtype=np.float32).reshape(len(y), -1)
        return X, y

    def fit(self, X, y):
        """Trains a freshly initialised module for ``max_epochs`` epochs."""
        X, y = self._targets(X, y, reset=True)
        self.n_outputs_ = y.shape[1]
        self._initialize(X.shape[1], self.n_outputs_)
        return self._train(X, y, self.max_epochs)

    def partial_fit(self, X, y):
        """One epoch over (X, y); the first call initialises the module."""
        first = not hasattr(self, "module_")
        X, y = self._targets(X, y, reset=first)
        if first:
            self.n_outputs_ = y.shape[1]
            self._initialize(X.shape[1], self.n_outputs_)
        elif y.shape[1] != self.n_outputs_:
            raise ValueError(f"{type(self).__name__}: y has {y.shape[1]} targets, but the model "
                             f"was fitted with {self.n_outputs_}")
        return self._train(X, y, 1)

    def predict(self, X):
        out = self._forward(X)
        return out.ravel() if out.shape[1] == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
