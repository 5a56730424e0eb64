"""The ``procedura`` command line: the interface layer over :mod:`procedura_sdk`.

Importing this package is kept cheap (nothing but this docstring and the
version), so ``procedura --help`` costs little more than importing click.
"""

from .__about__ import __version__

__all__ = ["__version__"]
