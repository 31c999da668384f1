"""Canary analysis for rankers: measure canary against stable in Prometheus, decide, edit the stack settings.

How a decision is reached (all of it stateless, so that re-running an analysis can never skip a step):

1. The live SeldonDeployment must show the predictors, versions and weights of the stack settings and be
   `Available`; otherwise the analysis holds (metrics of a rollout that has not happened are never judged).
2. `failure_threshold` evaluations are measured, one every `interval` back from now, each over the `window`
   that ends there: requests, server errors, p99 latency and the score histogram of each version.
3. Each evaluation is `pass` (enough traffic, every check within its threshold), `fail` (enough traffic, a
   check out of bounds) or `insufficient` (too little traffic or nothing to compare).
4. The newest evaluation passes -> `promote` to the next step, or `complete` when that step is 100 %.
   All `failure_threshold` evaluations fail -> `rollback`. Anything else -> `hold`, with the reason.

Modules: `psi` (score drift), `queries` (PromQL), `prometheus` (HTTP client), `measure` (queries -> numbers),
`decide` (numbers -> decision, pure), `live` (live object vs settings, pure), `apply` (settings + manifests),
`report` (Markdown for the PR body), `analyze` (the whole run), `__main__` (CLI), `local/` + `demo` (the local
end-to-end harness with real Prometheus and real Seldon microservices).
"""
