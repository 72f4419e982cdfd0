"""The one compiled part: the dev server's audio fan-out (compat/devserver/_fanout.c).

Optional: where it cannot be built (no C compiler or Python headers) the install goes on and the
dev server forwards audio in Python (compat.devserver.fanout.available() says which).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("compat.devserver._fanout", ["compat/devserver/_fanout.c"], optional=True)])
