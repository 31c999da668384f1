"""Local end-to-end harness of the canary analysis: real Prometheus and Seldon microservices on 127.0.0.1.

Used by `make canary-demo` (`python -m infra.canary.demo`) and by the e2e tests in `tests/infra/canary/`. Nothing
here runs in a cluster: it stands in for one (see `cluster.py`) so that the analyzer itself runs unchanged.
"""
