"""Benchmarks for sellerops, run on demand (`make bench`, `python -m bench [NAME]`), never in the
test suite. Each benchmark prints one line with its figure and target; the full run prints a JSON
object with every figure and writes it to bench/results.json.

Benchmarks that need the embedded local stack run in their own subprocess: the moto server,
`chalicelib.core.observability.OUTCOMES` and the handlers' cached adapters are process-global.
"""
