"""Question answering over one school's policy: ingest, index, retrieve, decide whether it answers, compose."""
