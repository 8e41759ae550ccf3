"""fastgrad.sklearn: scikit-learn's own estimator checks, pipelines, grid search."""

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits, make_regression  # noqa: E402
from sklearn.model_selection import GridSearchCV, train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import fastgrad as fg  # noqa: E402
from fastgrad import nn, optim  # noqa: E402
from fastgrad.sklearn import MLPModule, NeuralNetClassifier, NeuralNetRegressor  # noqa: E402

ESTIMATORS = [
    NeuralNetClassifier(random_state=0),
    NeuralNetRegressor(random_state=0),
    # prefixed parameters, dropout, another optimizer and loss options
    NeuralNetClassifier(module__hidden_units=(16, 8), module__dropout=0.1, optimizer=optim.SGD,
                        optimizer__momentum=0.9, lr=0.05, criterion__label_smoothing=0.05,
                        max_epochs=8, batch_size=16, random_state=1),
    NeuralNetRegressor(module=MLPModule, module__hidden_units=32, optimizer=optim.AdamW,
                       optimizer__weight_decay=1e-3, max_epochs=15, random_state=2),
]


# Every check runs, none is expected to fail. check_array_api_input skips
# unless SCIPY_ARRAY_API=1 was set before scipy was imported: it runs in a
# subprocess below. The *_data_not_an_array checks need pandas (test extra).
@parametrize_with_checks(ESTIMATORS)
def test_sklearn_check_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", ["NeuralNetClassifier", "NeuralNetRegressor"])
def test_array_api_check_with_dispatch_enabled(estimator):
    code = (
        "from functools import partial\n"
        "from sklearn.utils.estimator_checks import check_array_api_input\n"
        f"from fastgrad.sklearn import {estimator} as E\n"
        "check_array_api_input('E', E(random_state=0), array_namespace='numpy',"
        " expect_only_array_outputs=False)\n"
        "print('ok')\n"
    )
    env = dict(os.environ, SCIPY_ARRAY_API="1")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)


def test_pipeline_on_digits(digits):
    Xtr, Xte, ytr, yte = digits
    pipe = make_pipeline(StandardScaler(), NeuralNetClassifier(max_epochs=20, random_state=0))
    assert pipe.fit(Xtr, ytr).score(Xte, yte) > 0.95
    proba = pipe.predict_proba(Xte)
    assert proba.shape == (len(Xte), 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(pipe.predict(Xte), proba.argmax(axis=1))
    np.testing.assert_allclose(np.exp(pipe.predict_log_proba(Xte)), proba, rtol=1e-10)
    clf = pipe[-1]
    assert clf.n_features_in_ == 64 and list(clf.classes_) == list(range(10))
    assert len(clf.loss_curve_) == clf.n_iter_ == 20
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]


def test_grid_search_over_lr_and_module_params(digits):
    Xtr, Xte, ytr, yte = digits
    grid = {"neuralnetclassifier__lr": [1e-4, 1e-2],
            "neuralnetclassifier__module__hidden_units": [8, 32]}
    search = GridSearchCV(make_pipeline(StandardScaler(),
                                        NeuralNetClassifier(max_epochs=4, random_state=0)),
                          grid, cv=2)
    search.fit(Xtr, ytr)
    assert len(search.cv_results_["params"]) == 4
    # lr=1e-4 for 4 epochs barely moves; lr=1e-2 learns
    assert search.best_params_["neuralnetclassifier__lr"] == 1e-2
    best = search.best_estimator_[-1]
    hidden = best.get_params()["module__hidden_units"]
    assert hidden == search.best_params_["neuralnetclassifier__module__hidden_units"]
    assert best.module_.net[0].out_features == hidden
    assert search.score(Xte, yte) > 0.9


def test_clone_and_params():
    est = NeuralNetClassifier(lr=0.1, module__hidden_units=5, optimizer__momentum=0.5,
                              optimizer=optim.SGD)
    params = est.get_params()
    assert params["lr"] == 0.1 and params["module__hidden_units"] == 5
    assert params["optimizer__momentum"] == 0.5 and params["optimizer"] is optim.SGD
    c = clone(est)
    assert c.get_params() == params and c is not est
    c.set_params(module__hidden_units=7, lr=0.2)
    assert c.get_params()["module__hidden_units"] == 7 and c.lr == 0.2
    assert est.get_params()["module__hidden_units"] == 5
    assert "NeuralNetClassifier(" in repr(est) and "lr=0.1" in repr(est)


def test_clone_of_fitted_estimator_is_unfitted():
    X = np.random.default_rng(0).normal(size=(20, 3))
    y = np.arange(20) % 2
    est = NeuralNetClassifier(max_epochs=1, random_state=0).fit(X, y)
    c = clone(est)
    assert not hasattr(c, "module_") and hasattr(est, "module_")


def test_module_instance_is_copied_not_trained():
    fg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 2))
    before = model[0].weight.detach().clone()
    X = np.random.default_rng(0).normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int)
    est = NeuralNetClassifier(model, max_epochs=5, random_state=0).fit(X, y)
    assert est.module_ is not model
    np.testing.assert_array_equal(model[0].weight.detach().numpy(), before.numpy())
    assert not np.array_equal(est.module_[0].weight.detach().numpy(), before.numpy())
    c = clone(est)
    assert c.module is not model and isinstance(c.module, nn.Sequential)


def test_module_factory_gets_data_dimensions():
    seen = {}

    def factory(n_features_in, n_outputs, width=4):
        seen.update(n_features_in=n_features_in, n_outputs=n_outputs, width=width)
        return nn.Linear(n_features_in, n_outputs)

    X = np.random.default_rng(0).normal(size=(30, 5))
    NeuralNetClassifier(factory, module__width=9, max_epochs=1).fit(X, np.arange(30) % 3)
    assert seen == {"n_features_in": 5, "n_outputs": 3, "width": 9}
    NeuralNetRegressor(factory, max_epochs=1).fit(X, np.zeros((30, 2)))
    assert seen["n_outputs"] == 2
    # an explicit value wins over the data's
    with pytest.raises(RuntimeError, match="linear"):
        NeuralNetRegressor(factory, module__n_features_in=4, max_epochs=1).fit(X, np.zeros(30))


def test_regressor_learns_and_shapes():
    X, y = make_regression(n_samples=200, n_features=4, noise=1.0, random_state=0)
    y = y / y.std()
    reg = NeuralNetRegressor(max_epochs=40, random_state=0).fit(X, y)
    assert reg.score(X, y) > 0.95
    assert reg.predict(X).shape == (200,) and reg.predict(X).dtype == np.float64
    Y = np.stack([y, -y], axis=1)
    multi = NeuralNetRegressor(max_epochs=5, random_state=0).fit(X, Y)
    assert multi.n_outputs_ == 2 and multi.predict(X).shape == (200, 2)
    with pytest.raises(ValueError, match="y has 1 targets, but the model was fitted with 2"):
        multi.partial_fit(X, y)


def test_partial_fit():
    X = np.random.default_rng(0).normal(size=(50, 4))
    y = np.where(X[:, 0] > 0, "pos", "neg")
    clf = NeuralNetClassifier(random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call to partial_fit"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[:25], y[:25], classes=["neg", "pos"])
    clf.partial_fit(X[25:], y[25:])
    assert clf.n_iter_ == 2 and len(clf.loss_curve_) == 2
    assert set(clf.predict(X)) <= {"neg", "pos"}
    with pytest.raises(ValueError, match="is not the same as on the last call"):
        clf.partial_fit(X, y, classes=["a", "b"])
    with pytest.raises(ValueError, match=r"labels not in classes_ \['neg', 'pos'\]: \['zero'\]"):
        clf.partial_fit(X[:2], np.array(["neg", "zero"]))
    reg = NeuralNetRegressor(random_state=0)
    reg.partial_fit(X, X[:, 0])
    reg.partial_fit(X, X[:, 0])
    assert reg.n_iter_ == 2


def test_random_state_is_deterministic_and_leaves_global_rng_alone():
    X = np.random.default_rng(0).normal(size=(60, 3))
    y = np.arange(60) % 3
    fg.manual_seed(123)
    expected = fg.rand(3)
    fg.manual_seed(123)
    a = NeuralNetClassifier(module__dropout=0.2, max_epochs=3, random_state=7).fit(X, y)
    assert fg.rand(3).tolist() == expected.tolist()
    b = NeuralNetClassifier(module__dropout=0.2, max_epochs=3, random_state=7).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    c = NeuralNetClassifier(module__dropout=0.2, max_epochs=3, random_state=8).fit(X, y)
    assert not np.array_equal(a.predict_proba(X), c.predict_proba(X))


def test_pickle_fitted(digits):
    Xtr, Xte, ytr, _ = digits
    clf = NeuralNetClassifier(max_epochs=2, random_state=0).fit(Xtr, ytr)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(Xte), clf.predict_proba(Xte))
    again.partial_fit(Xtr, ytr)  # training state (optimizer) survives too
    assert again.n_iter_ == 3


def test_criterion_forms():
    X = np.random.default_rng(0).normal(size=(30, 3))
    y = np.arange(30) % 2
    for crit in (nn.CrossEntropyLoss(label_smoothing=0.1), nn.CrossEntropyLoss):
        est = NeuralNetClassifier(criterion=crit, max_epochs=1, random_state=0).fit(X, y)
        assert isinstance(est.criterion_, nn.CrossEntropyLoss)
    est = NeuralNetRegressor(criterion=nn.L1Loss, max_epochs=1).fit(X, X[:, 0])
    assert isinstance(est.criterion_, nn.L1Loss)


def test_verbose_prints_epochs(capsys):
    X = np.random.default_rng(0).normal(size=(10, 2))
    NeuralNetRegressor(max_epochs=2, verbose=1).fit(X, X[:, 0])
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[1].startswith("epoch    2  train loss ")


def test_bad_parameters_raise_at_fit():
    X = np.random.default_rng(0).normal(size=(10, 2))
    y = np.arange(10) % 2
    est = NeuralNetClassifier(hidden=3)  # no error before fit, as scikit-learn wants
    with pytest.raises(TypeError, match="unknown parameter\\(s\\) 'hidden'; extra parameters start with module__"):
        est.fit(X, y)
    cases = [
        (dict(lr=-1.0), ValueError, "lr must be a positive number, got -1.0"),
        (dict(max_epochs=0), ValueError, "max_epochs must be a positive int, got 0"),
        (dict(batch_size=2.5), ValueError, "batch_size must be a positive int, got 2.5"),
        (dict(module=3), TypeError, "module must be an nn.Module, a module class or a factory"),
        (dict(module=lambda: 3), TypeError, "returned a int, expected an nn.Module"),
        (dict(module=nn.Linear(2, 2), module__bias=False), ValueError,
         r"module__ parameters \(bias\) need a module class or factory"),
        (dict(criterion="mse"), TypeError, "criterion must be a loss module, class or callable"),
    ]
    for params, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            NeuralNetClassifier(**params).fit(X, y)
    with pytest.raises(ValueError, match="NeuralNetClassifier needs samples of at least 2 classes in the data, but the data contains only one class: 0.0"):
        NeuralNetClassifier().fit(X, np.zeros(10))
    with pytest.raises(ValueError, match="y should be a 1d array"):
        NeuralNetClassifier().fit(X, np.eye(2)[y].astype(int))
    with pytest.raises(ValueError, match="X has 3 features, but NeuralNetClassifier is expecting 2"):
        NeuralNetClassifier(max_epochs=1).fit(X, y).predict(np.zeros((2, 3)))
