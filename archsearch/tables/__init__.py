"""Tabulated benchmarks shipped with archsearch (data): ``NAME.csv.gz`` files written by
``archsearch bench tabulate`` and read by :func:`archsearch.bench.tabulate.read_table`."""
