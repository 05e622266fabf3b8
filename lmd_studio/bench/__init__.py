"""Benchmarks (`lmd bench …`) and the harness that drives the studio from outside (JACK, MIDI players).

The layer above gui and app and below cli: a benchmark builds and drives what the product builds, so no
product package imports it. One module per benchmark, each with `add_arguments(parser)` and `run(args)`
(listed in cli/cmd_bench.py); torch, Qt and mido load only inside `run`, so `lmd bench midi` stays light.
`harness/` holds the helper processes and the JACK dummy server the benchmarks, the tests and
`make screenshots` share.
"""
