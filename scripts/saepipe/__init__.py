"""Library behind the workflow's scripts: one module per concern.

Modules import their heavy dependencies (TensorFlow, scikit-learn, matplotlib) themselves, so a
step only needs the packages of the modules it uses.
"""
