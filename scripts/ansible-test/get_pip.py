"""Stands in for the get-pip.py bootstrap script that ansible-test downloads from its own CI file server
(which this machine does not reach) to put pip into the empty virtualenvs it makes for its sanity tests.
scripts/ansible-test.sh puts it where ansible-test looks for a cached copy (~/.ansible/test/cache/
get_pip_X_Y.py). ansible-test runs it with the running interpreter of the new virtualenv and the options
of get-pip (pip==X.Y, --no-setuptools, --no-wheel); it installs Python's own bundled pip (ensurepip), then
the pip that ansible-test asks for from PyPI."""

import subprocess
import sys

# get-pip's own options, which pip does not take.
GET_PIP_ONLY = ('--no-setuptools', '--no-wheel')


def main():
    args = [a for a in sys.argv[1:] if a not in GET_PIP_ONLY]
    subprocess.check_call([sys.executable, '-m', 'ensurepip', '--default-pip'], stdout=subprocess.DEVNULL)
    subprocess.check_call([sys.executable, '-m', 'pip', 'install', '--quiet'] + args)


if __name__ == '__main__':
    main()
