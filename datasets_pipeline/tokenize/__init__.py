"""Tokenized caches: tokenizer profiles, the cookbook's renderers over Arrow batches, and a
training loader. Plain Python over pyarrow and numpy (no Dagster)."""

from .loader import Batch, SupervisedLoader
from .profiles import Profile, ProfileError, load_profile, load_profiles
from .resolve import ResolvedTokenizer, resolve_tokenizer, train_profile_tokenizer
from .tokenize_table import TokenStats, ProfileTokenizer, tokenize_batches, tokenize_table

__all__ = [
    "Batch",
    "SupervisedLoader",
    "Profile",
    "ProfileError",
    "ResolvedTokenizer",
    "TokenStats",
    "ProfileTokenizer",
    "load_profile",
    "load_profiles",
    "resolve_tokenizer",
    "tokenize_batches",
    "tokenize_table",
    "train_profile_tokenizer",
]
