"""Monitoring: what happens to a model after it is deployed.

``logstore`` owns the prediction log's files (serving writes through it,
monitoring reads through it). Monitoring never imports :mod:`glmops.serving`.
"""
