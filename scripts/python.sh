#!/usr/bin/env bash
# Runs the Python interpreter that has PyTorch (Debian's python3-torch lives under /usr/bin/python3,
# which may not be the first python3 on PATH). Override with DIFFT_PYTHON.
exec "${DIFFT_PYTHON:-/usr/bin/python3}" "$@"
