"""Project tooling (evaluation, benchmarks) that is not part of the installed library."""
