"""rankship serving runtime: the Seldon Core v1 model class, its contract, metrics and launcher.

Runs in its own virtualenv (`make serving-venv`, model/serving/requirements.txt): seldon-core 1.17.1
pins numpy<2 and protobuf<4, which TensorFlow 2.21 cannot share. Imports from `model` only the
stdlib/numpy modules `model.release.bundle` and `model.text.tokenizer`.
"""
