"""`python -m model.bench`: the whole-pipeline benchmark (model/bench/pipeline.py)."""

from model.bench.pipeline import main

raise SystemExit(main())
