"""djbuild: declarative route modules in, a deployable Cloudflare Python Worker out."""

__version__ = "0.1.0"
