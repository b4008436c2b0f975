"""Static analysis of the bundle: which modules the entry reaches, and what they must not do."""
