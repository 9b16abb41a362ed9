"""policybot: the library behind the school policy and safeguarding assistant.

Ingestion -> per-school FAISS + BM25 index -> retrieval -> extractive answers. Never imports Rasa.
"""

__version__ = "0.1.0"
