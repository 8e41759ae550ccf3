"""scikit-learn estimators around fastgrad modules (needs scikit-learn >= 1.6:
``pip install "fastgrad[sklearn]"``).

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from fastgrad.sklearn import NeuralNetClassifier

    clf = make_pipeline(StandardScaler(),
                        NeuralNetClassifier(module__hidden_units=128, max_epochs=20))
    clf.fit(X_train, y_train).score(X_test, y_test)

Parameters follow skorch: ``module`` (class, factory or instance) with
``module__*`` arguments, ``criterion``/``criterion__*``,
``optimizer``/``optimizer__*``, ``lr``, ``max_epochs``, ``batch_size``; the
estimators clone, pickle, and work in Pipeline and GridSearchCV.
"""

from ._base import NeuralNet
from ._estimators import NeuralNetClassifier, NeuralNetRegressor
from ._module import MLPModule

__all__ = ["MLPModule", "NeuralNet", "NeuralNetClassifier", "NeuralNetRegressor"]
