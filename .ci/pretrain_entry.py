"""Entry point for launchers that take a script path (torchrun on a machine where the package is on PYTHONPATH
but not installed, as in .ci/gpu): the same as the `mmearth_pretrain` console script."""
from mmearth_nb.launch import mmearth_pretrain

if __name__ == '__main__': mmearth_pretrain()
