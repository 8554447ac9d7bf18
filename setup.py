from setuptools import setup; setup()  # noqa: E702 -- all metadata lives in setup.cfg
