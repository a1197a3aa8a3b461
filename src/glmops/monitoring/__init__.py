"""Monitoring: what happens to a model after it is deployed.

``logstore`` owns the prediction log's files (serving writes through it,
monitoring reads through it); ``drift`` compares a window of one feature (or
of the score) with the reference profile stored in the artifact. Monitoring
never imports :mod:`glmops.serving`.
"""
