"""sfv_jax: SFV motion reconstruction in JAX."""
__version__ = "0.1.0"
