"""synthpriv: release differentially private synthetic versions of sensitive tables."""

__version__ = "0.1.0"
