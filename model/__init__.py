"""rankship model pipeline: data -> train -> optimize -> evaluate -> package.

Importing this package must stay cheap and TensorFlow-free: the serving runtime imports
`model.text.tokenizer` from a separate virtualenv that has no TensorFlow.
"""
