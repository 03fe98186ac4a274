"""Documents generated from the code (`python -m docs.asyncapi`)."""
