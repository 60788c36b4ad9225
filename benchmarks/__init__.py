"""refurb's benchmarks: `python -m benchmarks` (or `make bench`) writes benchmarks/RESULTS.md.

Each figure is reported against its budget from SPEC §12 and as a ratio to a floor measured in the
same run on the same machine (the least work that does the same job: `python -c pass` for start-up,
a bare `BEGIN; INSERT; COMMIT` for a transition, a bare scan-and-hash for the audit).  Absolute
times depend on the machine; the ratios say how much refurb adds.  Not part of the test suite.
"""
