"""A Python client for Amaan's research API: differentially private counts of helpline cases
as pandas DataFrames.

    from amaan_client import Amaan

    with Amaan("https://amaan.example", key) as amaan:
        cost = amaan.estimate("helpline-cases", ["gender", "year"], epsilon=0.1)
        table = amaan.count("helpline-cases", ["gender", "year"], epsilon=0.1)
"""

from amaan_client.client import Amaan, Estimate
from amaan_client.errors import AmaanError, ApiError, ConnectionFailed

__all__ = ["Amaan", "AmaanError", "ApiError", "ConnectionFailed", "Estimate"]
